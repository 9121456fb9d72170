"""Read models of a call's applications for the international office: the list's filters, one
page in a fixed number of statements whatever the number of rows, the counts per status, and
the rows of the export, streamed."""

import csv
import io
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import groupby

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..accounts.models import StudentProfile, Unit, User
from ..calls.models import Call, CallOffering
from ..catalogue.formats import XLSX_CELL_LIMIT, neutralise
from ..catalogue.models import Agreement, Partner
from ..core.cache import VersionedCache
from ..extensions import db
from .models import Application, ApplicationChoice, ApplicationStatus, Document

PER_PAGE = 50
# The sorts and the direction each starts in when its column heading is first clicked.
SORTS = {"submitted": "desc", "name": "asc", "gpa": "desc", "status": "asc"}
DEFAULT_SORT = "submitted"
# Drafts are the students' own business until submitted: listed only when asked for.
NOT_DRAFT = tuple(s for s in ApplicationStatus if s is not ApplicationStatus.DRAFT)

STATUS_LABELS = {
    ApplicationStatus.DRAFT: _l("Draft"),
    ApplicationStatus.SUBMITTED: _l("Submitted"),
    ApplicationStatus.IN_REVIEW: _l("In review"),
    ApplicationStatus.RETURNED: _l("Returned for changes"),
    ApplicationStatus.APPROVED: _l("Approved"),
    ApplicationStatus.REJECTED: _l("Rejected"),
    ApplicationStatus.WITHDRAWN: _l("Withdrawn"),
    ApplicationStatus.PLACED: _l("Placed"),
    ApplicationStatus.WAITLISTED: _l("Waitlisted"),
    ApplicationStatus.NOT_PLACED: _l("Not placed"),
    ApplicationStatus.ACCEPTED: _l("Accepted by student"),
    ApplicationStatus.DECLINED: _l("Declined by student"),
    ApplicationStatus.NOMINATED: _l("Nominated"),
    ApplicationStatus.HOST_ACCEPTED: _l("Accepted by host"),
    ApplicationStatus.HOST_REJECTED: _l("Rejected by host"),
    ApplicationStatus.DEPARTED: _l("Departed"),
    ApplicationStatus.COMPLETED: _l("Completed"),
}
_GOOD = {"APPROVED", "PLACED", "ACCEPTED", "NOMINATED", "HOST_ACCEPTED", "DEPARTED", "COMPLETED"}
_BAD = {"REJECTED", "NOT_PLACED", "HOST_REJECTED"}
_WAITING = {"SUBMITTED", "IN_REVIEW", "WAITLISTED"}
STATUS_BADGES = {
    s: "text-bg-success"
    if s.name in _GOOD
    else "text-bg-danger"
    if s.name in _BAD
    else "text-bg-primary"
    if s.name in _WAITING
    else "text-bg-warning"
    if s is ApplicationStatus.RETURNED
    else "text-bg-secondary"
    for s in ApplicationStatus
}


def _whole(value, low=1, high=10**9):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


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

    @classmethod
    def from_args(cls, args):
        """Read filters from a query string; unknown values are dropped, not trusted."""
        f = cls()
        known = {s.value for s in ApplicationStatus}
        wanted = {v for raw in args.getlist("status") for v in raw.split(",") if v in known}
        f.statuses = tuple(s for s in ApplicationStatus if s.value in wanted)
        f.unit = _whole(args.get("unit"))
        f.choice = _whole(args.get("choice"))
        f.partner = _whole(args.get("partner"))
        f.first_choice = args.get("first") == "1"
        f.q = (args.get("q") or "").strip()[:100]
        f.sort = args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT
        direction = args.get("dir")
        f.direction = direction if direction in ("asc", "desc") else SORTS[f.sort]
        f.page = _whole(args.get("page"), high=100_000) or 1
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

    @property
    def shown_statuses(self):
        return self.statuses or NOT_DRAFT

    @property
    def any(self):
        return bool(self.statuses or self.unit or self.choice or self.partner or self.q)


# --- the query ---------------------------------------------------------------------------------


def _escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _chosen(call_id, f):
    """Applications with the filtered offering or partner among their choices (or first)."""
    stmt = sa.select(ApplicationChoice.application_id)
    if f.choice:
        stmt = stmt.where(ApplicationChoice.offering_id == f.choice)
    if f.partner:
        stmt = stmt.where(
            ApplicationChoice.offering_id.in_(
                sa.select(CallOffering.id)
                .join(Agreement, Agreement.id == CallOffering.agreement_id)
                .where(CallOffering.call_id == call_id, Agreement.partner_id == f.partner)
            )
        )
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
        conditions.append(Application.id.in_(_chosen(call_id, f)))
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
    """The filtered, sorted applications, one row each with what the list shows. With a
    limit, the page's ids are picked first and only those rows are joined to the student."""
    stmt = (
        sa.select(
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
        )
        .join(User, User.id == Application.student_id)
        .outerjoin(StudentProfile, StudentProfile.user_id == Application.student_id)
        .outerjoin(Unit, Unit.id == Application.unit_id)
        .order_by(*_order(f))
    )
    if limit is None:
        return stmt.where(filter_clause(call_id, f))
    ids = _ordered_ids(call_id, f).offset(offset).limit(limit).subquery()
    return stmt.join(ids, ids.c.id == Application.id)


def _choices_statement():
    return (
        sa.select(
            ApplicationChoice.application_id,
            ApplicationChoice.rank,
            Partner.name,
            Agreement.code,
        )
        .join(CallOffering, CallOffering.id == ApplicationChoice.offering_id)
        .join(Agreement, Agreement.id == CallOffering.agreement_id)
        .join(Partner, Partner.id == Agreement.partner_id)
    )


@dataclass(frozen=True)
class ChoiceRef:
    rank: int
    partner: str
    code: str | None

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


# Counting a call's applications per status reads every one of them (an index-only scan on
# PostgreSQL, yet ~50k rows for a big call), so counts are kept per call and filters under the
# call's freshness token: the latest `updated_at` of its applications, which every insert and
# every change of an application row moves (status, unit, ...). Changes that leave the
# application row alone (a student renaming themself, a draft's choices) reach the counts
# within COUNTS_TTL seconds; the rows of the table are always read fresh.
counts_cache = VersionedCache("application_counts", maxsize=1024)
COUNTS_TTL = 30


def load_call(call_id):
    """The call and its freshness token, in one statement (None if there is no such call)."""
    latest = (
        sa.select(sa.func.max(Application.updated_at))
        .where(Application.call_id == Call.id)
        .correlate(Call)
        .scalar_subquery()
    )
    row = db.session.execute(sa.select(Call, latest).where(Call.id == call_id)).first()
    if row is None:
        return None, None
    return row[0], (row[1], int(time.time() // COUNTS_TTL))


def status_counts(call_id, f: ApplicationFilters, token=None):
    """Applications per status under every filter but the status one (one grouped query, or
    none when the counts for this token are known)."""

    def count():
        rows = db.session.execute(
            sa.select(Application.status, sa.func.count())
            .where(filter_clause(call_id, f, with_status=False))
            .group_by(Application.status)
        )
        return dict(rows.all())

    if token is None:
        return count()
    key = (call_id, f.unit, f.choice, f.partner, f.first_choice, f.q.lower())
    return counts_cache.get_or_set(key, count, version=token)


def application_page(call_id, f: ApplicationFilters, token=None):
    """One page of the list, with the counts per status, in three statements at most."""
    counts = status_counts(call_id, f, token)
    total = sum(counts.get(s, 0) for s in f.shown_statuses)
    pages = max(1, -(-total // PER_PAGE))
    page = min(f.page, pages)
    rows = db.session.execute(
        list_statement(call_id, f, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    ).all()
    choices = {}
    if rows:
        for app_id, rank, partner, code in db.session.execute(
            _choices_statement()
            .where(ApplicationChoice.application_id.in_([r.id for r in rows]))
            .order_by(ApplicationChoice.application_id, ApplicationChoice.rank)
        ):
            choices.setdefault(app_id, []).append(ChoiceRef(rank, partner, code))
    return {
        "rows": [ApplicationRow(*r, choices=tuple(choices.get(r.id, ()))) for r in rows],
        # The statuses asked for are shown even when none matches, so they can be unticked.
        "counts": {
            s: counts.get(s, 0) for s in ApplicationStatus if counts.get(s) or s in f.statuses
        },
        "total": total,
        "submitted_total": sum(counts.get(s, 0) for s in NOT_DRAFT),
        "page": page,
        "pages": pages,
    }


def filter_options(call_id):
    """The call's offerings and partners, for the choice and partner filters (one query)."""
    offerings, partners = [], {}
    for offering_id, partner_id, partner, code in db.session.execute(
        sa.select(CallOffering.id, Partner.id, Partner.name, Agreement.code)
        .join(Agreement, Agreement.id == CallOffering.agreement_id)
        .join(Partner, Partner.id == Agreement.partner_id)
        .where(CallOffering.call_id == call_id)
        .order_by(Partner.name_key, Agreement.code, CallOffering.id)
    ):
        offerings.append((offering_id, f"{partner} · {code}" if code else partner))
        partners.setdefault(partner_id, partner)
    return {"offerings": offerings, "partners": list(partners.items())}


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
    from one statement: applications joined to their choices, grouped as they arrive."""
    stmt = (
        list_statement(call_id, f)
        .add_columns(ApplicationChoice.rank, Partner.name.label("partner"), Agreement.code)
        .outerjoin(ApplicationChoice, ApplicationChoice.application_id == Application.id)
        .outerjoin(CallOffering, CallOffering.id == ApplicationChoice.offering_id)
        .outerjoin(Agreement, Agreement.id == CallOffering.agreement_id)
        .outerjoin(Partner, Partner.id == Agreement.partner_id)
        .order_by(ApplicationChoice.rank)
        .execution_options(yield_per=1000)
    )
    choice_columns = width - len(EXPORT_COLUMNS)
    for _id, group in groupby(db.session.execute(stmt), key=lambda r: r.id):
        group = list(group)
        first = group[0]
        choices = [ChoiceRef(r.rank, r.partner, r.code).label for r in group if r.rank is not None]
        submitted = to_user_timezone(first.submitted_at) if first.submitted_at else None
        cells = [
            first.id,
            first.name,
            first.email,
            first.student_number or "",
            first.unit_code or "",
            first.status.value,
            first.gpa,
            first.gpa_scale,
            submitted,
            first.documents,
            *choices,
        ]
        cells += [""] * (choice_columns - len(choices))
        yield [neutralise(c) for c in cells]


def csv_chunks(header, rows, every=500):
    """The CSV text in pieces, for a streamed response; with a BOM so Excel reads UTF-8.

    catalogue.formats.csv_chunks does the same with the partner columns fixed: both could be
    this one function with the header as an argument."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for number, row in enumerate(rows, start=1):
        writer.writerow(
            [c.isoformat(timespec="minutes") if isinstance(c, datetime) else c for c in row]
        )
        if number % every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _xlsx_cell(value):
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_CELL_LIMIT]
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones: the viewer's local time
    return value


def xlsx_file(title, header, rows):
    """The workbook in a temporary file (rows go to disk as they come, so memory stays flat
    for any number of rows); the caller sends and closes it, which deletes it."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(title)[:31])
    sheet.append(header)
    for row in rows:
        sheet.append([_xlsx_cell(v) for v in row])
    out = tempfile.TemporaryFile()
    workbook.save(out)
    out.seek(0)
    return out
