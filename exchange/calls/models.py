import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalogue.models import Agreement
from ..chains.models import ApprovalChain
from ..core.database import UTCDateTime, enum_column, utcnow
from ..extensions import db


class CallStatus(enum.Enum):
    """Stored status. A scheduled call is open between its opening and closing times even
    before the beat has moved it to OPEN: every check on the server goes by the times."""

    DRAFT = "draft"  # being prepared, students don't see it
    SCHEDULED = "scheduled"  # announced; opens by itself at opens_at
    OPEN = "open"
    CLOSED = "closed"
    ALLOCATING = "allocating"
    PUBLISHED = "published"
    ARCHIVED = "archived"


# Once allocation starts, the application window and what students chose from are fixed.
FROZEN = frozenset({CallStatus.ALLOCATING, CallStatus.PUBLISHED, CallStatus.ARCHIVED})
LIVE = frozenset({CallStatus.SCHEDULED, CallStatus.OPEN})


class Term(enum.Enum):
    FULL_YEAR = "full_year"
    AUTUMN = "autumn"
    SPRING = "spring"
    SUMMER = "summer"


class DocumentKind(enum.Enum):
    TRANSCRIPT = "transcript"
    LANGUAGE_CERTIFICATE = "language_certificate"
    PASSPORT = "passport"
    MOTIVATION_LETTER = "motivation_letter"
    CV = "cv"
    OTHER = "other"


class Call(db.Model):
    __tablename__ = "calls"
    __table_args__ = (
        sa.CheckConstraint("closes_at > opens_at", name="window_in_order"),
        sa.CheckConstraint("max_choices BETWEEN 1 AND 10", name="max_choices_range"),
        sa.Index("ix_calls_status_closes", "status", "closes_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    academic_year: Mapped[int] = mapped_column(doc="2027 means 2027/28")
    term: Mapped[Term] = mapped_column(enum_column(Term), default=Term.FULL_YEAR)
    description: Mapped[str | None] = mapped_column(sa.Text)
    timezone: Mapped[str] = mapped_column(sa.String(64), doc="IANA zone the dates are set in")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, doc="the application deadline")
    decision_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    nomination_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_choices: Mapped[int] = mapped_column(default=3)
    required_documents: Mapped[str] = mapped_column(
        sa.String(200), default="", doc="DocumentKind values, space-separated"
    )
    status: Mapped[CallStatus] = mapped_column(enum_column(CallStatus), default=CallStatus.DRAFT)
    cloned_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id"))
    # None: the international office alone decides (one step).
    approval_chain_id: Mapped[int | None] = mapped_column(sa.ForeignKey("approval_chains.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    approval_chain: Mapped[ApprovalChain | None] = relationship()
    offerings: Mapped[list["CallOffering"]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallOffering.id"
    )

    @property
    def required_kinds(self) -> list[DocumentKind]:
        return [DocumentKind(v) for v in self.required_documents.split()]

    def accepts_applications(self, now: datetime | None = None) -> bool:
        """Whether a student may create or submit an application at `now` (UTC)."""
        now = now or utcnow()
        return (
            self.status in (CallStatus.SCHEDULED, CallStatus.OPEN)
            and self.opens_at <= now < self.closes_at
        )

    def effective_status(self, now: datetime | None = None) -> CallStatus:
        """The status a user should see, even when the beat has not run yet."""
        now = now or utcnow()
        if self.status in (CallStatus.SCHEDULED, CallStatus.OPEN):
            if now >= self.closes_at:
                return CallStatus.CLOSED
            if now >= self.opens_at:
                return CallStatus.OPEN
        return self.status

    def __repr__(self):
        return f"<Call {self.id} {self.title!r}>"


class CallOffering(db.Model):
    """An agreement offered in a call, with the places of this call."""

    __tablename__ = "call_offerings"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "agreement_id"),
        sa.CheckConstraint("places >= 0", name="places_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreements.id"), index=True)
    places: Mapped[int]

    call: Mapped[Call] = relationship(back_populates="offerings")
    agreement: Mapped[Agreement] = relationship()
