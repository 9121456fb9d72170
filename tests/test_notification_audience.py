"""Who is told what: one event, one message, to the right people, in their language; and the
digest's period (issues 11.6, 11.7, 12.16, 12.18, 12.20)."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from exchange.accounts.models import Role
from exchange.approvals import operations as ops
from exchange.approvals.models import Decision
from exchange.calls.models import CallStatus
from exchange.calls.scheduling import advance_calls
from exchange.chains.models import ApproverRule
from exchange.core.database import utcnow
from exchange.extensions import db
from exchange.mail.models import OutboxMail
from exchange.notifications import digests, reminders
from exchange.notifications.events import title_of
from exchange.notifications.models import Notification

from .conftest import client_for
from .factories import CallFactory, UnitFactory, UserFactory, admin, advisor, coordinator, student
from .helpers import make_call, submitted

OFFICE_ONLY = [("International office", ApproverRule.INTERNATIONAL_OFFICE, {})]


def notes_of(user):
    return db.session.scalars(
        sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    ).all()


def mails_of(user):
    return db.session.scalars(
        sa.select(OutboxMail).where(OutboxMail.recipient_id == user.id).order_by(OutboxMail.id)
    ).all()


def two_step_world():
    unit = UnitFactory(code="PHY")
    call = make_call(title="Spring exchange 2027")
    return unit, call, advisor(unit, name="Ada Advisor"), coordinator(name="Olga Office")


# --- 11.6 one event, one message, to the right audience --------------------------------------


def test_the_student_is_told_of_their_own_submission_in_their_words(app):
    unit, call, adv, office = two_step_world()
    application = submitted(call, unit, name="Li Wei")
    [note] = notes_of(application.student)
    with app.test_request_context():
        title = title_of(note)
    assert title == "Your application to Spring exchange 2027 is submitted"
    assert "Li Wei" not in title  # not "Li Wei submitted an application…" to Li Wei
    [mail] = mails_of(application.student)
    assert mail.template == "application_submitted"
    # The advisor the first step waits on is the one told that it waits; the office not yet.
    assert [n.kind for n in notes_of(adv)] == ["step.waiting"]
    assert notes_of(office) == []


def test_each_decision_is_one_message_to_the_student(app):
    unit, call, adv, office = two_step_world()
    application = submitted(call, unit)
    s = application.student
    ops.decide_step(ops.current_step(application), Decision.APPROVE, "", actor=adv)
    db.session.commit()
    assert [n.kind for n in notes_of(s)] == ["application.submitted", "step.decided"]
    ops.decide_step(ops.current_step(application), Decision.APPROVE, "", actor=office)
    db.session.commit()
    # The last approval: "your application is approved", not also "International office: approved".
    assert [n.kind for n in notes_of(s)][2:] == ["application.approved"]
    assert [m.template for m in mails_of(s)] == [
        "application_submitted",
        "step_decided",
        "application_approved",
    ]


def test_a_return_is_one_message_and_the_advisor_reads_who_must_act(app):
    unit, call, adv, office = two_step_world()
    application = submitted(call, unit, name="Li Wei")
    ops.decide_step(ops.current_step(application), Decision.RETURN, "Sign it.", actor=adv)
    db.session.commit()
    assert [n.kind for n in notes_of(application.student)][1:] == ["application.returned"]
    assert len(mails_of(application.student)) == 2
    page = client_for(app, adv).get(f"/applications/{application.id}").get_data(as_text=True)
    assert "You: make the requested changes" not in page
    assert "Li Wei: make the requested changes and submit again" in page
    own = client_for(app, application.student).get(f"/applications/{application.id}")
    assert "You: make the requested changes" in own.get_data(as_text=True)


def test_every_title_and_subject_names_the_call(app):
    unit, call, adv, office = two_step_world()
    returned = submitted(call, unit)
    ops.decide_step(ops.current_step(returned), Decision.RETURN, "Sign it.", actor=adv)
    approved = submitted(call, unit)
    ops.decide_step(ops.current_step(approved), Decision.APPROVE, "", actor=adv)
    db.session.commit()
    step = ops.current_step(approved)
    assert reminders.step_reminders(step.activated_at + timedelta(days=60))["escalated"] == 1
    db.session.commit()
    notes = db.session.scalars(sa.select(Notification)).all()
    kinds = {n.kind for n in notes}
    assert {"step.waiting", "step.decided", "application.returned"} <= kinds
    assert {"reminder.step_overdue", "reminder.step_escalated"} <= kinds
    with app.test_request_context():
        for note in notes:
            assert "Spring exchange 2027" in title_of(note), note.kind
    for mail in db.session.scalars(sa.select(OutboxMail)):
        assert "Spring exchange 2027" in mail.subject, mail.template


# --- 11.7 texts in the reader's language, written when read ------------------------------------


def test_titles_are_written_in_the_readers_language_when_read(app):
    unit, call, adv, office = two_step_world()
    application = submitted(call, unit, locale="zh_Hans_CN")
    ops.decide_step(ops.current_step(application), Decision.APPROVE, "", actor=adv)
    ops.decide_step(ops.current_step(application), Decision.APPROVE, "", actor=office)
    db.session.commit()
    page = client_for(app, application.student).get("/notifications/").get_data(as_text=True)
    assert "您在 Spring exchange 2027 中的申请已获批准" in page
    assert "您在 Spring exchange 2027 中的申请已提交" in page
    assert "单位导师" in page and "已批准" in page  # the step's name and the decision
    assert "is approved" not in page and "Unit advisor" not in page
    # The button opens the notification: the verb, not the status "open" (开放中).
    assert "开放中" not in page
    # The same notification reads in English for an English reader.
    application.student.locale = "en"
    db.session.commit()
    page = client_for(app, application.student).get("/notifications/").get_data(as_text=True)
    assert "Your application to Spring exchange 2027 is approved" in page


def test_the_chinese_call_opened_mail_writes_its_date_in_chinese(app):
    zh = student(locale="zh_Hans_CN")
    en = student(locale="en")
    now = utcnow()
    call = CallFactory(
        title="Autumn 2027",
        status=CallStatus.SCHEDULED,
        opens_at=now - timedelta(minutes=1),
        closes_at=datetime(2026, 12, 28, 9, tzinfo=UTC),
        timezone="Asia/Shanghai",
    )
    assert advance_calls(now)["opened"] == 1
    db.session.commit()
    [zh_mail] = mails_of(zh)
    assert "2026年12月28日周一 17:00" in zh_mail.body_text
    assert "Dec" not in zh_mail.body_text and "Mon" not in zh_mail.body_text
    [en_mail] = mails_of(en)
    assert "Mon, Dec 28, 2026 17:00" in en_mail.body_text
    page = client_for(app, zh).get("/notifications/").get_data(as_text=True)
    assert "2026年12月28日周一 17:00" in page and call.title in page


# --- 12.18 a deactivated user is told nothing -------------------------------------------------


def test_a_deactivated_user_gets_neither_a_notification_nor_a_mail(app):
    unit, call, adv, office = two_step_world()
    gone = advisor(unit, name="Gone Advisor")
    gone.active = False
    db.session.commit()
    application = submitted(call, unit)
    assert notes_of(gone) == [] and mails_of(gone) == []
    assert [n.kind for n in notes_of(adv)] == ["step.waiting"]  # the active one is told
    # Nor reminders or digests.
    step = ops.current_step(application)
    reminders.step_reminders(step.due_at + timedelta(days=60))
    boss = admin(timezone="UTC")
    boss.active = False
    db.session.commit()
    digests.send_digests(utcnow().replace(hour=23))
    assert notes_of(gone) == [] and mails_of(gone) == [] and mails_of(boss) == []
    # A student deactivated while their application is reviewed hears nothing of it either.
    application.student.active = False
    db.session.commit()
    ops.decide_step(step, Decision.APPROVE, "", actor=adv)
    db.session.commit()
    assert [n.kind for n in notes_of(application.student)] == ["application.submitted"]
    assert len(mails_of(application.student)) == 1


# --- 12.20 nobody is asked to decide on their own application ------------------------------


def test_a_student_who_is_also_a_coordinator_is_never_asked_to_decide_their_own(app):
    office = coordinator(name="Olga Office")
    both = UserFactory(roles=(Role.STUDENT, Role.COORDINATOR), name="Both Roles")
    call = make_call(OFFICE_ONLY, title="Spring exchange 2027")
    application = submitted(call, user=both)
    step = ops.current_step(application)
    waits = [n.kind for n in notes_of(both) if n.kind.startswith(("step.", "reminder."))]
    assert waits == []
    assert [n.kind for n in notes_of(office)] == ["step.waiting"]
    # Overdue, then stalled: the other coordinator is reminded and told; the student never.
    assert reminders.step_reminders(step.due_at + timedelta(hours=1))["overdue"] == 1
    twice = step.activated_at + 2 * (step.due_at - step.activated_at) + timedelta(hours=1)
    assert reminders.step_reminders(twice)["escalated"] == 1
    db.session.commit()
    assert [n.kind for n in notes_of(both)] == ["application.submitted"]
    assert [m.template for m in mails_of(both)] == ["application_submitted"]
    assert [n.kind for n in notes_of(office)] == [
        "step.waiting",
        "reminder.step_overdue",
        "reminder.step_escalated",
    ]


# --- 12.16 a digest counts its own period only --------------------------------------------------


def test_a_digest_does_not_count_a_step_decided_before_its_period(app):
    app.config["DIGEST_HOUR"] = 7
    boss = admin(timezone="UTC")
    office = coordinator(timezone="UTC")
    call = make_call(OFFICE_ONLY, title="Spring exchange 2027")
    early, late = submitted(call), submitted(call)
    day1 = (utcnow() + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    ops.decide_step(ops.current_step(early), Decision.REJECT, "No.", actor=office, now=day1)
    db.session.commit()
    assert digests.send_digests(day1 + timedelta(hours=2)) == {"daily": 2}
    db.session.commit()
    [first] = [m for m in mails_of(boss) if m.template == "digest"]
    assert "Decisions: 1" in first.body_text and "rejected: 1" in first.body_text
    day2 = day1 + timedelta(days=1)
    ops.decide_step(ops.current_step(late), Decision.APPROVE, "", actor=office, now=day2)
    db.session.commit()
    content = digests.build(
        boss, "daily", day2 + timedelta(hours=2), since=digests._previous(boss.id, "daily")
    )
    assert content.decisions == {"approve": 1}  # the rejection of day 1 is not counted again
    assert [row[2] for row in content.per_unit] == [1]
    assert digests.send_digests(day2 + timedelta(hours=2)) == {"daily": 2}
    db.session.commit()
    second = [m for m in mails_of(boss) if m.template == "digest"][1]
    assert "Decisions: 1" in second.body_text and "rejected" not in second.body_text
