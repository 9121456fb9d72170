"""Approval chain templates: the ordered steps (who approves, how long, what a rejection
does) that a call names and each submitted application copies (approvals.models)."""

import enum
from datetime import datetime

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
