import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..chains.models import RestartFrom, StepRule
from ..core.database import UTCDateTime, enum_column, utcnow
from ..extensions import db


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
