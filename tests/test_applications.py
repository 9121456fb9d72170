"""Applying: draft, details, choices, documents, submit, withdraw, return, timeline, access."""

import hashlib
import io
import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from exchange.accounts.models import CEFR, UnitFunction, UnitMembership, User
from exchange.applications import operations as ops
from exchange.applications.models import (
    Application,
    ApplicationEvent,
    ApplicationStatus,
    Document,
)
from exchange.approvals.operations import return_for_changes
from exchange.calls.models import DocumentKind
from exchange.catalogue.eligibility import reasons
from exchange.catalogue.models import AgreementType
from exchange.core.audit import AuditEvent
from exchange.core.database import utcnow
from exchange.core.errors import DomainError, NotAllowed
from exchange.extensions import db

from .conftest import CSRF_RE, client_for
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    UserFactory,
    advisor,
    coordinator,
    student,
)
from .statements import count_statements

PDF = b"%PDF-1.7\n" + b"x" * 2000 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 100


@pytest.fixture
def setting():
    """A unit, a student of it, an open call with three offerings (one the student does
    not meet: it wants a 3.8 GPA)."""
    unit = UnitFactory(code="PHY")
    call = CallFactory(required_documents="transcript language_certificate", max_choices=2)
    offerings = [
        OfferingFactory(call=call, agreement=AgreementFactory(partner=PartnerFactory(name=n)))
        for n in ("Alpha University", "Beta University")
    ]
    offerings.append(
        OfferingFactory(
            call=call,
            agreement=AgreementFactory(
                partner=PartnerFactory(name="Gamma University"), min_gpa=Decimal("3.80")
            ),
        )
    )
    return {"unit": unit, "call": call, "offerings": offerings, "student": student(unit)}


def token(client, url):
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, html[:500]
    return match.group(1) or match.group(2)


def complete(application, offerings):
    """Fill in everything a submission needs."""
    student_ = application.student
    ops.set_choices(application, [o.id for o in offerings], actor=student_)
    ops.save_details(
        application,
        ops.Details("I want to learn.", "3.40", "4", [("en", "B2")]),
        actor=student_,
    )
    for kind in application.call.required_kinds:
        ops.upload_document(application, kind, io.BytesIO(PDF), f"{kind.value}.pdf", actor=student_)
    db.session.commit()


# --- starting --------------------------------------------------------------------------------


def test_start_prefills_from_profile_and_is_one_per_call(setting):
    s = setting["student"]
    application, created = ops.start_application(setting["call"], s)
    db.session.commit()
    assert created
    assert application.status is ApplicationStatus.DRAFT
    assert application.unit_id == setting["unit"].id
    assert application.gpa == Decimal("3.40")
    assert [(r.language, r.level) for r in application.languages] == [("en", CEFR.B2)]
    again, created = ops.start_application(setting["call"], s)
    assert not created and again.id == application.id
    assert db.session.query(Application).filter_by(student_id=s.id).count() == 1


def test_start_refused_before_opening_and_after_deadline(setting):
    call = setting["call"]
    call.opens_at = utcnow() + timedelta(days=2)
    call.closes_at = utcnow() + timedelta(days=5)
    with pytest.raises(DomainError, match="opens on"):
        ops.start_application(call, setting["student"])
    call.opens_at = utcnow() - timedelta(days=5)
    call.closes_at = utcnow() - timedelta(minutes=1)
    with pytest.raises(DomainError, match=r"deadline .* passed .*\(Europe/Berlin, UTC\+0[12]:00\)"):
        ops.start_application(call, setting["student"])


def test_only_students_apply(setting):
    with pytest.raises(NotAllowed):
        ops.start_application(setting["call"], coordinator())


# --- details and choices ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "gpa, scale, languages, message",
    [
        ("5", "4", [], "between 0 and 4"),
        ("abc", "4", [], "as a number"),
        ("3", "0", [], "scale must be between"),
        ("3", "4", [("xx", "B2")], "not a language code"),
        ("3", "4", [("en", "Z9")], "CEFR level"),
        ("3", "4", [("en", "B2"), ("en", "C1")], "listed twice"),
    ],
)
def test_details_are_validated(setting, gpa, scale, languages, message):
    application, _ = ops.start_application(setting["call"], setting["student"])
    with pytest.raises(ops.ValidationFailed) as exc:
        ops.save_details(
            application, ops.Details("x", gpa, scale, languages), actor=setting["student"]
        )
    assert any(message in str(m) for _f, m in exc.value.problems)


def test_details_report_each_field_in_form_order(setting):
    application, _ = ops.start_application(setting["call"], setting["student"])
    details = ops.Details(
        "x" * (ops.STATEMENT_LIMIT + 1),
        "three",
        "0",
        [("en", "B2"), ("xx", "B2"), ("de", "Z9"), ("", "", "IELTS"), ("EN", "C1"), ("", "")],
    )
    with pytest.raises(ops.ValidationFailed) as exc:
        ops.save_details(application, details, actor=setting["student"])
    assert [(name, str(message)) for name, message in exc.value.problems] == [
        ("statement", f"The statement is longer than {ops.STATEMENT_LIMIT} characters."),
        ("gpa", "Enter the GPA as a number, for example 3.45."),
        ("gpa_scale", "The GPA scale must be between 0 and 100."),
        ("languages", "“xx” is not a language code."),
        ("languages", "Choose a CEFR level (A1 to C2) for de."),
        ("languages", "Choose the language and level of “IELTS”."),
        ("languages", "English is listed twice."),
    ]
    # An unreadable scale is reported on the scale, and a GPA above its scale on the GPA.
    for gpa, scale, expected in (("3", "four", ["gpa_scale"]), ("4.5", "4", ["gpa"])):
        with pytest.raises(ops.ValidationFailed) as exc:
            ops.save_details(
                application, ops.Details("x", gpa, scale, []), actor=setting["student"]
            )
        assert [name for name, _message in exc.value.problems] == expected
    assert application.statement in (None, "")


def test_choices_rules(setting):
    s = setting["student"]
    alpha, beta, gamma = setting["offerings"]
    application, _ = ops.start_application(setting["call"], s)
    with pytest.raises(DomainError, match="at most 2"):
        ops.set_choices(application, [alpha.id, beta.id, gamma.id], actor=s)
    with pytest.raises(DomainError, match="only once"):
        ops.set_choices(application, [alpha.id, alpha.id], actor=s)
    other_call_offering = OfferingFactory()
    with pytest.raises(DomainError, match="not offered in this call"):
        ops.set_choices(application, [other_call_offering.id], actor=s)
    with pytest.raises(
        DomainError,
        match=r"Gamma University \(Bilateral student exchange · 5 months\): "
        r"Requires a GPA of at least 3\.80/4",
    ):
        ops.set_choices(application, [gamma.id], actor=s)
    assert ops.set_choices(application, [alpha.id, beta.id], actor=s)
    ops.move_choice(application, beta.id, -1, actor=s)
    db.session.commit()
    assert [c.offering_id for c in application.choices] == [beta.id, alpha.id]
    assert [c.rank for c in application.choices] == [1, 2]


def test_other_student_cannot_change_an_application(setting):
    application, _ = ops.start_application(setting["call"], setting["student"])
    with pytest.raises(NotAllowed):
        ops.set_choices(application, [], actor=student())


# --- documents ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, kind", [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg")]
)
def test_documents_are_accepted_by_content(setting, app, content, kind):
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    doc = ops.upload_document(
        application, DocumentKind.TRANSCRIPT, io.BytesIO(content), "../../etc/passwd", actor=s
    )
    db.session.commit()
    assert doc.content_type == kind
    assert doc.sha256 == hashlib.sha256(content).hexdigest()
    assert doc.size == len(content)
    assert doc.original_name == "passwd"
    assert re.fullmatch(r"[0-9a-f]{32}\.(pdf|png|jpg)", doc.stored_name)
    stored = ops.uploads.path_of("applications", doc.stored_name)
    assert stored.read_bytes() == content
    assert "static" not in str(stored)


def test_html_named_pdf_is_refused(setting):
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    with pytest.raises(DomainError, match="not a PDF, PNG, JPEG file"):
        ops.upload_document(
            application,
            DocumentKind.TRANSCRIPT,
            io.BytesIO(b"<html><script>alert(1)</script></html>"),
            "transcript.pdf",
            actor=s,
        )
    assert db.session.query(Document).count() == 0


# --- submitting ----------------------------------------------------------------------------------


def test_submit_needs_everything_then_locks(setting):
    s = setting["student"]
    alpha, beta, _gamma = setting["offerings"]
    application, _ = ops.start_application(setting["call"], s)
    with pytest.raises(DomainError) as exc:
        ops.submit_application(application, actor=s)
    assert "Transcript of records" in str(exc.value) and "Language certificate" in str(exc.value)
    complete(application, [alpha, beta])
    ops.submit_application(application, actor=s)
    db.session.commit()
    assert application.status is ApplicationStatus.SUBMITTED
    assert application.submitted_at is not None
    with pytest.raises(DomainError, match="already been submitted"):
        ops.submit_application(application, actor=s)
    with pytest.raises(DomainError, match="can no longer be changed"):
        ops.set_choices(application, [alpha.id], actor=s)
    doc = application.documents[0]
    with pytest.raises(DomainError, match="cannot be deleted"):
        ops.delete_document(doc, actor=s)
    actions = [e.action for e in application.events]
    assert actions == ["created", "submitted"]
    assert db.session.query(AuditEvent).filter_by(action="application.submitted").count() == 1


def test_submit_after_deadline_is_refused_in_the_calls_zone(setting):
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    complete(application, setting["offerings"][:1])
    call = setting["call"]
    call.closes_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(DomainError, match=r"\(Europe/Berlin, UTC\+0[12]:00\)"):
        ops.submit_application(application, actor=s)
    assert application.status is ApplicationStatus.DRAFT


def test_return_resubmit_and_timeline(setting):
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    complete(application, setting["offerings"][:1])
    ops.submit_application(application, actor=s)
    staff = coordinator()
    with pytest.raises(DomainError, match="Give a comment"):
        return_for_changes(application, "   ", actor=staff)
    with pytest.raises(NotAllowed):
        return_for_changes(application, "no", actor=student())
    return_for_changes(application, "Add your C1 certificate.", actor=staff)
    db.session.commit()
    assert application.status is ApplicationStatus.RETURNED
    # documents of the earlier submission stay; new ones can be removed again
    old = application.documents[0]
    assert not ops.can_delete(old)
    new = ops.upload_document(
        application, DocumentKind.OTHER, io.BytesIO(PDF), "extra.pdf", actor=s
    )
    db.session.commit()
    assert ops.can_delete(new)
    ops.delete_document(new, actor=s)
    db.session.commit()
    ops.submit_application(application, actor=s)
    db.session.commit()
    events = [(e.action, e.comment) for e in application.events]
    assert events == [
        ("created", None),
        ("submitted", None),
        ("step_returned", "International office: Add your C1 certificate."),
        ("returned", "Add your C1 certificate."),
        ("resubmitted", None),
    ]


def test_withdraw_needs_a_reason(setting):
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    with pytest.raises(DomainError, match="reason"):
        ops.withdraw_application(application, " \x00 ", actor=s)
    ops.withdraw_application(application, "I got a scholarship elsewhere.", actor=s)
    db.session.commit()
    assert application.status is ApplicationStatus.WITHDRAWN
    with pytest.raises(DomainError, match="no longer be withdrawn"):
        ops.withdraw_application(application, "again", actor=s)


@pytest.mark.parametrize(
    "status",
    [
        ApplicationStatus.NOMINATED,
        ApplicationStatus.HOST_ACCEPTED,
        ApplicationStatus.HOST_REJECTED,
        ApplicationStatus.DEPARTED,
        ApplicationStatus.COMPLETED,
    ],
)
def test_a_nominated_or_later_application_cannot_be_withdrawn(app, setting, status):
    """Withdrawing is possible at any time before nomination, never after: neither through
    the operation nor through the page, which does not offer it."""
    s = setting["student"]
    application = ApplicationFactory(
        call=setting["call"], student=s, choices=setting["offerings"][:1], status=status
    )
    with pytest.raises(DomainError, match="no longer be withdrawn"):
        ops.withdraw_application(application, "Changed my mind.", actor=s)
    db.session.rollback()
    client = client_for(app, s)
    url = f"/applications/{application.id}"
    html = client.get(url).get_data(as_text=True)
    assert "Withdraw application" not in html
    html = client.post(
        f"{url}/withdraw",
        data={"csrf_token": token(client, url), "reason": "Changed my mind."},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "This application can no longer be withdrawn." in html
    db.session.refresh(application)
    assert application.status is status
    assert "withdrawn" not in [e.action for e in application.events]


def test_an_accepted_place_can_still_be_withdrawn_before_nomination(setting):
    s = setting["student"]
    application = ApplicationFactory(
        call=setting["call"], student=s, status=ApplicationStatus.ACCEPTED
    )
    ops.withdraw_application(application, "Changed my mind.", actor=s)
    assert application.status is ApplicationStatus.WITHDRAWN


@pytest.mark.parametrize(
    "student_gpa, student_scale, min_gpa, min_scale, refusal",
    [
        ("3.80", "4", "90", "100", None),  # 95 % of the scale against 90 %
        ("3.60", "4", "90", "100", None),  # exactly 90 %
        ("3.59", "4", "90", "100", "Requires a GPA of at least 90/100; yours is 3.59/4."),
        ("85", "100", "3.50", "4", "Requires a GPA of at least 3.50/4; yours is 85/100."),
        ("88", "100", "3.50", "4", None),  # 88 % against 87.5 %
    ],
)
def test_the_explanation_compares_gpas_on_other_scales(
    setting, student_gpa, student_scale, min_gpa, min_scale, refusal
):
    """The per-agreement explanation (which also guards choosing and submitting) scales both
    GPAs before comparing, as the catalogue's SQL filter does."""
    s = setting["student"]
    call = setting["call"]
    offering = OfferingFactory(
        call=call,
        agreement=AgreementFactory(
            partner=PartnerFactory(name="Scaled U"),
            min_gpa=Decimal(min_gpa),
            min_gpa_scale=Decimal(min_scale),
        ),
    )
    application, _ = ops.start_application(call, s)
    details = ops.Details("x", student_gpa, student_scale, [("en", "B2")])
    ops.save_details(application, details, actor=s)
    why = [str(r) for r in reasons(offering.agreement, ops.facts_for(application))]
    if refusal is None:
        assert why == []
        assert ops.set_choices(application, [offering.id], actor=s)
        complete(application, [offering])
        ops.save_details(application, details, actor=s)
        ops.submit_application(application, actor=s)
        assert application.status is ApplicationStatus.SUBMITTED
        return
    assert why == [refusal]
    with pytest.raises(DomainError, match=r"You cannot choose Scaled U .*Requires a GPA"):
        ops.set_choices(application, [offering.id], actor=s)
    # Chosen while a full GPA was entered, then lowered: submitting is refused with the reason.
    ops.save_details(application, ops.Details("x", "4", "4", []), actor=s)
    complete(application, [offering])
    ops.save_details(application, details, actor=s)
    with pytest.raises(DomainError, match="no longer meet the requirements of Scaled U"):
        ops.submit_application(application, actor=s)
    assert application.status is ApplicationStatus.DRAFT


# --- through the browser's requests ------------------------------------------------------------


def test_the_language_test_name_is_saved_and_shown_again(app, setting):
    s = setting["student"]  # English B2 from an "IELTS" result in the profile
    application, _ = ops.start_application(setting["call"], s)
    db.session.commit()
    client = client_for(app, s)
    url = f"/applications/{application.id}"
    form = {
        "csrf_token": token(client, url),
        "statement": "",
        "gpa": "3.40",
        "gpa_scale": "4",
        "languages-0-language": "en",
        "languages-0-level": "B2",
        "languages-0-test_name": "TOEFL iBT 100",
    }
    html = client.post(f"{url}/details", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Saved." in html and "Nothing changed." not in html
    assert 'value="TOEFL iBT 100"' in html
    db.session.refresh(application)
    assert [(r.language, r.test_name) for r in application.languages] == [("en", "TOEFL iBT 100")]
    html = client.get(url).get_data(as_text=True)
    assert 'value="TOEFL iBT 100"' in html
    # The same again changes nothing; a test without its language is refused, not dropped.
    html = client.post(f"{url}/details", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Nothing changed." in html
    form |= {"languages-1-test_name": "DELF B2"}
    resp = client.post(f"{url}/details", data=form)
    assert resp.status_code == 400
    assert "Choose the language and level of “DELF B2”." in resp.get_data(as_text=True)


def test_two_offerings_of_one_partner_are_told_apart_wherever_listed(app):
    """A 1-month summer school and a 10-month exchange at one partner: every list of offerings
    says which is which (type, months, places), not the partner's name twice."""
    unit = UnitFactory(code="ENG")
    tum = PartnerFactory(name="Technical University of Munich", country="DE")
    call = CallFactory(max_choices=2)
    summer = OfferingFactory(
        call=call,
        places=4,
        agreement=AgreementFactory(
            partner=tum, type=AgreementType.SUMMER_SCHOOL, months_per_mobility=1
        ),
    )
    exchange_ = OfferingFactory(
        call=call, places=2, agreement=AgreementFactory(partner=tum, months_per_mobility=10)
    )
    s = student(unit)
    application, _ = ops.start_application(call, s)
    ops.set_choices(application, [exchange_.id, summer.id], actor=s)
    db.session.commit()
    summer_terms = "Summer school · 1 month · 4 places"
    exchange_terms = "Bilateral student exchange · 10 months · 2 places"

    html = client_for(app, s).get(f"/applications/{application.id}").get_data(as_text=True)
    options = re.findall(r"<option value=\"\d+\"[^>]*>([^<]+)</option>", html)
    assert f"Technical University of Munich (DE) — {summer_terms}" in options
    assert f"Technical University of Munich (DE) — {exchange_terms}" in options
    choices = re.findall(r'data-testid="choice">(.*?)</li>', html, re.S)
    assert exchange_terms in choices[0] and summer_terms in choices[1]

    staff = client_for(app, coordinator())
    html = staff.get(f"/calls/{call.id}").get_data(as_text=True)
    assert "Summer school · 1 month" in html and "Bilateral student exchange · 10 months" in html
    html = staff.get(f"/calls/{call.id}/offerings").get_data(as_text=True)
    assert "Summer school · 1 month" in html and "Bilateral student exchange · 10 months" in html
    application.status, application.submitted_at = ApplicationStatus.SUBMITTED, utcnow()
    db.session.commit()
    html = staff.get(f"/calls/{call.id}/applications").get_data(as_text=True)
    assert f">Technical University of Munich · {summer_terms}</option>" in html
    assert f">Technical University of Munich · {exchange_terms}</option>" in html
    assert 'Technical University of Munich <span class="text-body-secondary">· ' in html


def test_student_applies_through_the_pages(app, setting):
    s = setting["student"]
    alpha, beta, gamma = setting["offerings"]
    client = client_for(app, s)
    call_id = setting["call"].id
    resp = client.post(
        f"/applications/start/{call_id}", data={"csrf_token": token(client, "/home")}
    )
    assert resp.status_code == 302
    url = resp.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert "Still" not in page and "Before you submit" in page
    assert "not eligible" in page  # Gamma is shown, disabled, with the reason
    csrf = token(client, url)
    app_id = int(url.rsplit("/", 1)[1])
    # a choice from another call, then a valid ranking
    foreign = OfferingFactory()
    resp = client.post(
        f"/applications/{app_id}/choices",
        data={"csrf_token": csrf, "choice": [str(foreign.id)]},
        follow_redirects=True,
    )
    assert "not offered in this call" in resp.get_data(as_text=True)
    client.post(
        f"/applications/{app_id}/choices",
        data={"csrf_token": csrf, "choice": [str(alpha.id), str(beta.id)]},
    )
    client.post(f"/applications/{app_id}/choices/{beta.id}/up", data={"csrf_token": csrf})
    resp = client.post(
        f"/applications/{app_id}/details",
        data={
            "csrf_token": csrf,
            "statement": "Physics in Alpha.",
            "gpa": "3,5",
            "gpa_scale": "4",
            "languages-0-language": "en",
            "languages-0-level": "C1",
            "languages-0-test_name": "IELTS",
        },
    )
    assert resp.status_code == 302
    # submit with a document missing: told what is missing, nothing changes
    resp = client.post(
        f"/applications/{app_id}/submit", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "Still missing: Transcript of records, Language certificate" in resp.get_data(
        as_text=True
    )
    for kind in ("transcript", "language_certificate"):
        resp = client.post(
            f"/applications/{app_id}/documents",
            data={"csrf_token": csrf, "kind": kind, "file": (io.BytesIO(PDF), f"{kind}.pdf")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
        assert "The document is uploaded." in resp.get_data(as_text=True)
    resp = client.post(
        f"/applications/{app_id}/submit", data={"csrf_token": csrf}, follow_redirects=True
    )
    html = resp.get_data(as_text=True)
    assert "Your application is submitted" in html
    application = db.session.get(Application, app_id)
    db.session.refresh(application)
    assert application.status is ApplicationStatus.SUBMITTED
    assert [c.offering_id for c in application.choices] == [beta.id, alpha.id]
    assert application.gpa == Decimal("3.50")
    assert "Physics in Alpha." in html and 'data-testid="timeline-entry"' in html
    # a second submit (double click) is told plainly
    resp = client.post(
        f"/applications/{app_id}/submit", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "already been submitted" in resp.get_data(as_text=True)
    home = client.get("/home").get_data(as_text=True)
    assert setting["call"].title in home and "Submitted" in home


def test_upload_of_100_mb_gets_a_friendly_413_and_writes_nothing(app, setting):
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    db.session.commit()
    client = client_for(app, s)
    csrf = token(client, f"/applications/{application.id}")
    body = io.BytesIO(b"%PDF-" + b"0" * (100 * 1024 * 1024))
    resp = client.post(
        f"/applications/{application.id}/documents",
        data={"csrf_token": csrf, "kind": "transcript", "file": (body, "big.pdf")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 413
    assert "larger than 10 MB" in resp.get_data(as_text=True)
    assert db.session.query(Document).count() == 0


def test_html_disguised_as_pdf_is_refused_over_http(app, setting):
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    db.session.commit()
    client = client_for(app, s)
    csrf = token(client, f"/applications/{application.id}")
    resp = client.post(
        f"/applications/{application.id}/documents",
        data={
            "csrf_token": csrf,
            "kind": "transcript",
            "file": (io.BytesIO(b"<!doctype html><script>x</script>"), "../cv.pdf"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "not a PDF, PNG, JPEG file" in resp.get_data(as_text=True)
    assert db.session.query(Document).count() == 0


def test_document_download_is_an_attachment_with_nosniff(app, setting):
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    doc = ops.upload_document(
        application, DocumentKind.TRANSCRIPT, io.BytesIO(PNG), "скан оценок.png", actor=s
    )
    db.session.commit()
    resp = client_for(app, s).get(f"/applications/documents/{doc.id}")
    assert resp.status_code == 200
    assert resp.data == PNG
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in resp.headers["Cache-Control"]


# --- who may open what -----------------------------------------------------------------------


def test_access_matrix(app, setting):
    """Every application and document URL, as each kind of visitor. Anyone who may not see
    an application gets 404, so a guessed id reveals nothing."""
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    doc = ops.upload_document(
        application, DocumentKind.TRANSCRIPT, io.BytesIO(PDF), "t.pdf", actor=s
    )
    db.session.commit()
    other_unit = UnitFactory(code="CHE")
    same_unit_advisor = advisor(setting["unit"])
    dean = UserFactory(roles=(), units=[setting["unit"]], function=UnitFunction.DEAN)
    visitors = {  # the owner last: their posts change the application
        "other student": student(setting["unit"]),
        "advisor of another unit": advisor(other_unit),
        "member without role": dean,
        "advisor of the unit": same_unit_advisor,
        "coordinator": coordinator(),
        "owner": s,
    }
    a, d = application.id, doc.id
    views = [f"/applications/{a}", f"/applications/documents/{d}"]
    owner_posts = [
        f"/applications/{a}/details",
        f"/applications/{a}/choices",
        f"/applications/{a}/choices/{setting['offerings'][0].id}/up",
        f"/applications/{a}/documents",
        f"/applications/documents/{d}/delete",
        f"/applications/{a}/submit",
        f"/applications/{a}/withdraw",
    ]
    seen = {}
    anonymous = app.test_client()
    for url in views + owner_posts + [f"/approvals/applications/{a}/return"]:
        method = anonymous.get if url in views else anonymous.post
        resp = method(url)
        assert resp.status_code in (302, 400), url
        if resp.status_code == 302:
            assert "/login" in resp.headers["Location"], url
    for who, user in visitors.items():
        if who == "owner":  # nothing was changed by anyone else
            db.session.refresh(application)
            assert application.status is ApplicationStatus.DRAFT
            assert db.session.get(Document, d) is not None
        client = client_for(app, user)
        csrf = token(client, "/account")
        for url in views:
            seen[(who, url)] = client.get(url).status_code
        for url in owner_posts:
            seen[(who, url)] = client.post(url, data={"csrf_token": csrf}).status_code
    expected_view = {
        "owner": 200,
        "other student": 404,
        "advisor of another unit": 404,
        "member without role": 404,
        "advisor of the unit": 200,
        "coordinator": 200,
    }
    for (who, url), status in seen.items():
        if url in views:
            assert status == expected_view[who], (who, url, status)
        elif who == "owner":
            assert status in (302, 200, 400), (who, url, status)
        else:
            assert status == 404, (who, url, status)


def test_unknown_ids_are_404(app, setting):
    client = client_for(app, setting["student"])
    assert client.get("/applications/999999").status_code == 404
    assert client.get("/applications/documents/999999").status_code == 404


def test_advisor_membership_is_not_enough_without_the_advisor_function(app, setting):
    """A student who is also a plain member of the unit sees only their own."""
    s = setting["student"]
    application, _ = ops.start_application(setting["call"], s)
    db.session.commit()
    peer = student(setting["unit"])
    assert db.session.query(UnitMembership).filter_by(user_id=peer.id).one().function is (
        UnitFunction.MEMBER
    )
    assert client_for(app, peer).get(f"/applications/{application.id}").status_code == 404


# --- fixed statement counts ------------------------------------------------------------------


def test_student_home_and_application_page_use_a_fixed_number_of_statements(app, setting):
    s = setting["student"]
    client = client_for(app, s)
    first = ApplicationFactory(student=s, call=setting["call"], choices=setting["offerings"][:2])
    few_home = count_statements(client, "/home")
    few_page = count_statements(client, f"/applications/{first.id}")
    for _ in range(12):
        call = CallFactory()
        offerings = [OfferingFactory(call=call) for _ in range(3)]
        ApplicationFactory(
            student=s, call=call, choices=offerings, status=ApplicationStatus.SUBMITTED
        )
    for _ in range(10):  # more offerings and documents on the same page
        OfferingFactory(call=setting["call"])
        ops.upload_document(first, DocumentKind.OTHER, io.BytesIO(PDF), "x.pdf", actor=s)
    db.session.commit()
    assert count_statements(client, "/home") == few_home
    assert count_statements(client, f"/applications/{first.id}") == few_page
    assert few_page <= 6


@pytest.mark.committed
def test_two_submits_at_the_same_moment_record_one_submission(committed_app):
    """A double click or two tabs: real concurrent transactions, exactly one submission.
    On PostgreSQL the second waits for the row lock and is told plainly; SQLite lets one
    writer at a time, so the loser fails one way or another, and nothing is doubled."""
    app = committed_app
    with app.app_context():
        unit = UnitFactory()
        s = student(unit)
        call = CallFactory(required_documents="")
        offering = OfferingFactory(call=call)
        application = ApplicationFactory(call=call, student=s, choices=[offering])
        application_id, student_id = application.id, s.id
        db.session.remove()
    barrier = threading.Barrier(2)
    outcomes = []

    def submit():
        with app.app_context():
            try:
                application = db.session.get(Application, application_id)
                actor = db.session.get(User, student_id)
                barrier.wait(timeout=10)
                ops.submit_application(application, actor=actor)
                db.session.commit()
                outcomes.append("submitted")
            except DomainError as exc:
                db.session.rollback()
                outcomes.append(str(exc))
            except Exception as exc:  # SQLite: "database is locked" for the loser
                db.session.rollback()
                outcomes.append(type(exc).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes)[-1] == "submitted" and outcomes.count("submitted") == 1, outcomes
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            assert "This application has already been submitted." in outcomes
        events = db.session.scalars(
            sa.select(ApplicationEvent.action).where(
                ApplicationEvent.application_id == application_id
            )
        ).all()
        assert events.count("submitted") == 1
        db.session.remove()
