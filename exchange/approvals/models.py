import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import UnitFunction, User
from ..core.database import UTCDateTime, enum_column, utcnow
from ..extensions import db


class ApproverRule(enum.Enum):
    UNIT_ADVISOR = "unit_advisor"  # an advisor of the student's unit
    UNIT_ROLE = "unit_role"  # someone with a function (e.g. dean) in the student's unit
    INTERNATIONAL_OFFICE = "international_office"  # any coordinator
    NAMED_USER = "named_user"


class RestartFrom(enum.Enum):
    """Where a chain starts again after the student resubmits a returned application."""

    FIRST_STEP = "first_step"
    RETURNING_STEP = "returning_step"


class StepStatus(enum.Enum):
    PENDING = "pending"  # a later step: not yet its turn
    WAITING = "waiting"  # its turn: waits on its approvers
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"
    CANCELLED = "cancelled"  # never reached: the chain ended or restarted before it


class Decision(enum.Enum):
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"


DECIDED = {
    Decision.APPROVE: StepStatus.APPROVED,
    Decision.REJECT: StepStatus.REJECTED,
    Decision.RETURN: StepStatus.RETURNED,
}


class ApprovalChain(db.Model):
    """A template. Editing it makes a new version; running chains keep the copy of the steps
    they were created with."""

    __tablename__ = "approval_chains"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(default=1)
    restart_from: Mapped[RestartFrom] = mapped_column(
        enum_column(RestartFrom), default=RestartFrom.FIRST_STEP
    )
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    steps: Mapped[list["ApprovalStepTemplate"]] = relationship(
        back_populates="chain",
        cascade="all, delete-orphan",
        order_by="ApprovalStepTemplate.position",
    )

    def __repr__(self):
        return f"<ApprovalChain {self.id} {self.name!r} v{self.version}>"


class StepRule:
    """The columns a step template and a step instance share: who approves and how."""

    name: Mapped[str] = mapped_column(sa.String(120))
    rule: Mapped[ApproverRule] = mapped_column(enum_column(ApproverRule))
    unit_function: Mapped[UnitFunction | None] = mapped_column(enum_column(UnitFunction))
    approver_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    time_limit_days: Mapped[int] = mapped_column(default=7)
    rejection_ends: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    may_return: Mapped[bool] = mapped_column(default=True, server_default=sa.true())


class ApprovalStepTemplate(StepRule, db.Model):
    __tablename__ = "approval_step_templates"
    __table_args__ = (
        sa.UniqueConstraint("chain_id", "position", name="uq_approval_step_templates_position"),
        sa.CheckConstraint("time_limit_days BETWEEN 1 AND 365", name="time_limit_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int] = mapped_column(sa.ForeignKey("approval_chains.id", ondelete="CASCADE"))
    position: Mapped[int]

    chain: Mapped[ApprovalChain] = relationship(back_populates="steps")
    approver: Mapped[User | None] = relationship()


class ApplicationStep(StepRule, db.Model):
    """One step of one application's chain, in one round (a resubmission starts a round)."""

    __tablename__ = "application_steps"
    __table_args__ = (
        sa.UniqueConstraint(
            "application_id", "round", "position", name="uq_application_steps_position"
        ),
        # The approver queue (approvals/queue.py): waiting steps by rule and unit, oldest
        # first; and by rule alone (the international office's), oldest first, with what its
        # count reads, so that counting thousands is an index-only scan.
        sa.Index("ix_application_steps_queue", "status", "rule", "unit_id", "activated_at"),
        sa.Index(
            "ix_application_steps_waiting",
            "status",
            "rule",
            "activated_at",
            "id",
            "application_id",
        ),
        # The queue sorted by name walks the students by name (ix_users_name) to their
        # applications (ix_applications_student) and asks of each whether a step waits:
        # answered from this small index alone.
        sa.Index(
            "ix_application_steps_waiting_application",
            "application_id",
            "rule",
            "id",
            postgresql_where=sa.text("status = 'waiting'"),
            sqlite_where=sa.text("status = 'waiting'"),
        ),
        sa.Index("ix_application_steps_due", "status", "due_at"),
        sa.Index("ix_application_steps_decided_at", "decided_at"),  # digests: decided in a period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(default=1)
    position: Mapped[int]
    chain_id: Mapped[int | None] = mapped_column(sa.ForeignKey("approval_chains.id"))
    chain_version: Mapped[int | None]
    # Copied from the template like the rules: a later edit of the template's policy does not
    # change where this application's chain restarts.
    restart_from: Mapped[RestartFrom] = mapped_column(
        enum_column(RestartFrom), default=RestartFrom.FIRST_STEP
    )
    # The student's unit, copied so the queue needs no join to find "my units".
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    status: Mapped[StepStatus] = mapped_column(enum_column(StepStatus), default=StepStatus.PENDING)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decision: Mapped[Decision | None] = mapped_column(enum_column(Decision))
    comment: Mapped[str | None] = mapped_column(sa.Text)

    application = relationship("Application", back_populates="steps")
    approver: Mapped[User | None] = relationship(foreign_keys="ApplicationStep.approver_id")
    decided_by: Mapped[User | None] = relationship(foreign_keys="ApplicationStep.decided_by_id")
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys="ApplicationStep.on_behalf_of_id")

    def __repr__(self):
        return f"<ApplicationStep {self.id} app={self.application_id} r{self.round}#{self.position} {self.status.value}>"


class Substitution(db.Model):
    """`substitute` decides for `user` between two dates (both included)."""

    __tablename__ = "approval_substitutions"
    __table_args__ = (
        sa.CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        sa.CheckConstraint("substitute_id <> user_id", name="not_self"),
        sa.Index("ix_approval_substitutions_substitute", "substitute_id", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    substitute_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    substitute: Mapped[User] = relationship(foreign_keys=[substitute_id])


# The queue sorted by the students' names (approvals/queue.py) walks this index and stops at
# its page, instead of sorting every waiting step's student name.
sa.Index("ix_users_name", User.name, User.id)
