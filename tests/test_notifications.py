"""Notifications: the centre, mail preferences, reminders exactly once, digests."""

import io
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from exchange.accounts.models import MailPreference
from exchange.applications import operations as app_ops
from exchange.applications.models import ApplicationStatus
from exchange.approvals.models import Decision, StepStatus
from exchange.approvals.operations import decide_step
from exchange.calls.models import DocumentKind
from exchange.core.database import utcnow
from exchange.extensions import db
from exchange.mail.models import OutboxMail
from exchange.notifications import digests, reminders
from exchange.notifications.models import Digest, Notification, Reminder

from .conftest import CSRF_RE, client_for
from .factories import (
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    UnitFactory,
    admin,
    coordinator,
    student,
)

PDF = b"%PDF-1.4\n%%EOF\n"


def token(client, url="/notifications/"):
    match = CSRF_RE.search(client.get(url).get_data(as_text=True))
    return match.group(1) or match.group(2)


def submitted_application(call=None, **student_kwargs):
    """A complete application, submitted: its chain waits on the international office."""
    unit = UnitFactory()
    s = student(unit, **student_kwargs)
    call = call or CallFactory(required_documents="transcript")
    offering = OfferingFactory(call=call)
    application = ApplicationFactory(call=call, student=s, choices=[offering])
    app_ops.upload_document(application, DocumentKind.TRANSCRIPT, io.BytesIO(PDF), "t.pdf", actor=s)
    app_ops.submit_application(application, actor=s)
    db.session.commit()
    return application


def mails_to(user, template=None):
    query = sa.select(OutboxMail).where(OutboxMail.recipient_id == user.id)
    if template:
        query = query.where(OutboxMail.template == template)
    return db.session.scalars(query).all()


# --- events and preferences --------------------------------------------------------------------


def test_submission_and_decision_notify_in_app_and_by_mail(app):
    office = coordinator()
    application = submitted_application()
    s = application.student
    assert [m.template for m in mails_to(s)] == ["application_submitted"]
    assert [m.template for m in mails_to(office)] == ["step_waiting"]
    step = application.steps[0]
    decide_step(step, Decision.APPROVE, "Well prepared.", actor=office)
    db.session.commit()
    assert application.status is ApplicationStatus.APPROVED
    templates = sorted(m.template for m in mails_to(s))
    # The last approval is one event: "approved", not also "International office: approved".
    assert templates == ["application_approved", "application_submitted"]
    approved = mails_to(s, "application_approved")[0]
    assert application.call.title in approved.subject
    assert f"/applications/{application.id}" in approved.body_text
    kinds = db.session.scalars(
        sa.select(Notification.kind).where(Notification.user_id == s.id).order_by(Notification.id)
    ).all()
    assert kinds == ["application.submitted", "application.approved"]


def test_digest_preference_holds_back_mail_but_keeps_the_notification(app):
    application = submitted_application(mail_preference=MailPreference.DAILY)
    assert mails_to(application.student) == []
    notification = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == application.student_id)
    ).one()
    assert notification.mail_id is None


def test_notification_centre_counts_opens_and_marks_read(app):
    application = submitted_application()
    s = application.student
    client = client_for(app, s)
    page = client.get("/notifications/").get_data(as_text=True)
    assert 'data-read="no"' in page and application.call.title in page
    notification = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == s.id)
    ).one()
    csrf = token(client)
    resp = client.post(f"/notifications/{notification.id}/open", data={"csrf_token": csrf})
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/applications/{application.id}"
    db.session.refresh(notification)
    assert notification.read_at is not None
    # someone else's notification: 404, untouched
    other = client_for(app, student())
    resp = other.post(f"/notifications/{notification.id}/open", data={"csrf_token": token(other)})
    assert resp.status_code == 404


def test_a_notification_never_redirects_off_site(app):
    s = student()
    n = Notification(
        dedup_key="x", user_id=s.id, kind="step.decided", data={"path": "//evil.example"}
    )
    db.session.add(n)
    db.session.commit()
    client = client_for(app, s)
    resp = client.post(f"/notifications/{n.id}/open", data={"csrf_token": token(client)})
    assert resp.headers["Location"] == "/notifications/"


def test_mail_preference_on_the_account_page(app):
    s = student()
    client = client_for(app, s)
    resp = client.post(
        "/account",
        data={
            "csrf_token": token(client, "/account"),
            "name": s.name,
            "locale": "",
            "timezone": "",
            "mail_preference": "weekly",
        },
    )
    assert resp.status_code == 302
    db.session.refresh(s)
    assert s.mail_preference is MailPreference.WEEKLY


# --- reminders -----------------------------------------------------------------------------------


def test_draft_gets_the_nearest_reminder_once_and_none_after_submission(app):
    call = CallFactory(closes_at=utcnow() + timedelta(days=2, hours=12))
    draft = ApplicationFactory(call=call, choices=[OfferingFactory(call=call)])
    other_call_draft = ApplicationFactory(call=CallFactory(closes_at=utcnow() + timedelta(days=20)))
    now = utcnow()
    assert reminders.draft_reminders(now) == 1
    assert reminders.draft_reminders(now + timedelta(minutes=5)) == 0
    db.session.commit()
    rows = db.session.scalars(sa.select(Reminder)).all()
    assert [(r.recipient_id, r.kind) for r in rows] == [(draft.student_id, "draft_closing_3d")]
    mail = mails_to(draft.student, "reminder_draft_closing")
    assert len(mail) == 1 and "not submitted" in mail[0].body_text
    assert mails_to(other_call_draft.student) == []
    # two days later the 1-day reminder is due; once submitted, nothing more
    later = now + timedelta(days=1, hours=13)
    draft.status = ApplicationStatus.SUBMITTED
    db.session.commit()
    assert reminders.draft_reminders(later) == 0


def test_overdue_step_reminds_approvers_then_escalates_once(app):
    office = coordinator()
    application = submitted_application()
    step = application.steps[0]
    limit = step.due_at - step.activated_at
    assert reminders.step_reminders(step.activated_at + limit / 2) == {"overdue": 0, "escalated": 0}
    assert reminders.step_reminders(step.due_at + timedelta(hours=1)) == {
        "overdue": 1,
        "escalated": 0,
    }
    assert reminders.step_reminders(step.due_at + timedelta(hours=2)) == {
        "overdue": 0,
        "escalated": 0,
    }
    twice = step.activated_at + 2 * limit + timedelta(minutes=1)
    assert reminders.step_reminders(twice) == {"overdue": 0, "escalated": 1}
    assert reminders.step_reminders(twice + timedelta(hours=1))["escalated"] == 0
    db.session.commit()
    assert len(mails_to(office, "reminder_step_overdue")) == 1
    assert len(mails_to(office, "reminder_step_escalated")) == 1


@pytest.mark.committed
def test_two_beats_at_once_send_one_reminder(committed_app):
    app = committed_app
    with app.app_context():
        call = CallFactory(closes_at=utcnow() + timedelta(hours=20))
        drafts = [ApplicationFactory(call=call) for _ in range(3)]
        student_ids = [d.student_id for d in drafts]
        db.session.remove()
    barrier = threading.Barrier(2)
    counts, errors = [], []
    now = utcnow()

    def beat():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                counts.append(reminders.draft_reminders(now))
                db.session.commit()
            except Exception as exc:  # surfaced below
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    with app.app_context():
        sent = db.session.scalars(
            sa.select(OutboxMail.recipient_id).where(
                OutboxMail.template == "reminder_draft_closing"
            )
        ).all()
        assert sorted(sent) == sorted(student_ids), (counts, errors)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Reminder)) == 3
        if db.engine.dialect.name == "postgresql":
            assert errors == [] and sorted(counts) == [0, 3]
        db.session.remove()


# --- digests -----------------------------------------------------------------------------------


def next_local(now, zone, hour):
    """The first moment after `now` when it is `hour`:30 in `zone` (within a day)."""
    local = now.astimezone(ZoneInfo(zone))
    target = local.replace(hour=hour, minute=30, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return target.astimezone(UTC)


def test_digest_figures_and_once_per_day(app):
    office = coordinator(timezone="Asia/Shanghai")
    boss = admin(timezone="Asia/Shanghai")
    first = submitted_application()
    submitted_application(call=first.call)
    decide_step(first.steps[0], Decision.REJECT, "Missing grades.", actor=office)
    db.session.commit()
    now = utcnow()
    content = digests.build(boss, "daily", now + timedelta(minutes=1))
    assert content.new_applications == 2
    assert content.new_by_call == [(first.call.title, 2)]
    assert content.decisions == {"reject": 1}
    assert content.waiting_total == 1
    assert not content.empty
    when = next_local(now, "Asia/Shanghai", 7)
    result = digests.send_digests(when)
    assert result.get("daily") == 2  # the coordinator and the admin
    assert digests.send_digests(when + timedelta(minutes=15)) == {}
    db.session.commit()
    mail = mails_to(boss, "digest")
    assert len(mail) == 1
    assert "New applications: 2" in mail[0].body_text
    assert "Decisions: 1" in mail[0].body_text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Digest)) == 2


def test_no_digest_when_nothing_to_say(app):
    boss = admin(timezone="UTC")
    app.config["DIGEST_HOUR"] = 7
    assert digests.send_digests(datetime(2026, 12, 2, 8, tzinfo=UTC)) == {"empty": 1}
    assert mails_to(boss) == []


def test_daily_digest_waits_for_the_hour_and_weekly_for_monday(app):
    s = student(timezone="UTC", mail_preference=MailPreference.WEEKLY)
    tuesday = datetime(2026, 12, 1, 9, tzinfo=UTC)  # 2026-12-01 is a Tuesday
    assert digests.period_start(s, "weekly", tuesday).isoformat() == "2026-11-30"
    monday_early = datetime(2026, 12, 7, 6, tzinfo=UTC)
    assert digests.period_start(s, "weekly", monday_early) is None
    assert digests.period_start(s, "daily", monday_early) is None
    assert digests.period_start(s, "daily", datetime(2026, 12, 7, 7, tzinfo=UTC)).isoformat() == (
        "2026-12-07"
    )


def test_digest_gathers_notifications_of_digest_users(app):
    application = submitted_application(mail_preference=MailPreference.DAILY, timezone="UTC")
    s = application.student
    now = utcnow() + timedelta(minutes=1)
    content = digests.build(s, "daily", now)
    assert len(content.notifications) == 1
    assert application.call.title in content.notifications[0][0]
    assert digests.send_digests(next_local(now, "UTC", 8)).get("daily") == 1
    db.session.commit()
    assert len(mails_to(s, "digest")) == 1
    n = db.session.scalars(sa.select(Notification).where(Notification.user_id == s.id)).one()
    assert n.digested_at is not None


def test_admin_previews_a_digest(app):
    boss = admin()
    submitted_application()
    client = client_for(app, boss)
    resp = client.get("/notifications/digest-preview")
    assert resp.status_code == 200
    assert 'data-testid="digest"' in resp.get_data(as_text=True)
    mail = client.get("/notifications/digest-preview/mail")
    assert "New applications" in mail.get_data(as_text=True)
    assert "script-src" not in mail.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in mail.headers["Content-Security-Policy"]
    assert client_for(app, student()).get("/notifications/digest-preview").status_code == 403


def test_mail_log_per_application_and_user_for_the_office(app):
    application = submitted_application()
    office = client_for(app, coordinator())
    html = office.get(f"/notifications/mail-log/application/{application.id}").get_data(
        as_text=True
    )
    assert "application_submitted" not in html  # subjects are shown, not template names
    assert "is submitted" in html
    html = office.get(f"/notifications/mail-log/user/{application.student_id}").get_data(
        as_text=True
    )
    assert application.student.email in html
    other = client_for(app, student())
    assert other.get(f"/notifications/mail-log/user/{application.student_id}").status_code == 403


def test_navigation_shows_unread_and_waiting_counts(app):
    office = coordinator()
    application = submitted_application()
    home = client_for(app, application.student).get("/home").get_data(as_text=True)
    assert 'data-testid="unread-count">1<' in home
    office_client = client_for(app, office)
    home = office_client.get("/home").get_data(as_text=True)
    assert 'data-testid="approvals-waiting">1<' in home
    decide_step(application.steps[0], Decision.APPROVE, "", actor=office)
    db.session.commit()
    home = office_client.get("/home").get_data(as_text=True)
    assert 'data-testid="approvals-waiting"' not in home  # the cached bar does not keep it


def test_withdrawal_tells_the_approvers_it_was_waiting_on(app):
    office = coordinator()
    application = submitted_application()
    app_ops.withdraw_application(application, "Found another programme.", actor=application.student)
    db.session.commit()
    assert application.steps[0].status is StepStatus.CANCELLED
    assert [m.template for m in mails_to(office)] == ["step_waiting", "application_withdrawn"]
    assert mails_to(application.student, "application_withdrawn") == []
    assert (
        client_for(app, office)
        .get("/approvals/")
        .get_data(as_text=True)
        .count(application.student.name)
        == 0
    )


def test_students_are_told_when_a_call_opens_once(app):
    from exchange.calls.models import CallStatus
    from exchange.calls.scheduling import advance_calls

    students = [student() for _ in range(3)]
    office = coordinator()
    call = CallFactory(status=CallStatus.SCHEDULED, title="Winter school")
    assert advance_calls(utcnow())["opened"] == 1
    assert advance_calls(utcnow())["opened"] == 0
    db.session.commit()
    for s in students:
        (mail,) = mails_to(s, "call_opened")
        assert "Winter school" in mail.subject
        assert f"/calls/{call.id}" in mail.body_text
    assert mails_to(office, "call_opened") == []
