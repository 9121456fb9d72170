import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import CEFR, DegreeLevel, Unit
from ..core.database import UTCDateTime, enum_column, utcnow
from ..extensions import db


class PartnerStatus(enum.Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class AgreementType(enum.Enum):
    BILATERAL = "bilateral"  # bilateral student exchange
    DUAL_DEGREE = "dual_degree"
    JOINT_TRAINING = "joint_training"
    SUMMER_SCHOOL = "summer_school"
    RESEARCH_VISIT = "research_visit"


class AgreementStatus(enum.Enum):
    """Stored status. "expired" is never stored: it follows from the last academic year."""

    DRAFT = "draft"
    ACTIVE = "active"
    EXPIRED = "expired"
    TERMINATED = "terminated"


CEFR_RANK = {level: rank for rank, level in enumerate(CEFR, start=1)}

agreement_units = sa.Table(
    "agreement_units",
    db.metadata,
    sa.Column("agreement_id", sa.ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("unit_id", sa.ForeignKey("units.id"), primary_key=True, index=True),
)


class Partner(db.Model):
    __tablename__ = "partners"
    __table_args__ = (
        sa.Index("ix_partners_country_name", "country", "name"),
        sa.Index("ix_partners_name_key_country", "name_key", "country"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    # Lower-cased name: the import matches on it (with the country) when there is no hei-id.
    name_key: Mapped[str] = mapped_column(sa.String(255))
    name_native: Mapped[str | None] = mapped_column(sa.String(255))
    country: Mapped[str] = mapped_column(sa.String(2), doc="ISO 3166-1 alpha-2")
    city: Mapped[str | None] = mapped_column(sa.String(120))
    region: Mapped[str | None] = mapped_column(sa.String(120), doc="state or province")
    website: Mapped[str | None] = mapped_column(sa.String(255))
    hei_id: Mapped[str | None] = mapped_column(
        sa.String(255), unique=True, doc="EWP hei-id: the main internet domain"
    )
    domains: Mapped[str] = mapped_column(
        sa.String(1000), default="", doc="Internet domains, space-separated"
    )
    languages: Mapped[str] = mapped_column(
        sa.String(200), default="", doc="Languages of instruction, ISO 639-1, space-separated"
    )
    description: Mapped[str | None] = mapped_column(sa.Text)
    # Lower-cased name, native name, city, region and domains: one column to search.
    search_text: Mapped[str] = mapped_column(sa.String(2000), default="")
    status: Mapped[PartnerStatus] = mapped_column(
        enum_column(PartnerStatus), default=PartnerStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contacts: Mapped[list["PartnerContact"]] = relationship(
        back_populates="partner", cascade="all, delete-orphan", order_by="PartnerContact.id"
    )
    agreements: Mapped[list["Agreement"]] = relationship(
        back_populates="partner", order_by="Agreement.id"
    )

    @property
    def language_codes(self) -> list[str]:
        return self.languages.split() if self.languages else []

    @property
    def domain_list(self) -> list[str]:
        return self.domains.split() if self.domains else []

    def refresh_search_text(self):
        parts = [self.name, self.name_native, self.city, self.region, self.hei_id, self.domains]
        self.search_text = " ".join(p for p in parts if p).lower()[:2000]

    def __repr__(self):
        return f"<Partner {self.id} {self.name!r}>"


class PartnerContact(db.Model):
    __tablename__ = "partner_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(64))

    partner: Mapped[Partner] = relationship(back_populates="contacts")


class Agreement(db.Model):
    """An inter-institutional agreement (EWP IIA) with one partner."""

    __tablename__ = "agreements"
    __table_args__ = (
        sa.CheckConstraint("places_per_year >= 0", name="places_not_negative"),
        sa.CheckConstraint("months_per_mobility > 0", name="months_positive"),
        sa.CheckConstraint("last_academic_year >= first_academic_year", name="years_in_order"),
        sa.CheckConstraint(
            "min_gpa IS NULL OR (min_gpa >= 0 AND min_gpa <= min_gpa_scale)", name="gpa_in_scale"
        ),
        sa.Index("ix_agreements_partner_status", "partner_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partners.id"), index=True)
    code: Mapped[str | None] = mapped_column(sa.String(64), doc="Our reference, e.g. IIA-2024-017")
    type: Mapped[AgreementType] = mapped_column(enum_column(AgreementType))
    status: Mapped[AgreementStatus] = mapped_column(
        enum_column(AgreementStatus), default=AgreementStatus.DRAFT
    )
    first_academic_year: Mapped[int] = mapped_column(doc="2026 means 2026/27")
    last_academic_year: Mapped[int]
    places_per_year: Mapped[int] = mapped_column(default=1)
    months_per_mobility: Mapped[int] = mapped_column(default=5)
    all_units: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    bachelor: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    master: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    doctoral: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    subject_areas: Mapped[str] = mapped_column(
        sa.String(500), default="", doc="ISCED-F codes, space-separated"
    )
    language: Mapped[str | None] = mapped_column(sa.String(8), doc="ISO 639-1")
    language_level: Mapped[CEFR | None] = mapped_column(enum_column(CEFR))
    language_rank: Mapped[int | None] = mapped_column(doc="CEFR level as 1..6, for SQL filters")
    min_gpa: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    min_gpa_scale: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("4.00"))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    document_name: Mapped[str | None] = mapped_column(sa.String(255), doc="original file name")
    document_path: Mapped[str | None] = mapped_column(sa.String(255), doc="random stored name")
    document_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    document_size: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    partner: Mapped[Partner] = relationship(back_populates="agreements")
    units: Mapped[list[Unit]] = relationship(secondary=agreement_units, order_by=Unit.code)

    @property
    def degree_levels(self) -> list[DegreeLevel]:
        flags = {
            DegreeLevel.BACHELOR: self.bachelor,
            DegreeLevel.MASTER: self.master,
            DegreeLevel.DOCTORAL: self.doctoral,
        }
        return [level for level, on in flags.items() if on]

    @property
    def subject_area_list(self) -> list[str]:
        return self.subject_areas.split() if self.subject_areas else []

    def effective_status(self, current_year: int) -> AgreementStatus:
        if self.status is AgreementStatus.ACTIVE and self.last_academic_year < current_year:
            return AgreementStatus.EXPIRED
        return self.status

    def covers(self, academic_year: int) -> bool:
        return self.first_academic_year <= academic_year <= self.last_academic_year
