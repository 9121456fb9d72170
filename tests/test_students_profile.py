"""Student profiles: the admin-invited student who could never apply (issue 11), the profile
page, the registrar's read-only fields, language certificates, staff corrections and the
profile snapshot an application keeps."""

import io
import re
from decimal import Decimal

import sqlalchemy as sa

from exchange.accounts.models import CEFR, DegreeLevel, Role, StudentProfile, User
from exchange.applications import operations as app_ops
from exchange.core.audit import AuditEvent
from exchange.extensions import db

from .conftest import CSRF_RE, client_for
from .factories import (
    AgreementFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    UserFactory,
    admin,
    coordinator,
    student,
)
from .helpers import accept_invitation

PDF = b"%PDF-1.7\n" + b"x" * 500 + b"\n%%EOF\n"


def token(client, url):
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, html[:500]
    return match.group(1) or match.group(2)


# --- issue 11: a student created by an admin can never apply --------------------------------


def test_admin_invited_student_is_told_what_is_missing_and_can_fix_it(app):
    unit = UnitFactory(code="PHY")
    offering = OfferingFactory(
        call=CallFactory(), agreement=AgreementFactory(partner=PartnerFactory(name="Alpha U"))
    )
    boss = client_for(app, admin())
    resp = boss.post(
        "/admin/users/new",
        data={
            "email": "new.student@example.edu",
            "name": "New Student",
            "roles": ["student"],
            "units": [str(unit.id)],
            "function": "member",
            "csrf_token": token(boss, "/admin/users/new"),
        },
    )
    assert resp.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email_key == "new.student@example.edu"))
    client = accept_invitation(app, user)

    call_page = client.get(f"/calls/{offering.call_id}").get_data(as_text=True)
    assert 'data-testid="profile-incomplete"' in call_page
    assert "degree level" in call_page and 'href="/profile"' in call_page

    resp = client.post(
        f"/applications/start/{offering.call_id}",
        data={"csrf_token": token(client, f"/calls/{offering.call_id}")},
    )
    application_url = resp.headers["Location"]
    page = client.get(application_url).get_data(as_text=True)
    assert 'data-testid="profile-incomplete"' in page and 'href="/profile"' in page
    assert "your degree level is not recorded" in page

    # The page it links to lets the student record it.
    resp = client.post(
        "/profile",
        data={
            "degree_level": "bachelor",
            "programme": "Physics",
            "gpa": "3.5",
            "gpa_scale": "4",
            "csrf_token": token(client, "/profile"),
        },
    )
    assert resp.status_code == 302
    page = client.get(application_url).get_data(as_text=True)
    assert "your degree level is not recorded" not in page
    assert "degree level" not in re.search(
        r'data-testid="profile-incomplete".*?</div>\s*</div>', page, re.S
    ).group(0)
    application = app_ops.application_of(offering.call_id, user.id)
    assert app_ops.set_choices(application, [offering.id], actor=user)


def test_home_page_links_to_the_profile_instead_of_promising_the_office(app):
    client = client_for(app, UserFactory(roles=(Role.STUDENT,)))
    html = client.get("/home").get_data(as_text=True)
    assert "has not recorded your student details" not in html
    assert 'href="/profile"' in html


# --- the profile page -----------------------------------------------------------------------


def test_student_fills_in_and_saves_the_profile(app):
    user = UserFactory(roles=(Role.STUDENT,), units=[UnitFactory()])
    client = client_for(app, user)
    form = {
        "degree_level": "master",
        "programme": "Chemistry",
        "year_of_study": "2",
        "gpa": "88",
        "gpa_scale": "100",
        "nationality": "CN",
        "date_of_birth": "2001-05-04",
        "phone": "+86 10 1234 5678",
        "emergency_contact": "Li Ming",
        "emergency_phone": "+86 139 0000 0000",
    }
    resp = client.post("/profile", data={**form, "csrf_token": token(client, "/profile")})
    assert resp.status_code == 302
    profile = db.session.get(StudentProfile, user.id)
    assert profile.degree_level is DegreeLevel.MASTER
    assert (profile.gpa, profile.gpa_scale) == (Decimal("88.00"), Decimal("100.00"))
    assert profile.nationality == "CN" and profile.date_of_birth.isoformat() == "2001-05-04"
    assert profile.year_of_study == 2 and profile.emergency_contact == "Li Ming"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "profile.updated"))
    assert event.actor_id == user.id and event.details["degree_level"] == [None, "master"]


def test_profile_problems_are_shown_per_field(app):
    client = client_for(app, UserFactory(roles=(Role.STUDENT,)))
    resp = client.post(
        "/profile",
        data={
            "gpa": "4.5",
            "gpa_scale": "4",
            "phone": "call me",
            "date_of_birth": "yesterday",
            "csrf_token": token(client, "/profile"),
        },
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "The GPA must be between 0 and 4.00." in html
    assert "Enter a telephone number" in html
    assert "Enter the date as YYYY-MM-DD." in html


def test_registrar_fields_are_read_only_for_the_student(app):
    user = student(UnitFactory(code="CHEM"))
    user.profile.registrar_fields = "degree_level gpa gpa_scale programme student_number unit"
    db.session.commit()
    client = client_for(app, user)
    html = client.get("/profile").get_data(as_text=True)
    assert 'data-testid="readonly-degree_level"' in html
    assert "From the registrar&#39;s roster" in html or "From the registrar's roster" in html
    resp = client.post(
        "/profile",
        data={
            "degree_level": "doctoral",
            "gpa": "4.0",
            "programme": "Art",
            "student_number": "HACK",
            "phone": "+49 30 123456",
            "csrf_token": token(client, "/profile"),
        },
    )
    assert resp.status_code == 302
    db.session.refresh(user.profile)
    assert user.profile.degree_level is DegreeLevel.BACHELOR
    assert user.profile.gpa == Decimal("3.40") and user.profile.programme == "Physics"
    assert user.profile.student_number.startswith("S")
    assert user.profile.phone == "+49 30 123456"


def test_language_certificate_is_judged_by_its_content(app):
    user = UserFactory(roles=(Role.STUDENT,))
    client = client_for(app, user)
    fields = {"language": "en", "level": "C1", "test_name": "IELTS", "score": "7.5"}
    resp = client.post(
        "/profile/languages",
        data={
            **fields,
            "certificate": (io.BytesIO(b"MZ not a pdf at all"), "ielts.pdf"),
            "csrf_token": token(client, "/profile"),
        },
        follow_redirects=True,
    )
    assert "judged by its content" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StudentProfile)) in (0, 1)
    assert not (db.session.get(StudentProfile, user.id) or StudentProfile()).language_results

    resp = client.post(
        "/profile/languages",
        data={
            **fields,
            "taken_on": "2025-06-01",
            "certificate": (io.BytesIO(PDF), "ielts.pdf"),
            "csrf_token": token(client, "/profile"),
        },
    )
    assert resp.status_code == 302
    result = db.session.get(StudentProfile, user.id).language_results[0]
    assert (result.language, result.level, result.score) == ("en", CEFR.C1, "7.5")
    assert result.certificate_type == "application/pdf" and result.certificate_name == "ielts.pdf"
    url = f"/profile/languages/{result.id}/certificate"
    assert client.get(url).data == PDF
    office = client_for(app, coordinator())
    assert office.get(f"/students/{user.id}/profile/languages/{result.id}/certificate").data == PDF
    other = client_for(app, UserFactory(roles=(Role.STUDENT,)))
    assert other.get(url).status_code == 404
    assert other.get(f"/students/{user.id}/profile").status_code == 403


def test_language_result_is_deleted_once_and_a_missing_one_is_explained(app):
    user = UserFactory(roles=(Role.STUDENT,))
    client = client_for(app, user)
    resp = client.post(
        "/profile/languages",
        data={"language": "fr", "level": "B2", "csrf_token": token(client, "/profile")},
    )
    assert resp.status_code == 302
    result = db.session.get(StudentProfile, user.id).language_results[0]
    url = f"/profile/languages/{result.id}/delete"
    resp = client.post(url, data={"csrf_token": token(client, "/profile")}, follow_redirects=True)
    assert "Language result deleted." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(StudentProfile, user.id).language_results == []
    resp = client.post(url, data={"csrf_token": token(client, "/profile")}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "That language result is not in the profile." in html
    assert "Language result deleted." not in html


def test_office_corrects_a_profile_and_the_correction_is_audited(app):
    user = student(UnitFactory(code="CHEM"))
    user.profile.registrar_fields = "degree_level"
    db.session.commit()
    me = coordinator()
    office = client_for(app, me)
    url = f"/students/{user.id}/profile"
    resp = office.post(
        url,
        data={
            "degree_level": "master",
            "gpa": "3.40",
            "gpa_scale": "4.00",
            "programme": "Physics",
            "csrf_token": token(office, url),
        },
    )
    assert resp.status_code == 302
    db.session.refresh(user.profile)
    assert user.profile.degree_level is DegreeLevel.MASTER
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "profile.corrected"))
    assert event.actor_id == me.id and event.details["degree_level"] == ["bachelor", "master"]
    assert "profile.corrected" in office.get(url).get_data(as_text=True)


def test_application_keeps_a_snapshot_and_the_office_sees_later_changes(app):
    unit = UnitFactory(code="PHY")
    user = student(unit)
    offering = OfferingFactory(call=CallFactory(required_documents=""))
    application, _ = app_ops.start_application(offering.call, user)
    app_ops.set_choices(application, [offering.id], actor=user)
    app_ops.save_details(
        application, app_ops.Details("Why not.", "3.40", "4", [("en", "B2")]), actor=user
    )
    app_ops.submit_application(application, actor=user)
    db.session.commit()
    assert application.profile_snapshot["gpa"] == "3.40"
    office = client_for(app, coordinator())
    url = f"/applications/{application.id}"
    assert 'data-testid="profile-changed"' not in office.get(url).get_data(as_text=True)

    user.profile.gpa = Decimal("3.90")
    db.session.commit()
    html = office.get(url).get_data(as_text=True)
    assert 'data-testid="profile-changed"' in html and "GPA: 3.40 → 3.90" in html
    own = client_for(app, user).get(url).get_data(as_text=True)
    assert 'data-testid="profile-changed"' not in own
