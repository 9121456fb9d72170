"""Daily and weekly e-mail digests.

Admins and coordinators get the office's picture (daily unless they chose weekly); anyone
who chose a digest instead of single mails gets their notifications gathered. A digest covers
the time since the recipient's previous one, reads only that window (indexed ranges) and
what is open now, and is recorded in `Digest` (unique per user, period and period start) so
it goes out once even when two beats run."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from ..accounts.models import MailPreference, Role, Unit, User, UserRole
from ..applications.models import Application
from ..approvals.models import ApplicationStep, StepStatus
from ..calls.models import Call, CallStatus
from ..extensions import db
from ..mail.operations import queue_mail
from . import events
from .models import Digest, Notification
from .reminders import _insert

STAFF = Role.STAFF
LOOKAHEAD = timedelta(days=14)
LIST_LIMIT = 10


@dataclass
class DigestContent:
    period: str
    start: datetime
    end: datetime
    staff: bool
    new_applications: int = 0
    new_by_call: list = field(default_factory=list)  # [(call title, n)]
    decisions: dict = field(default_factory=dict)  # decision value -> n
    waiting: list = field(default_factory=list)  # [(step name, unit code, n, oldest since)]
    waiting_total: int = 0
    stalled: list = field(default_factory=list)  # [(application id, student, step, since)]
    stalled_total: int = 0
    deadlines: list = field(default_factory=list)  # [(when, what, call title, zone)]
    per_unit: list = field(default_factory=list)  # [(unit code, submitted, decided)]
    notifications: list = field(default_factory=list)  # [(title, path, created_at)]

    @property
    def empty(self) -> bool:
        return not (
            self.new_applications
            or self.decisions
            or self.waiting_total
            or self.stalled_total
            or self.deadlines
            or self.notifications
        )


def period_of(user, roles) -> str | None:
    if user.mail_preference is MailPreference.WEEKLY:
        return "weekly"
    if user.mail_preference is MailPreference.DAILY or roles & set(STAFF):
        return "daily"
    return None


def _local_now(user, now):
    zone = user.timezone or current_app.config["BABEL_DEFAULT_TIMEZONE"]
    return now.astimezone(ZoneInfo(zone))


def period_start(user, period, now) -> date | None:
    """The date that names the digest due for `user` at `now` (their local time): today for a
    daily one from DIGEST_HOUR on; this week's Monday for a weekly one from Monday's
    DIGEST_HOUR on. None when none is due."""
    local = _local_now(user, now)
    due_today = local.hour >= current_app.config["DIGEST_HOUR"]
    if period == "daily":
        return local.date() if due_today else None
    if local.weekday() == 0 and not due_today:
        return None
    return local.date() - timedelta(days=local.weekday())


def _office_figures(content, start, end, now):
    rows = db.session.execute(
        sa.select(Call.title, sa.func.count())
        .select_from(Application)
        .join(Call, Call.id == Application.call_id)
        .where(Application.submitted_at >= start, Application.submitted_at < end)
        .group_by(Call.title)
        .order_by(sa.func.count().desc())
    ).all()
    content.new_by_call = [(title, n) for title, n in rows]
    content.new_applications = sum(n for _t, n in rows)
    decided = db.session.execute(
        sa.select(ApplicationStep.decision, sa.func.count())
        .where(ApplicationStep.decided_at >= start, ApplicationStep.decided_at < end)
        .group_by(ApplicationStep.decision)
    ).all()
    content.decisions = {d.value: n for d, n in decided if d is not None}
    waiting = db.session.execute(
        sa.select(
            ApplicationStep.name,
            Unit.code,
            sa.func.count(),
            sa.func.min(ApplicationStep.activated_at),
        )
        .outerjoin(Unit, Unit.id == ApplicationStep.unit_id)
        .where(ApplicationStep.status == StepStatus.WAITING)
        .group_by(ApplicationStep.name, Unit.code)
        .order_by(sa.func.min(ApplicationStep.activated_at))
    ).all()
    content.waiting = [tuple(r) for r in waiting[:LIST_LIMIT]]
    content.waiting_total = sum(r[2] for r in waiting)
    stalled_filter = (
        ApplicationStep.status == StepStatus.WAITING,
        ApplicationStep.due_at <= now,
    )
    content.stalled_total = db.session.scalar(
        sa.select(sa.func.count()).select_from(ApplicationStep).where(*stalled_filter)
    )
    content.stalled = [
        tuple(r)
        for r in db.session.execute(
            sa.select(Application.id, User.name, ApplicationStep.name, ApplicationStep.activated_at)
            .select_from(ApplicationStep)
            .join(Application, Application.id == ApplicationStep.application_id)
            .join(User, User.id == Application.student_id)
            .where(*stalled_filter)
            .order_by(ApplicationStep.due_at)
            .limit(LIST_LIMIT)
        )
    ]
    horizon = now + LOOKAHEAD
    live = Call.status.in_(
        [CallStatus.SCHEDULED, CallStatus.OPEN, CallStatus.CLOSED, CallStatus.ALLOCATING]
    )
    for column, what in (
        (Call.opens_at, "opens"),
        (Call.closes_at, "closes"),
        (Call.decision_at, "decision"),
        (Call.nomination_deadline, "nomination"),
    ):
        for title, when, zone in db.session.execute(
            sa.select(Call.title, column, Call.timezone).where(
                live, column > now, column <= horizon
            )
        ):
            content.deadlines.append((when, what, title, zone))
    content.deadlines.sort(key=lambda d: d[0])
    submitted = dict(
        db.session.execute(
            sa.select(Application.unit_id, sa.func.count())
            .where(Application.submitted_at >= start, Application.submitted_at < end)
            .group_by(Application.unit_id)
        ).all()
    )
    decided_units = dict(
        db.session.execute(
            sa.select(ApplicationStep.unit_id, sa.func.count())
            .where(ApplicationStep.decided_at >= start, ApplicationStep.decided_at < end)
            .group_by(ApplicationStep.unit_id)
        ).all()
    )
    unit_ids = set(submitted) | set(decided_units)
    codes = dict(
        db.session.execute(
            sa.select(Unit.id, Unit.code).where(Unit.id.in_([u for u in unit_ids if u]))
        ).all()
    )
    content.per_unit = sorted(
        (codes.get(u, "—"), submitted.get(u, 0), decided_units.get(u, 0)) for u in unit_ids
    )


def build(user, period, now, *, since=None) -> DigestContent:
    """What `user`'s digest says for the time since their previous one (or one period)."""
    roles = {r.role for r in user.role_rows}
    length = timedelta(days=7 if period == "weekly" else 1)
    start = since or now - length
    content = DigestContent(period, start, now, staff=bool(roles & set(STAFF)))
    if content.staff:
        _office_figures(content, start, now, now)
    if user.mail_preference in (MailPreference.DAILY, MailPreference.WEEKLY):
        rows = db.session.scalars(
            sa.select(Notification)
            .where(
                Notification.user_id == user.id,
                Notification.digested_at.is_(None),
                Notification.mail_id.is_(None),
                Notification.created_at < now,
            )
            .order_by(Notification.id)
        ).all()
        content.notifications = [
            (events.lazy_title(n), n.data.get("path"), n.created_at, n.id) for n in rows
        ]
    return content


def _previous(user_id, period):
    return db.session.scalar(
        sa.select(sa.func.max(Digest.created_at)).where(
            Digest.user_id == user_id, Digest.period == period
        )
    )


def recipients():
    """Users who get a digest: staff, and those who chose one."""
    staff_ids = sa.select(UserRole.user_id).where(UserRole.role.in_(STAFF))
    return db.session.scalars(
        sa.select(User).where(
            User.active.is_(True),
            sa.or_(
                User.id.in_(staff_ids),
                User.mail_preference.in_([MailPreference.DAILY, MailPreference.WEEKLY]),
            ),
        )
    ).all()


def send_digests(now: datetime) -> dict:
    """Send every digest due at `now`. The caller commits."""
    counts = Counter()
    insert = _insert(db.session.get_bind().dialect.name)
    for user in recipients():
        period = period_of(user, {r.role for r in user.role_rows})
        if period is None:
            continue
        start_date = period_start(user, period, now)
        if start_date is None:
            continue
        if db.session.scalar(
            sa.select(Digest.id).where(
                Digest.user_id == user.id,
                Digest.period == period,
                Digest.period_start == start_date,
            )
        ):
            continue
        content = build(user, period, now, since=_previous(user.id, period))
        claimed = db.session.execute(
            insert(Digest)
            .values(user_id=user.id, period=period, period_start=start_date, created_at=now)
            .on_conflict_do_nothing()
            .returning(Digest.id)
        ).scalar()
        if claimed is None:  # another beat sent it meanwhile
            continue
        if content.empty and current_app.config["DIGEST_SKIP_EMPTY"]:
            counts["empty"] += 1
            continue
        mail = queue_mail(
            user,
            "digest",
            {"digest": content, "link": events.absolute("/home")},
            dedup_key=f"digest:{user.id}:{period}:{start_date.isoformat()}",
        )
        db.session.execute(
            sa.update(Digest).where(Digest.id == claimed).values(mail_id=mail.id if mail else None)
        )
        if content.notifications:
            db.session.execute(
                sa.update(Notification)
                .where(Notification.id.in_([n[3] for n in content.notifications]))
                .values(digested_at=now)
            )
        counts[period] += 1
    return dict(counts)
