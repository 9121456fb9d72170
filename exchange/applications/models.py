import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from ..accounts.models import CEFR, Unit, User
from ..calls.models import Call, CallOffering, DocumentKind
from ..core.database import UTCDateTime, enum_column, utcnow
from ..extensions import db


class ApplicationStatus(enum.Enum):
    """The whole life cycle (PRODUCT.md); later stages use the later values."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    RETURNED = "returned"  # returned for changes
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    PLACED = "placed"
    WAITLISTED = "waitlisted"
    NOT_PLACED = "not_placed"
    ACCEPTED = "accepted"  # by the student
    DECLINED = "declined"
    NOMINATED = "nominated"
    HOST_ACCEPTED = "host_accepted"
    HOST_REJECTED = "host_rejected"
    DEPARTED = "departed"
    COMPLETED = "completed"


EDITABLE = frozenset({ApplicationStatus.DRAFT, ApplicationStatus.RETURNED})
# A student may withdraw at any time before nomination.
WITHDRAWABLE = frozenset(
    {
        ApplicationStatus.DRAFT,
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.RETURNED,
        ApplicationStatus.APPROVED,
        ApplicationStatus.PLACED,
        ApplicationStatus.WAITLISTED,
        ApplicationStatus.ACCEPTED,
    }
)


class Application(db.Model):
    __tablename__ = "applications"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "student_id", name="uq_applications_call_student"),
        sa.CheckConstraint("gpa IS NULL OR (gpa >= 0 AND gpa <= gpa_scale)", name="gpa_in_scale"),
        # The office's list of a call (applications/lists.py): counts per status and a page
        # of one status in submission order; a page of every status in submission order.
        # Index-only scans on PostgreSQL.
        sa.Index("ix_applications_call_status", "call_id", "status", "submitted_at", "id"),
        sa.Index("ix_applications_call_submitted", "call_id", "submitted_at", "id", "status"),
        # A student's applications, newest first; with the id, also the step from a student
        # to their applications of the queue sorted by name (index-only).
        sa.Index("ix_applications_student", "student_id", "created_at", "id"),
        sa.Index("ix_applications_submitted_at", "submitted_at"),  # digests: new in a period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id"))
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    # The student's unit when they applied: it decides who approves and where it counts.
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_column(ApplicationStatus), default=ApplicationStatus.DRAFT
    )
    statement: Mapped[str] = mapped_column(sa.Text, default="")
    gpa: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    gpa_scale: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("4.00"))
    score: Mapped[Decimal | None] = mapped_column(sa.Numeric(7, 3))
    # The offering the student was placed on by the allocation (one of their choices).
    placed_offering_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("call_offerings.id"), index=True
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The student's profile as it was at the last submission (accounts.profiles.snapshot).
    profile_snapshot: Mapped[dict | None] = mapped_column(sa.JSON)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    call: Mapped[Call] = relationship()
    student: Mapped[User] = relationship()
    unit: Mapped[Unit | None] = relationship()
    choices: Mapped[list["ApplicationChoice"]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="ApplicationChoice.rank",
    )
    languages: Mapped[list["ApplicationLanguage"]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="ApplicationLanguage.language",
    )
    documents: Mapped[list["Document"]] = relationship(
        back_populates="application", order_by="Document.id"
    )
    events: Mapped[list["ApplicationEvent"]] = relationship(
        back_populates="application", order_by="ApplicationEvent.id"
    )
    steps = relationship(
        "ApplicationStep",
        back_populates="application",
        order_by="(ApplicationStep.round, ApplicationStep.position)",
    )
    # The step the application waits for, when the statement that loads it asks (approvals
    # provides the expressions, see `review.provide`): its name ("" when none waits; None
    # when not asked for) and due time, so that the page need not load the steps for them.
    waiting_step_name: Mapped[str | None] = query_expression()
    waiting_step_due: Mapped[datetime | None] = query_expression()

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE

    def __repr__(self):
        return f"<Application {self.id} {self.status.value}>"


class ApplicationChoice(db.Model):
    __tablename__ = "application_choices"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "rank", name="uq_application_choices_rank"),
        sa.UniqueConstraint(
            "application_id", "offering_id", name="uq_application_choices_offering"
        ),
        sa.CheckConstraint("rank >= 1", name="rank_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE")
    )
    rank: Mapped[int]
    offering_id: Mapped[int] = mapped_column(sa.ForeignKey("call_offerings.id"), index=True)

    application: Mapped[Application] = relationship(back_populates="choices")
    offering: Mapped[CallOffering] = relationship()


class ApplicationLanguage(db.Model):
    """A language result as the student confirmed it when applying."""

    __tablename__ = "application_languages"
    __table_args__ = (sa.UniqueConstraint("application_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE")
    )
    language: Mapped[str] = mapped_column(sa.String(8), doc="ISO 639-1")
    level: Mapped[CEFR] = mapped_column(enum_column(CEFR))
    test_name: Mapped[str] = mapped_column(sa.String(64), default="")

    application: Mapped[Application] = relationship(back_populates="languages")


class Document(db.Model):
    """A file attached to an application, stored outside static/ under a random name."""

    __tablename__ = "application_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind))
    original_name: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(64), doc="sniffed from the content")
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    application: Mapped[Application] = relationship(back_populates="documents")


class ApplicationEvent(db.Model):
    """One entry of the application's timeline: a transition or a decision, who and why."""

    __tablename__ = "application_events"
    __table_args__ = (sa.Index("ix_application_events_app", "application_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(sa.String(64))
    from_status: Mapped[ApplicationStatus | None] = mapped_column(
        enum_column(ApplicationStatus, name="from_status")
    )
    to_status: Mapped[ApplicationStatus | None] = mapped_column(
        enum_column(ApplicationStatus, name="to_status")
    )
    comment: Mapped[str | None] = mapped_column(sa.Text)
    # Staff-only notes never reach the student's timeline.
    internal: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    application: Mapped[Application] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
