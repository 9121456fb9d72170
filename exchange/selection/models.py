"""What selection stores: a call's criteria and tie-breaks, committee scores, quotas on
offerings, coordinators' overrides, and each allocation run with its outcomes."""

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import DegreeLevel, User
from ..applications.models import Application
from ..calls.models import Call, CallOffering
from ..core.database import UTCDateTime, enum_column, utcnow
from ..extensions import db
from .engine import Outcome


class CriterionKind(enum.Enum):
    GPA = "gpa"  # the application's GPA over its scale
    LANGUAGE = "language"  # the best CEFR level (of one language, or any)
    COMMITTEE = "committee"  # scored by hand, 0 to the criterion's maximum


class TieBreak(enum.Enum):
    """Applied in the call's order after the total; a random draw with the recorded seed
    always comes last, so that no two applicants stay equal."""

    EARLIER_SUBMISSION = "earlier_submission"
    HIGHER_GPA = "higher_gpa"


class RunKind(enum.Enum):
    PREVIEW = "preview"
    COMMITTED = "committed"


class SelectionCriterion(db.Model):
    __tablename__ = "selection_criteria"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "position", name="uq_selection_criteria_position"),
        sa.CheckConstraint("weight >= 0", name="weight_not_negative"),
        sa.CheckConstraint(
            "(kind = 'committee') = (maximum IS NOT NULL)", name="maximum_for_committee"
        ),
        sa.CheckConstraint("maximum IS NULL OR maximum > 0", name="maximum_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    kind: Mapped[CriterionKind] = mapped_column(enum_column(CriterionKind))
    label: Mapped[str] = mapped_column(sa.String(120))
    # Points the criterion is worth at its best: a total is the sum of weight x fraction.
    weight: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2))
    maximum: Mapped[Decimal | None] = mapped_column(sa.Numeric(7, 2), doc="committee only")
    language: Mapped[str | None] = mapped_column(
        sa.String(8), doc="language criteria: ISO 639-1 code, or none for the best of any"
    )

    call: Mapped[Call] = relationship()


class SelectionScore(db.Model):
    """A committee member's score of one application on one committee criterion."""

    __tablename__ = "selection_scores"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "criterion_id", name="uq_selection_scores_pair"),
        sa.CheckConstraint("value >= 0", name="value_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE")
    )
    criterion_id: Mapped[int] = mapped_column(
        sa.ForeignKey("selection_criteria.id", ondelete="CASCADE"), index=True
    )
    value: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2))
    scored_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    criterion: Mapped[SelectionCriterion] = relationship()
    scored_by: Mapped[User | None] = relationship()


class SelectionSettings(db.Model):
    """A call's tie-break order and the seed of its random draw, once one was recorded."""

    __tablename__ = "selection_settings"

    call_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    tie_breaks: Mapped[str] = mapped_column(
        sa.String(200),
        default="earlier_submission higher_gpa",
        doc="TieBreak values, space-separated, in order",
    )
    seed: Mapped[int | None] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def tie_break_order(self) -> list[TieBreak]:
        return [TieBreak(v) for v in self.tie_breaks.split()]


class OfferingQuota(db.Model):
    """At most `places` of an offering for the students of one unit, or of one degree level."""

    __tablename__ = "offering_quotas"
    __table_args__ = (
        sa.CheckConstraint("places >= 0", name="places_not_negative"),
        sa.CheckConstraint("(unit_id IS NULL) <> (degree_level IS NULL)", name="one_group"),
        sa.UniqueConstraint("offering_id", "unit_id", name="uq_offering_quotas_unit"),
        sa.UniqueConstraint("offering_id", "degree_level", name="uq_offering_quotas_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("call_offerings.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    degree_level: Mapped[DegreeLevel | None] = mapped_column(enum_column(DegreeLevel))
    places: Mapped[int]

    offering: Mapped[CallOffering] = relationship()


class AllocationOverride(db.Model):
    """The coordinator's placement of one application, with the reason; the allocation places
    it first and computes the rest around it."""

    __tablename__ = "allocation_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), unique=True
    )
    offering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("call_offerings.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship()
    offering: Mapped[CallOffering] = relationship()


class AllocationRun(db.Model):
    __tablename__ = "allocation_runs"
    __table_args__ = (sa.Index("ix_allocation_runs_call", "call_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"))
    kind: Mapped[RunKind] = mapped_column(enum_column(RunKind))
    seed: Mapped[int] = mapped_column(sa.BigInteger)
    tie_breaks: Mapped[str] = mapped_column(sa.String(200))
    run_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    run_by: Mapped[User | None] = relationship()


class AllocationOutcome(db.Model):
    """One application's result in one run: its score with the parts, rank and outcome."""

    __tablename__ = "allocation_outcomes"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "application_id", name="uq_allocation_outcomes_app"),
        sa.UniqueConstraint("run_id", "rank", name="uq_allocation_outcomes_rank"),
        sa.CheckConstraint("rank >= 1", name="rank_positive"),
        sa.CheckConstraint(
            "(outcome = 'placed') = (offering_id IS NOT NULL)", name="placed_has_offering"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("allocation_runs.id", ondelete="CASCADE"))
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[Decimal] = mapped_column(sa.Numeric(9, 4))
    parts: Mapped[dict] = mapped_column(sa.JSON, doc="criterion id -> points")
    rank: Mapped[int]
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome))
    offering_id: Mapped[int | None] = mapped_column(sa.ForeignKey("call_offerings.id"))
    choice_rank: Mapped[int | None] = mapped_column(doc="1 = first choice; none if off-list")
    overridden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Why higher choices were not given (engine.ChoiceNote as lists), for the explanation.
    notes: Mapped[list] = mapped_column(sa.JSON, default=list)


# --- publication (issue 15, item 4) -----------------------------------------------------------


class ObjectionStatus(enum.Enum):
    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class Publication(db.Model):
    """A call's committed allocation run made known to its applicants: once per call. With an
    objection window the result becomes final when the window ends (`final_at` is written by
    the beat, exactly once; pages compute it from `window_ends_at` before the beat runs)."""

    __tablename__ = "selection_publications"
    __table_args__ = (
        sa.CheckConstraint(
            "window_days IS NULL OR window_days BETWEEN 1 AND 60", name="window_days_range"
        ),
        sa.CheckConstraint(
            "(window_days IS NULL) = (window_ends_at IS NULL)", name="window_has_end"
        ),
        sa.Index("ix_selection_publications_due", "final_at", "window_ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("allocation_runs.id"))
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    window_days: Mapped[int | None]
    window_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whether every applicant of the call sees the ranked list (names masked).
    list_shown: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    call: Mapped[Call] = relationship()
    run: Mapped[AllocationRun] = relationship()
    published_by: Mapped[User | None] = relationship()

    def is_final(self, now: datetime) -> bool:
        return (
            self.final_at is not None or self.window_ends_at is None or now >= self.window_ends_at
        )

    def window_open(self, now: datetime) -> bool:
        return self.window_ends_at is not None and now < self.window_ends_at


class Objection(db.Model):
    """A student's objection to the published result of their application: one each, filed
    within the window, answered once by the office."""

    __tablename__ = "selection_objections"
    __table_args__ = (
        sa.UniqueConstraint(
            "publication_id", "application_id", name="uq_selection_objections_once"
        ),
        sa.CheckConstraint(
            "(status = 'open') = (answered_at IS NULL)", name="answered_when_decided"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(
        sa.ForeignKey("selection_publications.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(sa.Text)
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[ObjectionStatus] = mapped_column(
        enum_column(ObjectionStatus), default=ObjectionStatus.OPEN
    )
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    publication: Mapped[Publication] = relationship()
    application: Mapped[Application] = relationship()
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])


# --- offers and upgrades (issue 15, items 5 and 6) --------------------------------------------


class OfferStatus(enum.Enum):
    OPEN = "open"  # holds the place until the student answers or it expires
    ACCEPTED = "accepted"  # holds the place
    DECLINED = "declined"
    EXPIRED = "expired"  # declined by expiry
    UPGRADED = "upgraded"  # replaced by an offer of a choice the student ranked higher
    WITHDRAWN = "withdrawn"  # the allocation was committed again before anyone answered


HOLDING = (OfferStatus.OPEN, OfferStatus.ACCEPTED)


class OfferSettings(db.Model):
    """How long a call's students have to answer an offer."""

    __tablename__ = "offer_settings"
    __table_args__ = (sa.CheckConstraint("days BETWEEN 1 AND 90", name="days_in_range"),)

    call_id: Mapped[int] = mapped_column(
        sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    days: Mapped[int] = mapped_column(default=7)


class OfferingFill(db.Model):
    """The places of an offering held by open or accepted offers. Every offer that takes a
    place does `filled = filled + 1 WHERE filled < places` and checks the row count; the CHECK
    constraint is the last line: no transaction, however concurrent, commits an overfill."""

    __tablename__ = "offering_fills"
    __table_args__ = (
        sa.CheckConstraint("filled >= 0", name="filled_not_negative"),
        sa.CheckConstraint("filled <= places", name="filled_within_places"),
    )

    offering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("call_offerings.id", ondelete="CASCADE"), primary_key=True
    )
    places: Mapped[int]
    filled: Mapped[int] = mapped_column(default=0)


class SelectionOffer(db.Model):
    """A place offered to a student: from the committed allocation, or an upgrade."""

    __tablename__ = "selection_offers"
    __table_args__ = (
        # At most one offer per application holds a place.
        sa.Index(
            "uq_selection_offers_holding",
            "application_id",
            unique=True,
            postgresql_where=sa.text("status IN ('open', 'accepted')"),
            sqlite_where=sa.text("status IN ('open', 'accepted')"),
        ),
        sa.Index("ix_selection_offers_due", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    offering_id: Mapped[int] = mapped_column(
        sa.ForeignKey("call_offerings.id", ondelete="CASCADE"), index=True
    )
    choice_rank: Mapped[int | None] = mapped_column(doc="1 = first choice")
    status: Mapped[OfferStatus] = mapped_column(enum_column(OfferStatus))
    upgrade: Mapped[bool] = mapped_column(default=False, doc="an upgrade after a freed place")
    # Set by a student who accepted and wants to keep this place whatever frees above it.
    no_upgrades: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[Application] = relationship()
    offering: Mapped[CallOffering] = relationship()
