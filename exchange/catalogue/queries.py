"""Read models of the catalogue: the filtered partner list and the partner page, each loaded
in a fixed number of statements whatever the number of rows."""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from ..accounts.models import Unit
from ..core.audit import AuditEvent
from ..core.database import utcnow
from ..core.params import page_number, whole
from ..extensions import db
from . import hooks, reference
from .academic import current_academic_year
from .eligibility import StudentFacts, eligible_clause
from .models import (
    Agreement,
    AgreementStatus,
    AgreementType,
    Partner,
    PartnerStatus,
    agreement_units,
)

SORTS = {"name", "country", "places"}
PER_PAGE = 20


@dataclass
class CatalogueFilters:
    q: str = ""
    country: str = ""
    continent: str = ""
    language: str = ""
    subject: str = ""
    level: str = ""
    type: str = ""
    unit: int | None = None
    eligible: bool = False
    open_call: bool = False
    with_agreement: bool = True
    include_inactive: bool = False
    sort: str = "name"
    page: int = 1
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args, *, staff=False):
        """Read filters from a query string; unknown values are dropped, not trusted."""
        f = cls()
        f.q = (args.get("q") or "").strip()[:100]
        f.country = reference.normalise_country(args.get("country")) or ""
        continent = (args.get("continent") or "").upper()
        f.continent = continent if continent in reference.CONTINENTS else ""
        f.language = reference.normalise_language(args.get("language")) or ""
        subject = (args.get("subject") or "").strip()
        f.subject = subject if subject in reference.isced_fields() else ""
        level = args.get("level") or ""
        f.level = level if level in {"bachelor", "master", "doctoral"} else ""
        kind = args.get("type") or ""
        f.type = kind if kind in {t.value for t in AgreementType} else ""
        f.unit = whole(args.get("unit"))
        f.eligible = args.get("eligible") == "1"
        f.open_call = args.get("open_call") == "1"
        f.sort = args.get("sort") if args.get("sort") in SORTS else "name"
        f.page = page_number(args)
        if staff:
            # Staff may list partners without agreements and inactive ones; students never.
            f.with_agreement = args.get("all") != "1"
            f.include_inactive = args.get("inactive") == "1"
        return f

    def args(self, **changes):
        """The query-string arguments that reproduce these filters (for links and export)."""
        values = {
            "q": self.q,
            "country": self.country,
            "continent": self.continent,
            "language": self.language,
            "subject": self.subject,
            "level": self.level,
            "type": self.type,
            "unit": self.unit,
            "eligible": "1" if self.eligible else "",
            "open_call": "1" if self.open_call else "",
            "all": "" if self.with_agreement else "1",
            "inactive": "1" if self.include_inactive else "",
            "sort": self.sort,
            "page": self.page if self.page > 1 else "",
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None)}

    @property
    def count(self):
        """How many filters are set (shown on the folded filters' button on a phone)."""
        return sum(
            bool(v)
            for v in (
                self.q,
                self.country,
                self.continent,
                self.language,
                self.subject,
                self.level,
                self.type,
                self.unit,
                self.eligible,
                self.open_call,
            )
        )

    @property
    def any(self):
        return self.count > 0


def current_agreement_clause(year):
    """Agreements a student can go on now: active and not past their last year."""
    return sa.and_(Agreement.status == AgreementStatus.ACTIVE, Agreement.last_academic_year >= year)


def agreement_clause(filters: CatalogueFilters, student: StudentFacts | None, year):
    conditions = [current_agreement_clause(year)]
    if filters.subject:
        # Codes are stored space-separated; a broad or narrow field matches its sub-fields.
        conditions.append((sa.literal(" ") + Agreement.subject_areas).like(f"% {filters.subject}%"))
    if filters.level:
        conditions.append(getattr(Agreement, filters.level).is_(True))
    if filters.type:
        conditions.append(Agreement.type == AgreementType(filters.type))
    if filters.unit:
        conditions.append(
            sa.or_(
                Agreement.all_units.is_(True),
                sa.exists().where(
                    agreement_units.c.agreement_id == Agreement.id,
                    agreement_units.c.unit_id == filters.unit,
                ),
            )
        )
    if filters.eligible and student is not None:
        conditions.append(eligible_clause(student))
    if filters.open_call:
        conditions.append(hooks.offered_in_open_call(utcnow()))
    return sa.and_(*conditions)


def partner_clause(filters: CatalogueFilters, student: StudentFacts | None, year):
    conditions = []
    if not filters.include_inactive:
        conditions.append(Partner.status == PartnerStatus.ACTIVE)
    if filters.q:
        needle = filters.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Partner.search_text.like(f"%{needle}%", escape="\\"))
    if filters.country:
        conditions.append(Partner.country == filters.country)
    if filters.continent:
        conditions.append(Partner.country.in_(reference.countries_in(filters.continent)))
    if filters.language:
        conditions.append(
            (sa.literal(" ") + Partner.languages + " ").like(f"% {filters.language} %")
        )
    agreement_filters = (
        filters.subject
        or filters.level
        or filters.type
        or filters.unit
        or (filters.eligible and student is not None)
        or filters.open_call
    )
    if filters.with_agreement or agreement_filters:
        conditions.append(
            sa.exists().where(
                Agreement.partner_id == Partner.id, agreement_clause(filters, student, year)
            )
        )
    return sa.and_(sa.true(), *conditions)


def _places_by_partner(year):
    """Current places per year of each partner with any: grouped once, to join, rather than a
    sum per partner (a correlated subquery run for each of 10,000 partners took ~50 ms)."""
    return (
        sa.select(Agreement.partner_id, sa.func.sum(Agreement.places_per_year).label("places"))
        .where(current_agreement_clause(year))
        .group_by(Agreement.partner_id)
        .subquery("partner_places")
    )


def search_partners(filters: CatalogueFilters, student: StudentFacts | None = None):
    """The SELECT of partners matching `filters`, sorted (not paginated)."""
    year = current_academic_year()
    stmt = sa.select(Partner).where(partner_clause(filters, student, year))
    if filters.sort == "country":
        stmt = stmt.order_by(Partner.country, Partner.name_key, Partner.id)
    elif filters.sort == "places":
        places = _places_by_partner(year)
        stmt = stmt.outerjoin(places, places.c.partner_id == Partner.id).order_by(
            sa.func.coalesce(places.c.places, 0).desc(), Partner.name_key, Partner.id
        )
    else:
        stmt = stmt.order_by(Partner.name_key, Partner.id)
    return stmt


@dataclass(frozen=True)
class UnitRef:
    id: int
    code: str


@dataclass(frozen=True)
class AgreementView:
    """What the list shows of an agreement, shaped for the template."""

    id: int
    partner_id: int
    type: AgreementType
    places_per_year: int
    months_per_mobility: int
    degree_levels: tuple
    first_academic_year: int
    last_academic_year: int
    language: str | None
    language_level: object
    min_gpa: object
    min_gpa_scale: object
    all_units: bool
    units: tuple
    subject_area_list: tuple

    @classmethod
    def of_row(cls, a, unit_rows):
        """From a row of AGREEMENT_VIEW_COLUMNS, and its rows' unit ids and codes."""
        return cls(
            id=a.id,
            partner_id=a.partner_id,
            type=a.type,
            places_per_year=a.places_per_year,
            months_per_mobility=a.months_per_mobility,
            # The model's rule, read from the row's bachelor/master/doctoral flags.
            degree_levels=tuple(Agreement.degree_levels.fget(a)),
            first_academic_year=a.first_academic_year,
            last_academic_year=a.last_academic_year,
            language=a.language,
            language_level=a.language_level,
            min_gpa=a.min_gpa,
            min_gpa_scale=a.min_gpa_scale,
            all_units=a.all_units,
            units=tuple(UnitRef(r.unit_id, r.unit_code) for r in unit_rows if r.unit_id),
            subject_area_list=tuple(a.subject_areas.split()) if a.subject_areas else (),
        )


# The agreements' columns the list reads (AgreementView.of_row).
AGREEMENT_VIEW_COLUMNS = (
    "id",
    "partner_id",
    "type",
    "places_per_year",
    "months_per_mobility",
    "bachelor",
    "master",
    "doctoral",
    "first_academic_year",
    "last_academic_year",
    "language",
    "language_level",
    "min_gpa",
    "min_gpa_scale",
    "all_units",
    "subject_areas",
)


@dataclass(frozen=True)
class PartnerView:
    id: int
    name: str
    name_native: str | None
    country: str
    city: str | None
    language_codes: tuple
    active: bool
    agreements: tuple

    @classmethod
    def of_row(cls, p, agreements):
        return cls(
            id=p.id,
            name=p.name,
            name_native=p.name_native,
            country=p.country,
            city=p.city,
            language_codes=tuple(p.languages.split()) if p.languages else (),
            active=p.status is PartnerStatus.ACTIVE,
            agreements=tuple(agreements),
        )


def catalogue_page(filters: CatalogueFilters, student: StudentFacts | None = None):
    """One page of partners with their current agreements, in two statements: the page's
    partners with the total riding on each row (a third when the page asked for is past the
    last one), then their agreements with their units' codes."""
    year = current_academic_year()
    stmt = search_partners(filters, student)
    matching = sa.select(Partner.id).where(partner_clause(filters, student, year))
    # An uncorrelated scalar subquery, computed once (an InitPlan on PostgreSQL) with a plan of
    # its own: at 10,000 partners a hash semi-join, ~2x cheaper than count(*) OVER (), which
    # would walk every matching partner through the page's nested loop.
    total = sa.select(sa.func.count()).select_from(matching.subquery()).scalar_subquery()
    columns = (
        Partner.id,
        Partner.name,
        Partner.name_native,
        Partner.country,
        Partner.city,
        Partner.languages,
        Partner.status,
        total.label("total"),
    )
    page = max(filters.page, 1)

    def partners_on(page):
        offset = (page - 1) * PER_PAGE
        return db.session.execute(
            stmt.with_only_columns(*columns).offset(offset).limit(PER_PAGE)
        ).all()

    rows = partners_on(page)
    if rows:
        total = rows[0].total
    else:
        total = db.session.scalar(sa.select(total))
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:  # past the last page: show the last one, as the links would
        page = pages
        rows = partners_on(page)
    agreements = {}
    if rows:
        # Aliased: the filters' EXISTS on agreement_units must not correlate to this join.
        links = agreement_units.alias("unit_links")
        agreement_rows = db.session.execute(
            sa.select(
                *(getattr(Agreement, name) for name in AGREEMENT_VIEW_COLUMNS),
                Unit.id.label("unit_id"),
                Unit.code.label("unit_code"),
            )
            .outerjoin(links, links.c.agreement_id == Agreement.id)
            .outerjoin(Unit, Unit.id == links.c.unit_id)
            .where(
                Agreement.partner_id.in_([r.id for r in rows]),
                # The agreements the filters chose the partner by, not all its current
                # ones: "only agreements I am eligible for" must not list one the student
                # does not meet.
                agreement_clause(filters, student, year),
            )
            .order_by(Agreement.partner_id, Agreement.type, Agreement.id, Unit.code)
        ).all()
        by_agreement = {}  # one row per agreement and unit, in the list's order
        for r in agreement_rows:
            by_agreement.setdefault(r.id, []).append(r)
        for group in by_agreement.values():
            view = AgreementView.of_row(group[0], group)
            agreements.setdefault(view.partner_id, []).append(view)
    return {
        "partners": tuple(PartnerView.of_row(r, agreements.get(r.id, ())) for r in rows),
        "total": total,
        "page": page,
        "pages": pages,
        "year": year,
    }


def units():
    """All units, for the filter: (id, label) pairs."""
    return tuple(
        (row.id, f"{row.code} · {row.name}")
        for row in db.session.execute(sa.select(Unit.id, Unit.code, Unit.name).order_by(Unit.code))
    )


def partner_page(partner_id, *, staff):
    """The partner with contacts and agreements (all of them for staff, current ones for
    students), and its history for staff."""
    year = current_academic_year()
    row = (
        db.session.execute(
            sa.select(Partner, hooks.students_sent(Partner.id))
            .where(Partner.id == partner_id)
            .options(joinedload(Partner.contacts))
        )
        .unique()
        .first()
    )
    if row is None:
        return None
    partner, sent = row
    if not staff and partner.status is not PartnerStatus.ACTIVE:
        return None
    stmt = (
        sa.select(Agreement)
        .where(Agreement.partner_id == partner.id)
        .options(joinedload(Agreement.units))
        .order_by(Agreement.last_academic_year.desc(), Agreement.id)
    )
    if not staff:
        stmt = stmt.where(current_agreement_clause(year))
    agreements = db.session.scalars(stmt).unique().all()
    history = []
    if staff:
        agreement_ids = [str(a.id) for a in agreements]
        history = db.session.scalars(
            sa.select(AuditEvent)
            .where(
                sa.or_(
                    sa.and_(
                        AuditEvent.object_type == "Partner", AuditEvent.object_id == str(partner.id)
                    ),
                    sa.and_(
                        AuditEvent.object_type == "Agreement",
                        AuditEvent.object_id.in_(agreement_ids),
                    ),
                )
            )
            .order_by(AuditEvent.id.desc())
            .limit(50)
        ).all()
    return {
        "partner": partner,
        "agreements": agreements,
        "history": history,
        "year": year,
        "students_sent": sent,
    }
