"""Deadline reminders, found by querying the database on the beat (never by far-future
countdowns in the broker). Each scan reads only what is due now, so its cost follows the
number of due items, not the size of the tables.

Exactly-once: a reminder is first claimed by inserting its `Reminder` row (unique per
recipient, kind, object and due date) with ON CONFLICT DO NOTHING; only the rows this
transaction inserted are notified, in the same transaction. Two beats scanning at once both
try; the unique index lets one through."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from ..accounts.models import Role, User, UserRole
from ..applications.models import Application, ApplicationStatus
from ..approvals.models import ApplicationStep, StepStatus
from ..approvals.operations import approvers_of
from ..calls.models import Call, CallStatus
from ..extensions import db
from . import events
from .models import Reminder

# Titles are formatted when shown, in the reader's language; each names the call.
events.declare(
    "reminder.draft_closing",
    "reminder_draft_closing",
    _l("Your application to %(call)s is not submitted; the call closes %(deadline)s"),
)
events.declare(
    "call.opened",
    "call_opened",
    _l("A new call is open: %(call)s (until %(deadline)s)"),
)
events.declare(
    "application.withdrawn",
    "application_withdrawn",
    _l("%(student)s withdrew the application to %(call)s"),
)
events.declare(
    "reminder.step_overdue",
    "reminder_step_overdue",
    _l(
        "Overdue: the application of %(student)s to %(call)s waits for your decision since %(since)s"
    ),
)
events.declare(
    "reminder.step_escalated",
    "reminder_step_escalated",
    _l("Stalled: %(step)s on the application of %(student)s to %(call)s waits since %(since)s"),
)


@dataclass(frozen=True)
class Due:
    recipient_id: int
    kind: str
    object_type: str
    object_id: int
    due_on: object  # date


def _insert(dialect_name):
    return (postgresql if dialect_name == "postgresql" else sqlite).insert


def claim(items: list[Due]) -> set[Due]:
    """Insert the reminder records; return those that were not there yet."""
    if not items:
        return set()
    insert = _insert(db.session.get_bind().dialect.name)
    stmt = (
        insert(Reminder)
        .values(
            [
                {
                    "recipient_id": d.recipient_id,
                    "kind": d.kind,
                    "object_type": d.object_type,
                    "object_id": d.object_id,
                    "due_on": d.due_on,
                }
                for d in items
            ]
        )
        .on_conflict_do_nothing()
        .returning(
            Reminder.recipient_id,
            Reminder.kind,
            Reminder.object_type,
            Reminder.object_id,
            Reminder.due_on,
        )
    )
    return {Due(*row) for row in db.session.execute(stmt)}


def _windows(now: datetime):
    """(days, window start, window end): a call closing within (start, end] gets the
    reminder for `days`. Only the nearest threshold applies, so a draft started late is not
    sent the 7-day, 3-day and 1-day reminders all at once."""
    days = sorted(set(current_app.config["REMINDER_DAYS_BEFORE_CLOSING"]))
    lower = now
    for d in days:
        upper = now + timedelta(days=d)
        yield d, lower, upper
        lower = upper


def draft_reminders(now: datetime) -> int:
    """Remind students whose application is a draft (or returned) before the call closes."""
    sent = 0
    for days, start, end in _windows(now):
        rows = db.session.execute(
            sa.select(Application.id, Application.student_id, Call.closes_at)
            .join(Call, Call.id == Application.call_id)
            .where(
                Call.status.in_([CallStatus.SCHEDULED, CallStatus.OPEN]),
                Call.opens_at <= now,
                Call.closes_at > start,
                Call.closes_at <= end,
                Application.status.in_([ApplicationStatus.DRAFT, ApplicationStatus.RETURNED]),
            )
        ).all()
        due = [
            Due(student_id, f"draft_closing_{days}d", "Application", app_id, closes_at.date())
            for app_id, student_id, closes_at in rows
        ]
        claimed = claim(due)
        if not claimed:
            continue
        applications = db.session.scalars(
            sa.select(Application)
            .where(Application.id.in_([d.object_id for d in claimed]))
            .options(joinedload(Application.call), joinedload(Application.student))
        ).all()
        for application in applications:
            call = application.call
            events.notify(
                "reminder.draft_closing",
                [application.student],
                obj=application,
                data=events.application_data(
                    application, days=days, **events.deadline_data(call.closes_at, call.timezone)
                ),
                key=f"{days}d-{application.id}-{call.closes_at.date().isoformat()}",
            )
            sent += 1
    return sent


def _since(step):
    return step.activated_at.isoformat()


def step_reminders(now: datetime) -> dict:
    """Remind the approvers of steps past their time limit, and tell the coordinators about
    steps waiting twice as long."""
    steps = db.session.scalars(
        sa.select(ApplicationStep)
        .where(ApplicationStep.status == StepStatus.WAITING, ApplicationStep.due_at <= now)
        .options(
            joinedload(ApplicationStep.application).options(
                joinedload(Application.student), joinedload(Application.call)
            )
        )
    ).all()
    overdue, escalate = [], []
    approvers = {}  # steps with the same rule and unit wait on the same people
    for step in steps:
        rule = (step.rule, step.unit_id, step.unit_function, step.approver_id)
        if rule not in approvers:
            approvers[rule] = approvers_of(step)
        for user in approvers[rule]:
            if user.id == step.application.student_id:  # nobody decides on their own
                continue
            overdue.append(
                (
                    Due(user.id, "step_overdue", "ApplicationStep", step.id, step.due_at.date()),
                    user,
                    step,
                )
            )
        if step.activated_at + 2 * (step.due_at - step.activated_at) <= now:
            escalate.append(step)
    coordinators = []
    if escalate:
        coordinators = list(
            db.session.scalars(
                sa.select(User)
                .join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role == Role.COORDINATOR, User.active.is_(True))
            )
        )
    escalations = [
        (Due(c.id, "step_escalated", "ApplicationStep", s.id, s.due_at.date()), c, s)
        for s in escalate
        for c in coordinators
        if c.id != s.application.student_id
    ]
    counts = {"overdue": 0, "escalated": 0}
    for kind, batch in (("overdue", overdue), ("escalated", escalations)):
        claimed = claim([due for due, _user, _step in batch])
        for due, user, step in batch:
            if due not in claimed:
                continue
            application = step.application
            events.notify(
                f"reminder.step_{kind}",
                [user],
                obj=application,
                data=events.application_data(application, step, since_at=_since(step)),
                key=f"step-{step.id}-{due.due_on.isoformat()}",
            )
            counts[kind] += 1
    return counts


def run_reminders(now: datetime) -> dict:
    """One beat's worth of reminders. The caller commits."""
    result = {"drafts": draft_reminders(now)}
    result.update(step_reminders(now))
    return result
