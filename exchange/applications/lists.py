"""Read models of a call's applications for the international office: the list's filters, one
page in a fixed number of statements whatever the number of rows, the counts per status, and
the rows of the export, streamed."""

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import groupby

import sqlalchemy as sa
from flask_babel import to_user_timezone

from ..accounts.models import StudentProfile, Unit, User
from ..calls.labels import offering_terms
from ..calls.models import Call, CallOffering
from ..catalogue.formats import neutralise
from ..catalogue.models import Agreement, Partner
from ..core.params import page_number, whole
from ..extensions import db
from .labels import STATUS_COLOURS, STATUS_LABELS  # noqa: F401 - used by the views
from .models import Application, ApplicationChoice, ApplicationStatus, Document

PER_PAGE = 50
# The sorts and the direction each starts in when its column heading is first clicked.
SORTS = {"submitted": "desc", "name": "asc", "gpa": "desc", "status": "asc"}
DEFAULT_SORT = "submitted"
# Drafts are the students' own business until submitted: listed only when asked for.
NOT_DRAFT = tuple(s for s in ApplicationStatus if s is not ApplicationStatus.DRAFT)

# One wording and one colour per status, shared with the student's pages.
STATUS_BADGES = {status: f"text-bg-{colour}" for status, colour in STATUS_COLOURS.items()}


@dataclass
class ApplicationFilters:
    statuses: tuple = ()  # empty: every status but drafts
    unit: int | None = None
    choice: int | None = None  # an offering id, at any rank (or the first, with first_choice)
    partner: int | None = None
    first_choice: bool = False
    q: str = ""
    sort: str = DEFAULT_SORT
    direction: str = SORTS[DEFAULT_SORT]
    page: int = 1
    # The partner's offerings in this call, looked up in the filter options: as literal ids
    # the planner sees how popular they are (a subquery hides it) and picks its plan by that.
    partner_offerings: tuple = ()

    @classmethod
    def from_args(cls, args):
        """Read filters from a query string; unknown values are dropped, not trusted."""
        f = cls()
        known = {s.value for s in ApplicationStatus}
        wanted = {v for raw in args.getlist("status") for v in raw.split(",") if v in known}
        f.statuses = tuple(s for s in ApplicationStatus if s.value in wanted)
        f.unit = whole(args.get("unit"))
        f.choice = whole(args.get("choice"))
        f.partner = whole(args.get("partner"))
        f.first_choice = args.get("first") == "1"
        f.q = (args.get("q") or "").strip()[:100]
        f.sort = args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT
        direction = args.get("dir")
        f.direction = direction if direction in ("asc", "desc") else SORTS[f.sort]
        f.page = page_number(args)
        return f

    def args(self, **changes):
        """The query-string arguments that reproduce these filters (for links and export)."""
        values = {
            "status": [s.value for s in self.statuses],
            "unit": self.unit,
            "choice": self.choice,
            "partner": self.partner,
            "first": "1" if self.first_choice else "",
            "q": self.q,
            "sort": "" if self.sort == DEFAULT_SORT else self.sort,
            "dir": "" if self.direction == SORTS[self.sort] else self.direction,
            "page": self.page if self.page > 1 else "",
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None, [], ())}

    def sort_args(self, sort):
        """The link of a column heading: sort by it, or turn the direction round if it is the
        sort already."""
        if sort == self.sort:
            direction = "asc" if self.direction == "desc" else "desc"
        else:
            direction = SORTS[sort]
        return self.args(
            sort="" if sort == DEFAULT_SORT else sort,
            dir="" if direction == SORTS[sort] else direction,
            page=None,
        )

    def status_args(self, status):
        """Only this status, keeping the other filters."""
        return self.args(status=[status.value], page=None)

    def resolve(self, options):
        """Attach what the query needs from the call's filter options."""
        self.partner_offerings = tuple(
            oid for oid, pid in options["offering_partner"].items() if pid == self.partner
        )
        return self

    @property
    def shown_statuses(self):
        return self.statuses or NOT_DRAFT

    @property
    def any(self):
        return bool(self.statuses or self.unit or self.choice or self.partner or self.q)


# --- the query ---------------------------------------------------------------------------------


def _escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _chosen(f):
    """Applications with the filtered offering or partner among their choices (or first)."""
    stmt = sa.select(ApplicationChoice.application_id)
    if f.choice:
        stmt = stmt.where(ApplicationChoice.offering_id == f.choice)
    if f.partner:
        stmt = stmt.where(ApplicationChoice.offering_id.in_(f.partner_offerings))
    if f.first_choice:
        stmt = stmt.where(ApplicationChoice.rank == 1)
    return stmt


def filter_clause(call_id, f: ApplicationFilters, *, with_status=True):
    conditions = [Application.call_id == call_id]
    if with_status:
        if f.statuses:
            conditions.append(Application.status.in_(f.statuses))
        else:
            conditions.append(Application.status != ApplicationStatus.DRAFT)
    if f.unit:
        conditions.append(Application.unit_id == f.unit)
    if f.choice or f.partner:
        conditions.append(Application.id.in_(_chosen(f)))
    if f.q:
        like = f"%{_escape_like(f.q.lower())}%"
        conditions.append(
            Application.student_id.in_(
                sa.select(User.id)
                .outerjoin(StudentProfile, StudentProfile.user_id == User.id)
                .where(
                    sa.or_(
                        sa.func.lower(User.name).like(like, escape="\\"),
                        User.email_key.like(like, escape="\\"),
                        sa.func.lower(StudentProfile.student_number).like(like, escape="\\"),
                    )
                )
            )
        )
    return sa.and_(*conditions)


# The life-cycle order, not the alphabetical order of the stored values.
_STATUS_RANK = sa.case(
    {s.value: rank for rank, s in enumerate(ApplicationStatus)},
    value=sa.type_coerce(Application.status, sa.String),
)


def _order(f: ApplicationFilters):
    desc = f.direction == "desc"

    def way(column, nulls_last=False):
        ordered = column.desc() if desc else column.asc()
        if nulls_last:
            return ordered.nulls_last()
        # Unsubmitted (NULL) counts as the latest: the order a plain index gives both ways.
        return ordered.nulls_first() if desc else ordered.nulls_last()

    tie = way(Application.id)
    if f.sort == "name":
        return [way(User.name), tie]
    if f.sort == "gpa":
        return [way(Application.gpa / Application.gpa_scale, nulls_last=True), tie]
    if f.sort == "status":
        return [way(_STATUS_RANK), way(Application.submitted_at), tie]
    return [way(Application.submitted_at), tie]


def _documents():
    return (
        sa.select(sa.func.count(Document.id))
        .where(Document.application_id == Application.id)
        .correlate(Application)
        .scalar_subquery()
    )


def _ordered_ids(call_id, f: ApplicationFilters):
    """The ids of the filtered applications in the list's order: on PostgreSQL an index walk
    of the applications table alone (see the indexes on Application)."""
    stmt = sa.select(Application.id).where(filter_clause(call_id, f)).order_by(*_order(f))
    if f.sort == "name":
        stmt = stmt.join(User, User.id == Application.student_id)
    return stmt


def list_statement(call_id, f: ApplicationFilters, *, offset=None, limit=None):
    """The filtered, sorted applications with what the list shows, one row per choice (or
    one for an application without choices), in the list's order and then by rank. With a
    limit, the page's ids are picked first and only those are joined to the rest (first in
    the FROM clause: PostgreSQL keeps the written order of this many joins)."""
    if limit is None:
        start = sa.select().select_from(Application).where(filter_clause(call_id, f))
    else:
        ids = _ordered_ids(call_id, f).offset(offset).limit(limit).subquery()
        start = sa.select().select_from(ids).join(Application, Application.id == ids.c.id)
    return (
        start.add_columns(
            Application.id,
            Application.status,
            Application.gpa,
            Application.gpa_scale,
            Application.submitted_at,
            User.name,
            User.email,
            StudentProfile.student_number,
            Unit.code.label("unit_code"),
            _documents().label("documents"),
            ApplicationChoice.rank,
            Partner.name.label("partner"),
            Agreement.code,
            Agreement.type,
            Agreement.months_per_mobility,
        )
        .join(User, User.id == Application.student_id)
        .outerjoin(StudentProfile, StudentProfile.user_id == Application.student_id)
        .outerjoin(Unit, Unit.id == Application.unit_id)
        .outerjoin(ApplicationChoice, ApplicationChoice.application_id == Application.id)
        .outerjoin(CallOffering, CallOffering.id == ApplicationChoice.offering_id)
        .outerjoin(Agreement, Agreement.id == CallOffering.agreement_id)
        .outerjoin(Partner, Partner.id == Agreement.partner_id)
        .order_by(*_order(f), ApplicationChoice.rank)
    )


def application_rows(result):
    """ApplicationRows from the rows of `list_statement`, grouped as they arrive."""
    for _id, group in groupby(result, key=lambda r: r.id):
        group = list(group)
        choices = tuple(
            ChoiceRef(r.rank, r.partner, r.code, r.type, r.months_per_mobility)
            for r in group
            if r.rank is not None
        )
        yield ApplicationRow(*group[0][:10], choices=choices)


@dataclass(frozen=True)
class ChoiceRef:
    rank: int
    partner: str
    code: str | None
    type: object = None  # AgreementType: with the months, what tells one partner's offerings apart
    months_per_mobility: int = 0

    @property
    def label(self):
        return f"{self.partner} ({self.code})" if self.code else self.partner


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    status: ApplicationStatus
    gpa: Decimal | None
    gpa_scale: Decimal
    submitted_at: datetime | None
    name: str
    email: str
    student_number: str | None
    unit_code: str | None
    documents: int
    choices: tuple = ()

    @property
    def gpa_text(self):
        """3.40/4: the GPA as given, on its scale."""
        if self.gpa is None:
            return ""
        return f"{self.gpa:.2f}/{self.gpa_scale.normalize():f}"


@dataclass(frozen=True)
class CallRef:
    id: int
    title: str
    max_choices: int


def counts_statement(call_id, f: ApplicationFilters):
    """Applications per status under every filter but the status one. Unfiltered (the list's
    first page), it reads the index of (call, status) alone, never the table: 25,000
    applications of a call are counted in ~6 ms on PostgreSQL, as fast as a table of counts
    kept by every transition would need to be worth its upkeep (measured, issue 14)."""
    return (
        sa.select(Application.status, sa.func.count())
        .where(filter_clause(call_id, f, with_status=False))
        .group_by(Application.status)
    )


def status_counts(call: CallRef, f: ApplicationFilters):
    """Applications per status under every filter but the status one (one grouped query)."""
    return dict(db.session.execute(counts_statement(call.id, f)).all())


def application_page(call: CallRef, f: ApplicationFilters):
    """One page of the list, with the counts per status: two statements."""
    counts = status_counts(call, f)
    total = sum(counts.get(s, 0) for s in f.shown_statuses)
    pages = max(1, -(-total // PER_PAGE))
    page = min(f.page, pages)
    rows = list(
        application_rows(
            db.session.execute(
                list_statement(call.id, f, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
            )
        )
    )
    return {
        "rows": rows,
        # The statuses asked for are shown even when none matches, so they can be unticked.
        "counts": {
            s: counts.get(s, 0) for s in ApplicationStatus if counts.get(s) or s in f.statuses
        },
        "total": total,
        "submitted_total": sum(counts.get(s, 0) for s in NOT_DRAFT),
        "page": page,
        "pages": pages,
    }


@functools.cache
def _call_statement():
    """The call with its offerings and their partners (a row per offering; one, with no
    offering, for a call that has none)."""
    return (
        sa.select(
            Call.id.label("call_id"),
            Call.title,
            Call.max_choices,
            CallOffering.id,
            CallOffering.places,
            Partner.id.label("partner_id"),
            Partner.name,
            Agreement.code,
            Agreement.type,
            Agreement.months_per_mobility,
        )
        .select_from(Call)
        .outerjoin(CallOffering, CallOffering.call_id == Call.id)
        .outerjoin(Agreement, Agreement.id == CallOffering.agreement_id)
        .outerjoin(Partner, Partner.id == Agreement.partner_id)
        .where(Call.id == sa.bindparam("call_id"))
        .order_by(Partner.name_key, Agreement.code, CallOffering.id)
    )


def load_call(call_id):
    """What the list needs of the call, and its offerings and partners for the choice and
    partner filters, in one statement: (call, options), or None if there is no such call."""
    rows = db.session.execute(_call_statement(), {"call_id": call_id}).all()
    if not rows:
        return None
    first = rows[0]
    offerings, partners, offering_partner = [], {}, {}
    # A call's hundreds of offerings come in a few terms: each translated once.
    terms = {}
    for row in rows:
        if row.id is None:  # the call offers nothing
            continue
        key = (row.type, row.months_per_mobility, row.places)
        if key not in terms:
            terms[key] = offering_terms(row, row.places)
        # Two offerings of one partner differ by their terms, not only by a code.
        label = " · ".join(filter(None, (row.name, row.code, terms[key])))
        offerings.append((row.id, label))
        partners.setdefault(row.partner_id, row.name)
        offering_partner[row.id] = row.partner_id
    options = {
        "offerings": tuple(offerings),
        "partners": tuple(partners.items()),
        "offering_partner": offering_partner,
    }
    return CallRef(first.call_id, first.title, first.max_choices), options


# --- export ------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "application_id",
    "student_name",
    "email",
    "student_number",
    "unit",
    "status",
    "gpa",
    "gpa_scale",
    "submitted_at",
    "documents",
)


def export_header(call):
    """The columns, with one choice_k column per rank the call allows (or any row has)."""
    ranks = db.session.scalar(
        sa.select(sa.func.max(ApplicationChoice.rank))
        .join(Application, Application.id == ApplicationChoice.application_id)
        .where(Application.call_id == call.id)
    )
    count = max(call.max_choices, ranks or 0)
    return [*EXPORT_COLUMNS, *(f"choice_{k}" for k in range(1, count + 1))]


def export_rows(call_id, f: ApplicationFilters, width):
    """One list of cells per application of the filtered list, in the list's order, streamed
    from one statement."""
    stmt = list_statement(call_id, f).execution_options(yield_per=1000)
    choice_columns = width - len(EXPORT_COLUMNS)
    for row in application_rows(db.session.execute(stmt)):
        choices = [c.label for c in row.choices]
        cells = [
            row.id,
            row.name,
            row.email,
            row.student_number or "",
            row.unit_code or "",
            row.status.value,
            row.gpa,
            row.gpa_scale,
            to_user_timezone(row.submitted_at) if row.submitted_at else None,
            row.documents,
            *choices,
            *[""] * (choice_columns - len(choices)),
        ]
        yield [neutralise(c) for c in cells]
