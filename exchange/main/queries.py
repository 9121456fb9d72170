"""Read models for the home pages."""

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from ..accounts.models import Role, Unit, UnitMembership, User, UserRole
from ..calls.models import Call
from ..catalogue.academic import current_academic_year
from ..catalogue.models import Agreement, Partner, PartnerStatus
from ..catalogue.queries import current_agreement_clause
from ..chains.models import ApprovalChain
from ..core.audit import AuditEvent
from ..core.database import utcnow
from ..extensions import db
from ..mail.models import MailStatus, OutboxMail


def users_per_role():
    rows = db.session.execute(
        sa.select(UserRole.role, sa.func.count())
        .join(User, User.id == UserRole.user_id)
        .where(User.active.is_(True))
        .group_by(UserRole.role)
    ).all()
    counts = {role: 0 for role in Role}
    counts.update(dict(rows))
    return counts


def students_per_unit(unit_ids=None):
    """[(unit, number of active students)] for the given units (all when None)."""
    students = (
        sa.select(UnitMembership.unit_id, sa.func.count().label("n"))
        .join(User, User.id == UnitMembership.user_id)
        .join(UserRole, sa.and_(UserRole.user_id == User.id, UserRole.role == Role.STUDENT))
        .where(User.active.is_(True))
        .group_by(UnitMembership.unit_id)
        .subquery()
    )
    stmt = (
        sa.select(Unit, sa.func.coalesce(students.c.n, 0))
        .outerjoin(students, students.c.unit_id == Unit.id)
        .order_by(Unit.code)
    )
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    return db.session.execute(stmt).all()


def recent_audit_events(limit=10):
    return db.session.scalars(
        sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    ).all()


def mail_counts():
    rows = db.session.execute(
        sa.select(OutboxMail.status, sa.func.count()).group_by(OutboxMail.status)
    ).all()
    counts = {status: 0 for status in MailStatus}
    counts.update(dict(rows))
    return counts


def failed_logins_last_day():
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "auth.login_failed",
            AuditEvent.occurred_at >= utcnow() - timedelta(days=1),
        )
    )


@dataclass(frozen=True)
class OfficeOverview:
    """What the international office has set up, counted: the coordinator's home states it
    instead of guessing."""

    partners: int  # active
    agreements: int  # current: students can go on them
    chains: int  # active approval chains
    calls: dict  # CallStatus as users see it now -> number of calls

    def calls_in(self, *statuses):
        return sum(self.calls.get(s, 0) for s in statuses)


def office_overview(now):
    year = current_academic_year()
    partners, agreements, chains = db.session.execute(
        sa.select(
            sa.select(sa.func.count())
            .select_from(Partner)
            .where(Partner.status == PartnerStatus.ACTIVE)
            .scalar_subquery(),
            sa.select(sa.func.count())
            .select_from(Agreement)
            .where(current_agreement_clause(year))
            .scalar_subquery(),
            sa.select(sa.func.count())
            .select_from(ApprovalChain)
            .where(ApprovalChain.active.is_(True))
            .scalar_subquery(),
        )
    ).one()
    calls = {}
    # Calls open and close by the clock: count them as users see them now, not as the beat
    # last left them (an office has tens of calls, not thousands).
    for call in db.session.scalars(sa.select(Call)):
        seen = call.effective_status(now)
        calls[seen] = calls.get(seen, 0) + 1
    return OfficeOverview(partners, agreements, chains, calls)
