"""The partner catalogue: list, search, filters, eligibility, partner page, coordinator edits."""

import csv
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from exchange.accounts.models import CEFR, DegreeLevel, LanguageResult
from exchange.catalogue.models import Agreement, AgreementStatus, AgreementType, Partner
from exchange.core.audit import AuditEvent
from exchange.extensions import db

from .conftest import csrf_token, login
from .factories import AgreementFactory, PartnerFactory, UnitFactory, coordinator, student
from .statements import StatementCounter, count_statements  # noqa: F401 - shared with other tests


@pytest.fixture
def student_client(app):
    unit = UnitFactory(code="CS")
    user = student(unit)
    client = app.test_client()
    login(client, user.email)
    client.user = user
    client.unit = unit
    return client


@pytest.fixture
def staff_client(app):
    user = coordinator()
    client = app.test_client()
    login(client, user.email)
    client.user = user
    return client


def names(html):
    import re

    return re.findall(r'<h2 class="h5 mb-0"><a href="[^"]+">([^<]+)</a>', html)


def test_students_see_only_active_partners_with_current_agreements(student_client):
    AgreementFactory(partner=PartnerFactory(name="Current U"))
    AgreementFactory(partner=PartnerFactory(name="Draft U"), status=AgreementStatus.DRAFT)
    AgreementFactory(
        partner=PartnerFactory(name="Expired U"), first_academic_year=2015, last_academic_year=2020
    )
    AgreementFactory(partner=PartnerFactory(name="Ended U"), status=AgreementStatus.TERMINATED)
    PartnerFactory(name="No Agreement U")
    from exchange.catalogue.models import PartnerStatus

    AgreementFactory(partner=PartnerFactory(name="Inactive U", status=PartnerStatus.INACTIVE))
    html = student_client.get("/catalogue/").get_data(as_text=True)
    assert names(html) == ["Current U"]
    # Staff-only switches do nothing for students.
    html = student_client.get("/catalogue/?all=1&inactive=1").get_data(as_text=True)
    assert names(html) == ["Current U"]


def test_staff_can_include_partners_without_agreements_and_inactive(staff_client):
    from exchange.catalogue.models import PartnerStatus

    AgreementFactory(partner=PartnerFactory(name="Current U"))
    PartnerFactory(name="No Agreement U")
    PartnerFactory(name="Inactive U", status=PartnerStatus.INACTIVE)
    assert names(staff_client.get("/catalogue/").get_data(as_text=True)) == ["Current U"]
    html = staff_client.get("/catalogue/?all=1").get_data(as_text=True)
    assert names(html) == ["Current U", "No Agreement U"]
    html = staff_client.get("/catalogue/?all=1&inactive=1").get_data(as_text=True)
    assert names(html) == ["Current U", "Inactive U", "No Agreement U"]


def test_free_text_search_covers_names_in_any_script_city_and_domain(student_client):
    from exchange.catalogue.operations import save_partner
    from exchange.catalogue.rules import PartnerData

    p, _ = save_partner(
        None,
        PartnerData(
            name="Peking University",
            name_native="北京大学",
            country="CN",
            city="Beijing",
            hei_id="pku.edu.cn",
        ),
        actor=None,
    )
    AgreementFactory(partner=p)
    AgreementFactory(partner=PartnerFactory(name="Other Place", city="Lyon", country="FR"))
    for query in ("peking", "北京", "BEIJING", "pku.edu", "PKU.EDU.CN"):
        html = student_client.get(f"/catalogue/?q={query}").get_data(as_text=True)
        assert names(html) == ["Peking University"], query
    html = student_client.get("/catalogue/?q=100%25").get_data(as_text=True)
    assert names(html) == []  # % is searched literally, not as a wildcard


def test_saving_the_same_languages_in_another_order_changes_nothing():
    from exchange.catalogue.operations import save_partner
    from exchange.catalogue.rules import PartnerData

    data = dict(name="Helsinki U", country="FI", hei_id="helsinki.fi")
    partner, _ = save_partner(None, PartnerData(**data, languages=["fi", "en"]), actor=None)
    # An edit form lists languages in its own order: that is no change to record.
    _, changed = save_partner(partner, PartnerData(**data, languages=["en", "fi"]), actor=None)
    assert changed == {} and partner.languages == "fi en"
    _, changed = save_partner(partner, PartnerData(**data, languages=["en"]), actor=None)
    assert changed == {"languages": ["fi en", "en"]}


def test_filters_country_continent_language(student_client):
    AgreementFactory(partner=PartnerFactory(name="Berlin U", country="DE", languages="de en"))
    AgreementFactory(partner=PartnerFactory(name="Tokyo U", country="JP", languages="ja"))
    AgreementFactory(partner=PartnerFactory(name="Lima U", country="PE", languages="es"))
    get = lambda q: names(student_client.get(f"/catalogue/?{q}").get_data(as_text=True))  # noqa: E731
    assert get("country=JP") == ["Tokyo U"]
    assert get("country=jp") == ["Tokyo U"]
    assert get("continent=EU") == ["Berlin U"]
    assert get("continent=SA") == ["Lima U"]
    assert get("language=en") == ["Berlin U"]
    assert get("language=es") == ["Lima U"]
    assert get("country=ZZ") == ["Berlin U", "Lima U", "Tokyo U"]  # unknown values are ignored


def test_filters_on_agreements(student_client):
    unit = student_client.unit
    other = UnitFactory(code="LAW")
    a = AgreementFactory(
        partner=PartnerFactory(name="Soft U"),
        subject_areas="0613 0541",
        type=AgreementType.BILATERAL,
        doctoral=False,
    )
    b = AgreementFactory(
        partner=PartnerFactory(name="Med U"),
        subject_areas="0912",
        type=AgreementType.SUMMER_SCHOOL,
        bachelor=False,
        doctoral=True,
        all_units=False,
    )
    b.units = [other]
    db.session.commit()
    get = lambda q: names(student_client.get(f"/catalogue/?{q}").get_data(as_text=True))  # noqa: E731
    assert get("subject=061") == ["Soft U"]  # a narrow field matches its detailed fields
    assert get("subject=0912") == ["Med U"]
    assert get("subject=05") == ["Soft U"]
    assert get("level=doctoral") == ["Med U"]
    assert get("type=summer_school") == ["Med U"]
    assert get(f"unit={other.id}") == ["Med U", "Soft U"]  # Soft U is open to all units
    assert get(f"unit={unit.id}") == ["Soft U"]
    assert a.id and get("subject=0613&type=summer_school") == []


def test_eligibility_reasons_and_filter(student_client):
    user = student_client.user  # bachelor, GPA 3.40/4, English B2, unit CS
    ok = AgreementFactory(
        partner=PartnerFactory(name="Fine U"),
        min_gpa=Decimal("3.0"),
        language="en",
        language_level=CEFR.B2,
        language_rank=4,
    )
    AgreementFactory(
        partner=PartnerFactory(name="German U"),
        language="de",
        language_level=CEFR.B1,
        language_rank=3,
    )
    AgreementFactory(partner=PartnerFactory(name="Strict U"), min_gpa=Decimal("3.5"))
    AgreementFactory(
        partner=PartnerFactory(name="Percent U"),
        min_gpa=Decimal("90"),
        min_gpa_scale=Decimal("100"),
    )
    AgreementFactory(partner=PartnerFactory(name="Masters U"), bachelor=False, master=True)
    AgreementFactory(
        partner=PartnerFactory(name="C1 U"), language="en", language_level=CEFR.C1, language_rank=5
    )
    law = UnitFactory(code="LAW")
    closed = AgreementFactory(partner=PartnerFactory(name="Law U"), all_units=False)
    closed.units = [law]
    db.session.commit()

    html = student_client.get("/catalogue/").get_data(as_text=True)
    assert "Open only to students of LAW." in html
    assert "Open to master students; you are a bachelor student." in html
    assert "Requires a GPA of at least 3.50/4; yours is 3.40/4." in html
    assert "Requires a GPA of at least 90/100; yours is 3.40/4." in html
    assert "Requires German at level B1; you have no German result on record." in html
    assert "Requires English at level C1; yours is B2." in html
    assert html.count("You meet the requirements.") == 1

    html = student_client.get("/catalogue/?eligible=1").get_data(as_text=True)
    assert names(html) == ["Fine U"]

    # Better results make more agreements reachable, in SQL and in the explanation alike.
    user.profile.language_results.append(LanguageResult(language="de", level=CEFR.B2))
    user.profile.gpa = Decimal("3.80")
    db.session.commit()
    html = student_client.get("/catalogue/?eligible=1").get_data(as_text=True)
    assert names(html) == ["Fine U", "German U", "Percent U", "Strict U"]
    assert ok.id


def test_a_partner_row_lists_only_the_agreements_the_filters_keep(student_client):
    """A partner with a met and an unmet agreement is listed under "eligible" (and under an
    agreement filter) with the agreements that made it match, not with all of them."""
    munich = PartnerFactory(name="Munich U")
    AgreementFactory(partner=munich, type=AgreementType.BILATERAL, months_per_mobility=10)
    AgreementFactory(
        partner=munich,
        type=AgreementType.SUMMER_SCHOOL,
        months_per_mobility=1,
        language="de",
        language_level=CEFR.B1,
        language_rank=3,
    )
    db.session.commit()

    html = student_client.get("/catalogue/").get_data(as_text=True)
    assert html.count('class="agreement-line"') == 2
    assert "Requires German at level B1" in html

    html = student_client.get("/catalogue/?eligible=1").get_data(as_text=True)
    assert names(html) == ["Munich U"]
    assert html.count('class="agreement-line"') == 1
    assert "Requires German at level B1" not in html
    assert "You do not meet the requirements" not in html
    assert "You meet the requirements." in html

    html = student_client.get("/catalogue/?type=summer_school").get_data(as_text=True)
    assert html.count('class="agreement-line"') == 1

    # The export of the list counts the same agreements as the list shows.
    def exported(query):
        text = student_client.get(f"/catalogue/export.csv?{query}").get_data(as_text=True)
        (row,) = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        return int(row["active_agreements"]), int(row["places_per_year"])

    assert exported("") == (2, 4)
    assert exported("eligible=1") == (1, 2)
    assert '<span class="fw-semibold">Summer school</span>' in html
    assert '<span class="fw-semibold">Bilateral student exchange</span>' not in html


def test_eligibility_without_a_profile(app):
    from .factories import UserFactory

    AgreementFactory(partner=PartnerFactory(name="Any U"), min_gpa=Decimal("2.0"))
    user = UserFactory()  # a student with no profile
    client = app.test_client()
    login(client, user.email)
    html = client.get("/catalogue/").get_data(as_text=True)
    assert "your degree level is not recorded" in html
    assert "your GPA is not recorded" in html
    assert names(client.get("/catalogue/?eligible=1").get_data(as_text=True)) == []


def test_sorting_and_pagination_keep_filters(student_client):
    for i in range(25):
        AgreementFactory(
            partner=PartnerFactory(name=f"Uni {i:02d}", country="FR" if i % 2 else "IT"),
            places_per_year=i,
        )
    html = student_client.get("/catalogue/?continent=EU&sort=places").get_data(as_text=True)
    assert names(html)[:3] == ["Uni 24", "Uni 23", "Uni 22"]
    assert "25 partners" in html
    assert "page=2" in html and "continent=EU" in html and "sort=places" in html
    page2 = student_client.get("/catalogue/?continent=EU&sort=places&page=2").get_data(as_text=True)
    assert names(page2) == ["Uni 04", "Uni 03", "Uni 02", "Uni 01", "Uni 00"]
    by_country = names(student_client.get("/catalogue/?sort=country").get_data(as_text=True))
    assert by_country[0] == "Uni 01" and by_country[-1] == "Uni 14"  # FR first, then IT
    beyond = student_client.get("/catalogue/?page=999").get_data(as_text=True)
    assert names(beyond)[0] == "Uni 20"  # a page past the end shows the last page
    assert student_client.get("/catalogue/?page=abc").status_code == 200


def test_agreement_lines_show_each_agreement_its_own_terms(student_client):
    """Lines are shaped once per page and share the texts they have in common: each line
    still shows its own terms, units (escaped) and subjects, on the list and the partner's
    page alike."""
    rd = UnitFactory(code="R&D")
    partner = PartnerFactory(name="Terms U")
    AgreementFactory(
        partner=partner,
        type=AgreementType.SUMMER_SCHOOL,
        places_per_year=1,
        months_per_mobility=1,
        bachelor=True,
        master=True,
        first_academic_year=2025,
        last_academic_year=2029,
        language="en",
        language_level=CEFR.B2,
        language_rank=4,
        min_gpa=Decimal("3.25"),
        subject_areas="0613 0421",
        all_units=False,
    ).units = [rd, student_client.unit]
    AgreementFactory(
        partner=partner,
        places_per_year=3,
        months_per_mobility=10,
        bachelor=False,
        master=True,
        language="de",
        language_level=CEFR.B2,
        language_rank=4,
        subject_areas="",
    )
    db.session.commit()

    for path in ("/catalogue/", f"/catalogue/partners/{partner.id}"):
        html = student_client.get(path).get_data(as_text=True)
        assert html.count('agreement-line"') == 2
        assert '<span class="fw-semibold">Summer school</span>' in html
        assert '<span class="fw-semibold">Bilateral student exchange</span>' in html
        assert '<span class="badge text-bg-light border">1 place a year</span>' in html
        assert '<span class="badge text-bg-light border">3 places a year</span>' in html
        assert '<span class="badge text-bg-light border">1 month</span>' in html
        assert '<span class="badge text-bg-light border">10 months</span>' in html
        assert '<span class="small text-body-secondary">Bachelor, Master</span>' in html
        assert '<span class="small text-body-secondary">Master</span>' in html
        assert '<span class="small text-body-secondary">2025/26–2029/30</span>' in html
        assert "Language: English B2 · " in html and "Language: German B2 · " in html
        assert "Minimum GPA 3.25/4 · " in html
        assert "Units: CS, R&amp;D" in html and "All units" in html
        assert '0613</abbr>, <abbr title="Law">0421</abbr>' in html
        # The first one is met; the second asks for a master student and German B2.
        assert html.count("You meet the requirements.") == 1
        assert "Open to master students; you are a bachelor student." in html
        assert "Requires German at level B2; you have no German result on record." in html


def test_a_language_without_a_level_is_shown_without_one(student_client):
    partner = PartnerFactory(name="Lang U")
    AgreementFactory(partner=partner, language="fr")
    db.session.commit()
    for path in ("/catalogue/", f"/catalogue/partners/{partner.id}"):
        resp = student_client.get(path)
        assert resp.status_code == 200
        assert "Language: French  · " in resp.get_data(as_text=True)


def test_most_places_counts_only_current_agreements_and_keeps_partners_without_any(
    staff_client,
):
    """The places sort joins each partner's current places, grouped once: drafts and past
    agreements do not count, partners without any stay in the list (staff), after the others,
    by name; the export keeps the same order."""
    AgreementFactory(
        partner=PartnerFactory(name="Draft U"), places_per_year=9
    ).status = AgreementStatus.DRAFT
    AgreementFactory(
        partner=PartnerFactory(name="Past U"),
        places_per_year=8,
        first_academic_year=2018,
        last_academic_year=2020,
    )
    few = PartnerFactory(name="Few U")
    AgreementFactory(partner=few, places_per_year=1)
    AgreementFactory(partner=few, places_per_year=2)
    AgreementFactory(partner=PartnerFactory(name="Many U"), places_per_year=4)
    PartnerFactory(name="Bare U")
    db.session.commit()

    html = staff_client.get("/catalogue/?all=1&sort=places").get_data(as_text=True)
    assert names(html) == ["Many U", "Few U", "Bare U", "Draft U", "Past U"]
    assert "5 partners" in html
    text = staff_client.get("/catalogue/export.csv?all=1&sort=places").get_data(as_text=True)
    exported = [row["name"] for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]
    assert exported == ["Many U", "Few U", "Bare U", "Draft U", "Past U"]


def test_empty_state_says_what_to_change(student_client):
    AgreementFactory(partner=PartnerFactory(name="Some U", country="DE"))
    html = student_client.get("/catalogue/?q=zzz&country=JP").get_data(as_text=True)
    assert "No partner matches these filters" in html
    assert "Remove the search “zzz”" in html and "Any country" in html


def test_partner_page_for_students(student_client):
    p = PartnerFactory(name="Visible U", website="https://visible.example.de")
    AgreementFactory(partner=p, places_per_year=3)
    AgreementFactory(partner=p, status=AgreementStatus.DRAFT, places_per_year=9)
    resp = student_client.get(f"/catalogue/partners/{p.id}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert html.count('data-testid="agreement"') == 1  # the draft is not shown
    assert "3 places a year" in html and "https://visible.example.de" in html
    assert "History" not in html and "New agreement" not in html


def test_inactive_or_unknown_partner_is_404_for_students(student_client):
    from exchange.catalogue.models import PartnerStatus

    p = PartnerFactory(status=PartnerStatus.INACTIVE)
    assert student_client.get(f"/catalogue/partners/{p.id}").status_code == 404
    assert student_client.get("/catalogue/partners/987654").status_code == 404


def test_students_cannot_edit(student_client):
    p = PartnerFactory()
    a = AgreementFactory(partner=p)
    token = csrf_token(student_client, "/catalogue/")
    assert student_client.get("/catalogue/partners/new").status_code == 403
    assert student_client.get(f"/catalogue/partners/{p.id}/edit").status_code == 403
    assert student_client.get(f"/catalogue/agreements/{a.id}/edit").status_code == 403
    assert student_client.get(f"/catalogue/agreements/{a.id}/document").status_code == 403
    resp = student_client.post(
        f"/catalogue/agreements/{a.id}/terminate", data={"reason": "x", "csrf_token": token}
    )
    assert resp.status_code == 403
    assert a.status is AgreementStatus.ACTIVE


def partner_form(token, **over):
    data = {
        "name": "Universität Heidelberg",
        "name_native": "",
        "country": "DE",
        "region": "Baden-Württemberg",
        "city": "Heidelberg",
        "website": "https://www.uni-heidelberg.de",
        "hei_id": "uni-heidelberg.de",
        "domains": "",
        "languages": ["de", "en"],
        "description": "Founded 1386.",
        "status": "active",
        "csrf_token": token,
    }
    data.update(over)
    return data


def test_coordinator_creates_and_edits_a_partner_with_history(staff_client):
    token = csrf_token(staff_client, "/catalogue/partners/new")
    resp = staff_client.post("/catalogue/partners/new", data=partner_form(token))
    assert resp.status_code == 302
    p = db.session.scalar(sa.select(Partner).where(Partner.hei_id == "uni-heidelberg.de"))
    assert (p.country, p.languages, p.city) == ("DE", "de en", "Heidelberg")
    resp = staff_client.post(
        f"/catalogue/partners/{p.id}/edit", data=partner_form(token, city="Heidelberg (Altstadt)")
    )
    assert resp.status_code == 302
    html = staff_client.get(f"/catalogue/partners/{p.id}").get_data(as_text=True)
    assert "partner.created" in html and "partner.updated" in html
    assert "Heidelberg (Altstadt)" in html
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "partner.updated")
    ).one()
    assert event.details["city"] == ["Heidelberg", "Heidelberg (Altstadt)"]
    assert event.actor_id == staff_client.user.id


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("country", "XX", "Not a valid choice"),
        ("website", "javascript:alert(1)", "must start with http"),
        ("hei_id", "not a domain", "is not an internet domain"),
        ("name", "", "This field is required."),
    ],
)
def test_partner_validation_messages(staff_client, field, value, message):
    token = csrf_token(staff_client, "/catalogue/partners/new")
    resp = staff_client.post("/catalogue/partners/new", data=partner_form(token, **{field: value}))
    assert resp.status_code == 200
    assert message in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Partner)) == 0


def test_duplicate_hei_id_is_refused(staff_client):
    PartnerFactory(name="First", hei_id="same.example.org")
    token = csrf_token(staff_client, "/catalogue/partners/new")
    resp = staff_client.post(
        "/catalogue/partners/new", data=partner_form(token, hei_id="same.example.org")
    )
    assert "already has the hei-id same.example.org" in resp.get_data(as_text=True)


def agreement_form(token, **over):
    data = {
        "type": "bilateral",
        "status": "active",
        "code": "IIA-1",
        "first_academic_year": "2025",
        "last_academic_year": "2029",
        "places_per_year": "4",
        "months_per_mobility": "5",
        "degree_levels": ["bachelor", "master"],
        "all_units": "y",
        "subject_areas": ["0613", "0541"],
        "language": "de",
        "language_level": "B2",
        "min_gpa": "3.00",
        "min_gpa_scale": "4",
        "notes": "",
        "csrf_token": token,
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_coordinator_creates_edits_and_terminates_an_agreement(staff_client):
    p = PartnerFactory()
    law = UnitFactory(code="LAW")
    token = csrf_token(staff_client, f"/catalogue/partners/{p.id}/agreements/new")
    resp = staff_client.post(
        f"/catalogue/partners/{p.id}/agreements/new", data=agreement_form(token)
    )
    assert resp.status_code == 302
    a = db.session.scalars(sa.select(Agreement)).one()
    assert (a.places_per_year, a.subject_areas, a.language_rank) == (4, "0613 0541", 4)
    assert a.degree_levels == [DegreeLevel.BACHELOR, DegreeLevel.MASTER]

    resp = staff_client.post(
        f"/catalogue/agreements/{a.id}/edit",
        data=agreement_form(token, all_units=None, unit_ids=[str(law.id)], places_per_year="6"),
    )
    assert resp.status_code == 302
    db.session.refresh(a)
    assert [u.code for u in a.units] == ["LAW"] and a.all_units is False
    assert a.places_per_year == 6

    resp = staff_client.post(
        f"/catalogue/agreements/{a.id}/terminate", data={"reason": "", "csrf_token": token}
    )
    assert a.status is AgreementStatus.ACTIVE
    resp = staff_client.post(
        f"/catalogue/agreements/{a.id}/terminate",
        data={"reason": "Partner closed the programme", "csrf_token": token},
    )
    db.session.refresh(a)
    assert a.status is AgreementStatus.TERMINATED and a.terminated_at is not None
    actions = [e.action for e in db.session.scalars(sa.select(AuditEvent))]
    assert {"agreement.created", "agreement.updated", "agreement.terminated"} <= set(actions)
    html = staff_client.get(f"/catalogue/partners/{p.id}").get_data(as_text=True)
    assert "Terminated" in html and "Partner closed the programme" in html


@pytest.mark.parametrize(
    "over,message",
    [
        (
            {"first_academic_year": "2030", "last_academic_year": "2025"},
            "The last academic year cannot come before the first.",
        ),
        ({"places_per_year": "-1"}, "Number must be between 0 and 10000."),
        ({"min_gpa": "4.5"}, "The minimum GPA must lie between 0 and the scale"),
        ({"subject_areas": ["9876"]}, "is not a valid choice"),
        ({"degree_levels": []}, "Choose at least one degree level."),
        ({"language_level": ""}, "Give both the language and its CEFR level, or neither."),
        ({"all_units": None}, "Choose the eligible units, or open it to all units."),
    ],
)
def test_agreement_validation(staff_client, over, message):
    p = PartnerFactory()
    token = csrf_token(staff_client, f"/catalogue/partners/{p.id}/agreements/new")
    resp = staff_client.post(
        f"/catalogue/partners/{p.id}/agreements/new", data=agreement_form(token, **over)
    )
    assert resp.status_code == 200
    assert message in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Agreement)) == 0


def test_agreement_shows_expired_from_its_dates(staff_client):
    a = AgreementFactory(first_academic_year=2015, last_academic_year=2019)
    html = staff_client.get(f"/catalogue/partners/{a.partner_id}").get_data(as_text=True)
    assert "Expired" in html


def test_signed_agreement_pdf_upload_and_download(staff_client, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    a = AgreementFactory()
    token = csrf_token(staff_client, f"/catalogue/partners/{a.partner_id}")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    resp = staff_client.post(
        f"/catalogue/agreements/{a.id}/document",
        data={"document": (io.BytesIO(pdf), "../../signed IIA.pdf"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    db.session.refresh(a)
    assert a.document_name == "signed IIA.pdf" and a.document_size == len(pdf)
    stored = list((tmp_path / "agreements").iterdir())
    assert [p.name for p in stored] == [a.document_path]  # random name, inside UPLOAD_DIR
    resp = staff_client.get(f"/catalogue/agreements/{a.id}/document")
    assert resp.data == pdf
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"

    html_as_pdf = b"<html><script>alert(1)</script></html>"
    resp = staff_client.post(
        f"/catalogue/agreements/{a.id}/document",
        data={"document": (io.BytesIO(html_as_pdf), "evil.pdf"), "csrf_token": token},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "The signed agreement must be a PDF file." in resp.get_data(as_text=True)
    db.session.refresh(a)
    assert a.document_name == "signed IIA.pdf"


def test_script_in_partner_name_is_shown_as_text(student_client):
    AgreementFactory(partner=PartnerFactory(name="<script>alert(1)</script> U"))
    html = student_client.get("/catalogue/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; U" in html


def make_catalogue(n):
    units = [UnitFactory() for _ in range(3)]
    for i in range(n):
        p = PartnerFactory(name=f"Scale U {i:04d}")
        for j in range(3):
            a = AgreementFactory(partner=p, all_units=j != 0, subject_areas="0613 0912")
            if j == 0:
                a.units = units[:2]
    db.session.commit()


def test_catalogue_list_and_partner_page_use_a_fixed_number_of_statements(
    student_client, staff_client
):
    make_catalogue(10)
    few = {
        url: count_statements(c, url)
        for c, url in [
            (student_client, "/catalogue/"),
            (student_client, "/catalogue/?eligible=1&q=scale"),
            (staff_client, "/catalogue/?all=1"),
        ]
    }
    first = db.session.scalar(sa.select(Partner.id).order_by(Partner.id))
    few_page = count_statements(student_client, f"/catalogue/partners/{first}")
    few_staff = count_statements(staff_client, f"/catalogue/partners/{first}")
    make_catalogue(490)
    many = {
        url: count_statements(c, url)
        for c, url in [
            (student_client, "/catalogue/"),
            (student_client, "/catalogue/?eligible=1&q=scale"),
            (staff_client, "/catalogue/?all=1"),
        ]
    }
    assert many == few
    assert max(many.values()) <= 6
    # The page's partners come with their total in one statement, their agreements (with
    # their units) in another: with the user and the units of the filter, four in all.
    assert many["/catalogue/"] <= 4
    assert count_statements(student_client, f"/catalogue/partners/{first}") == few_page
    assert count_statements(staff_client, f"/catalogue/partners/{first}") == few_staff


def test_cached_list_follows_every_change(student_client, staff_client):
    p = PartnerFactory(name="Before Rename")
    a = AgreementFactory(partner=p, places_per_year=2)
    assert names(student_client.get("/catalogue/").get_data(as_text=True)) == ["Before Rename"]
    token = csrf_token(staff_client, f"/catalogue/partners/{p.id}/edit")
    staff_client.post(
        f"/catalogue/partners/{p.id}/edit",
        data=partner_form(token, name="After Rename", hei_id=p.hei_id, languages=["de"]),
    )
    html = student_client.get("/catalogue/").get_data(as_text=True)
    assert names(html) == ["After Rename"]
    staff_client.post(
        f"/catalogue/agreements/{a.id}/edit",
        data=agreement_form(token, places_per_year="7", language="", language_level=""),
    )
    assert "7 places a year" in student_client.get("/catalogue/").get_data(as_text=True)
    staff_client.post(
        f"/catalogue/agreements/{a.id}/terminate", data={"reason": "ended", "csrf_token": token}
    )
    assert names(student_client.get("/catalogue/").get_data(as_text=True)) == []


def test_contacts_added_and_removed(staff_client):
    from exchange.catalogue.models import PartnerContact

    p = PartnerFactory()
    token = csrf_token(staff_client, f"/catalogue/partners/{p.id}")
    resp = staff_client.post(
        f"/catalogue/partners/{p.id}/contacts",
        data={
            "name": "Anna Berg",
            "role": "Exchange officer",
            "email": "anna@x.de",
            "phone": "+49 30 1",
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    assert "Contact added." in resp.get_data(as_text=True)
    contact = db.session.scalars(sa.select(PartnerContact)).one()
    assert (contact.name, contact.email) == ("Anna Berg", "anna@x.de")
    resp = staff_client.post(
        f"/catalogue/partners/{p.id}/contacts",
        data={"name": "No Mail", "email": "not an address", "csrf_token": token},
        follow_redirects=True,
    )
    assert "Enter a valid e-mail address." in resp.get_data(as_text=True)
    staff_client.post(f"/catalogue/contacts/{contact.id}/delete", data={"csrf_token": token})
    assert db.session.scalars(sa.select(PartnerContact)).all() == []
    actions = [e.action for e in db.session.scalars(sa.select(AuditEvent))]
    assert "partner.contact_added" in actions and "partner.contact_removed" in actions


def test_terminating_with_an_unprintable_reason_is_refused_clearly(staff_client):
    a = AgreementFactory()
    token = csrf_token(staff_client, f"/catalogue/partners/{a.partner_id}")
    resp = staff_client.post(
        f"/catalogue/agreements/{a.id}/terminate",
        data={"reason": "\x01\x02", "csrf_token": token},
        follow_redirects=True,
    )
    assert resp.status_code == 200
    assert "Give the reason for terminating the agreement." in resp.get_data(as_text=True)
    db.session.refresh(a)
    assert a.status is AgreementStatus.ACTIVE


def test_filter_to_partners_with_places_in_an_open_call(student_client):
    from exchange.calls.models import CallStatus

    from .factories import CallFactory, OfferingFactory

    open_call = CallFactory()
    OfferingFactory(
        call=open_call, agreement=AgreementFactory(partner=PartnerFactory(name="In Open"))
    )
    OfferingFactory(
        call=open_call,
        places=0,
        agreement=AgreementFactory(partner=PartnerFactory(name="No Places Left")),
    )
    OfferingFactory(
        call=CallFactory(status=CallStatus.DRAFT),
        agreement=AgreementFactory(partner=PartnerFactory(name="Only Draft Call")),
    )
    AgreementFactory(partner=PartnerFactory(name="Never Offered"))
    html = student_client.get("/catalogue/").get_data(as_text=True)
    assert {"In Open", "No Places Left", "Only Draft Call", "Never Offered"} <= set(names(html))
    html = student_client.get("/catalogue/?open_call=1").get_data(as_text=True)
    assert names(html) == ["In Open"]
    # the call closes: the cached page must not keep showing it
    open_call.closes_at = open_call.opens_at + (open_call.closes_at - open_call.opens_at) / 1000
    db.session.commit()
    html = student_client.get("/catalogue/?open_call=1").get_data(as_text=True)
    assert names(html) == []
    assert "Include partners not in an open call" in html  # the empty state says what to change


def test_partner_page_counts_students_who_went_there(student_client):
    from exchange.applications.models import ApplicationStatus

    from .factories import ApplicationFactory, OfferingFactory

    offering = OfferingFactory()
    partner_id = offering.agreement.partner_id
    for status in (
        ApplicationStatus.DEPARTED,
        ApplicationStatus.COMPLETED,
        ApplicationStatus.PLACED,
    ):
        ApplicationFactory(
            call=offering.call, choices=[offering], status=status, placed_offering_id=offering.id
        )
    html = student_client.get(f"/catalogue/partners/{partner_id}").get_data(as_text=True)
    assert '<dd class="col-7" data-testid="students-sent">2 students</dd>' in html
