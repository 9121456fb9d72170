"""The approver's queue: the waiting steps a user may decide, a page at a time.

Who may decide a step is `operations.approves_directly` and `decider_for`. Here the same rule
is SQL, built from the roles and units of the user (loaded with the login) and of the people
they stand in for today: one piece per person and rule (`rule = … AND unit_id IN (…)`), each
answered by an index walk in the page's order (see the indexes on ApplicationStep), the
user's own pieces first and then those of each absent person, by id, minus what earlier
pieces cover. Keep `_grants` in step with `approves_directly`: tests/test_approvals.py
compares the queue with `decider_for` on a mixed data set.

A page costs three statements whatever its length: the count (which also tells whether the
user stands in for anyone today; only then are those people loaded and the count taken
again), the page's rows, and their choices and language results."""

import functools
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from ..accounts.models import Role, StudentProfile, Unit, UnitFunction, User
from ..applications.models import (
    Application,
    ApplicationChoice,
    ApplicationLanguage,
    Document,
)
from ..calls.labels import offering_terms
from ..calls.models import Call, CallOffering, CallStatus
from ..catalogue.models import Agreement, Partner
from ..catalogue.reference import language_name
from ..chains.models import ApproverRule
from ..core.database import utcnow
from ..core.params import MAX_PAGE, whole
from ..extensions import db
from .models import ApplicationStep, StepStatus, Substitution

PER_PAGE = 50
QUEUE_ROLES = (Role.ADVISOR, Role.COORDINATOR, Role.ADMIN)  # who has a queue page
SORTS = ("waiting", "due", "name")  # the first is the default: longest waiting first
Step = ApplicationStep


# --- who may decide, as SQL ------------------------------------------------------------------
# Statements are built once per shape (which grants each person has, the filters, the sort)
# and run with the ids and units as parameters: building them costs more than running them.


def _substituting():
    return sa.and_(
        Substitution.substitute_id == sa.bindparam("p0"),
        Substitution.starts_on <= sa.bindparam("today"),
        Substitution.ends_on >= sa.bindparam("today"),
    )


def stands_in_for(user, today: date) -> list[User]:
    """The active people `user` substitutes for on `today`, with their roles and units, in
    `decider_for`'s order (one statement)."""
    absent = db.session.scalars(
        sa.select(User)
        .join(Substitution, Substitution.user_id == User.id)
        .where(_substituting(), User.active.is_(True))
        .options(joinedload(User.role_rows), joinedload(User.memberships))
        .order_by(User.id),
        {"p0": user.id, "today": today},
    ).unique()
    return list(absent)


def _grants(person):
    """`operations.approves_directly(person, step)` as (rule, unit function, unit ids): the
    steps of that rule (in those units, with that function) are theirs to decide."""
    grants = [(ApproverRule.NAMED_USER, None, None)]
    if person.has_role(Role.COORDINATOR):
        grants.append((ApproverRule.INTERNATIONAL_OFFICE, None, None))
    advised = person.unit_ids(UnitFunction.ADVISOR)
    if advised and person.has_role(Role.ADVISOR):
        grants.append((ApproverRule.UNIT_ADVISOR, None, tuple(sorted(advised))))
    for function in UnitFunction:
        units = person.unit_ids(function)
        if units:
            # `step.unit_function or DEAN`: a unit-role step without a function is the dean's.
            grants.append((ApproverRule.UNIT_ROLE, function, tuple(sorted(units))))
    return grants


def _units_param(n, rule, function):
    return f"p{n}_{rule.value}_{function.value if function else ''}"


def _grant_condition(n, rule, function):
    """The steps of `rule` that grant (rule, function) of person `n` covers (None: all)."""
    if rule is ApproverRule.NAMED_USER:
        return Step.approver_id == sa.bindparam(f"p{n}")
    if rule is ApproverRule.INTERNATIONAL_OFFICE:
        return None
    units = Step.unit_id.in_(sa.bindparam(_units_param(n, rule, function), expanding=True))
    if rule is ApproverRule.UNIT_ADVISOR:
        return units
    if function is UnitFunction.DEAN:
        return sa.and_(units, sa.or_(Step.unit_function == function, Step.unit_function.is_(None)))
    return sa.and_(units, Step.unit_function == function)


def _not_application_of(param):
    return Step.application_id.not_in(
        sa.select(Application.id).where(Application.student_id == sa.bindparam(param))
    )


def _pieces(shape):
    """The waiting steps the user (person 0) may decide, as disjoint (on behalf of person n or
    None, condition) pieces: the user's grants first, then those of each person they stand
    in for, each minus what earlier pieces of its rule cover (`decider_for`'s order); never
    on the user's own application, nor on that of whom they stand in for."""
    pieces, covered = [], {}
    for n, grants in enumerate(shape):
        for rule, function in grants:
            earlier = covered.setdefault(rule, [])
            if earlier and earlier[0] is None:
                continue  # the user decides every step of this rule themself
            condition = _grant_condition(n, rule, function)
            this = [Step.rule == rule, *([condition] if condition is not None else [])]
            if n:
                this.append(_not_application_of(f"p{n}"))
            pieces.append(
                (
                    n or None,
                    sa.and_(
                        Step.status == StepStatus.WAITING,
                        _not_application_of("p0"),
                        *this,
                        *(sa.not_(sa.func.coalesce(c, sa.false())) for c in earlier),
                    ),
                )
            )
            earlier.append(None if n == 0 and condition is None else sa.and_(*this))
    return pieces


def _shape_and_params(user, absent):
    shape, params = [], {}
    for n, person in enumerate((user, *absent)):
        grants = _grants(person)
        shape.append(tuple((rule, function) for rule, function, _units in grants))
        params[f"p{n}"] = person.id
        if n:
            params[f"behalf{n}"] = person.id
        for rule, function, units in grants:
            if units is not None:
                params[_units_param(n, rule, function)] = list(units)
    return tuple(shape), params


# --- filters -----------------------------------------------------------------------------------


@dataclass
class QueueFilters:
    q: str = ""
    call: int | None = None
    overdue: bool = False

    @classmethod
    def from_args(cls, args):
        return cls(
            q=(args.get("q") or "").strip()[:100],
            call=whole(args.get("call")),
            overdue=args.get("overdue") == "1",
        )

    @property
    def any(self):
        return bool(self.q or self.call or self.overdue)


def read_sort(value):
    return value if value in SORTS else SORTS[0]


def read_page(value):
    return whole(value, 1, high=MAX_PAGE)


def _like(q):
    return "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search():
    like = sa.bindparam("like")
    return Application.student_id.in_(
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


def call_options():
    """The calls whose applications may be under review, for the filter."""
    return tuple(
        db.session.execute(
            sa.select(Call.id, Call.title)
            .where(Call.status.not_in((CallStatus.DRAFT, CallStatus.ARCHIVED)))
            .order_by(Call.opens_at.desc(), Call.id.desc())
        ).all()
    )


# --- the statements --------------------------------------------------------------------------


_SORT_KEYS = {
    "waiting": lambda: Step.activated_at,
    "due": lambda: Step.due_at,
    "name": lambda: User.name,
}


def _eligible(pieces, overdue, call, search, sort=None):
    """The steps of `pieces` under the filters: (step_id, behalf_id[, k]). With a sort, each
    piece gives only its first `:first` in that order (an index walk); the caller orders the
    union again."""
    conditions = []
    if overdue:
        conditions.append(Step.due_at < sa.bindparam("now"))
    if call:
        conditions.append(Application.call_id == sa.bindparam("call"))
    if search:
        conditions.append(_search())
    branches = []
    for n, condition in pieces:
        behalf = sa.bindparam(f"behalf{n}", type_=sa.Integer) if n else sa.null()
        columns = [Step.id.label("step_id"), sa.cast(behalf, sa.Integer).label("behalf_id")]
        if sort is not None:
            columns.append(_SORT_KEYS[sort]().label("k"))
        branch = sa.select(*columns).select_from(Step).where(condition, *conditions)
        if call or search or sort == "name":
            branch = branch.join(Application, Application.id == Step.application_id)
        if sort == "name":
            branch = branch.join(User, User.id == Application.student_id)
        if sort is not None:
            branch = branch.order_by(_SORT_KEYS[sort](), Step.id).limit(sa.bindparam("first"))
            # SQLite wants the ORDER BY and LIMIT of a UNION's part inside a subquery.
            branch = sa.select(branch.subquery())
        branches.append(branch)
    union = branches[0] if len(branches) == 1 else sa.union_all(*branches)
    return union.subquery("eligible")


def _documents():
    return (
        sa.select(sa.func.count(Document.id))
        .where(Document.application_id == Application.id)
        .correlate(Application)
        .scalar_subquery()
    )


@functools.lru_cache(maxsize=512)
def _statements(shape, sort, overdue, call, search):
    """(count, rows) statements for people with these grants, these filters and sort."""
    pieces = _pieces(shape)
    eligible = _eligible(pieces, overdue, call, search)
    substituting = sa.exists(sa.select(Substitution.id).where(_substituting()))
    count = sa.select(sa.func.count(eligible.c.step_id), substituting.label("substituting"))
    eligible = _eligible(pieces, overdue, call, search, sort)
    page = (
        sa.select(eligible)
        .order_by(eligible.c.k, eligible.c.step_id)
        .offset(sa.bindparam("offset"))
        .limit(sa.bindparam("per_page"))
        .subquery("page")
    )
    rows = (
        sa.select(
            Step.id,
            Step.name,
            Step.activated_at,
            Step.due_at,
            Application.id.label("application_id"),
            Application.gpa,
            Application.gpa_scale,
            User.name.label("student_name"),
            StudentProfile.student_number,
            Unit.code.label("unit_code"),
            Unit.name.label("unit_name"),
            Call.title.label("call_title"),
            _documents().label("documents"),
            page.c.behalf_id,
        )
        .select_from(page)
        .join(Step, Step.id == page.c.step_id)
        .join(Application, Application.id == Step.application_id)
        .join(User, User.id == Application.student_id)
        .outerjoin(StudentProfile, StudentProfile.user_id == Application.student_id)
        .outerjoin(Unit, Unit.id == Application.unit_id)
        .join(Call, Call.id == Application.call_id)
        .order_by(page.c.k, page.c.step_id)
    )
    return count, rows


@functools.cache
def _details_statement():
    """The choices (partner names and agreement terms by rank) and language results of some
    applications."""
    ids = sa.bindparam("ids", expanding=True)
    choices = (
        sa.select(
            ApplicationChoice.application_id,
            sa.literal("choice").label("kind"),
            ApplicationChoice.rank.label("n"),
            Partner.name.label("text"),
            Agreement.type,
            Agreement.months_per_mobility,
        )
        .join(CallOffering, CallOffering.id == ApplicationChoice.offering_id)
        .join(Agreement, Agreement.id == CallOffering.agreement_id)
        .join(Partner, Partner.id == Agreement.partner_id)
        .where(ApplicationChoice.application_id.in_(ids))
    )
    languages = sa.select(
        ApplicationLanguage.application_id,
        sa.literal("language").label("kind"),
        sa.literal(0).label("n"),
        (
            ApplicationLanguage.language
            + " "
            + sa.type_coerce(ApplicationLanguage.level, sa.String)
        ).label("text"),
        sa.null().label("type"),
        sa.null().label("months_per_mobility"),
    ).where(ApplicationLanguage.application_id.in_(ids))
    union = sa.union_all(choices, languages).subquery()
    return sa.select(union).order_by(union.c.application_id, union.c.kind, union.c.n, union.c.text)


def _details(application_ids):
    """{application id: {"choice": ["Partner (Semester · 5 months)", ...], "language":
    ["English B2", ...]}}, in the reader's language."""
    found = {}
    if application_ids:
        for row in db.session.execute(_details_statement(), {"ids": application_ids}):
            text = row.text
            if row.kind == "choice":
                # Two offerings of one partner differ by their agreements' terms (the row has
                # the agreement's `type` and `months_per_mobility`).
                text = f"{text} ({offering_terms(row)})"
            else:
                code, level = text.split(" ", 1)
                text = f"{language_name(code)} {level}"
            found.setdefault(row.application_id, {}).setdefault(row.kind, []).append(text)
    return found


# --- the page ----------------------------------------------------------------------------------

DAY = 86400


@dataclass(frozen=True)
class QueueRow:
    step_id: int
    step_name: str
    activated_at: datetime | None
    due_at: datetime | None
    application_id: int
    gpa: Decimal | None
    gpa_scale: Decimal
    student_name: str
    student_number: str | None
    unit_code: str | None
    unit_name: str | None
    call_title: str
    documents: int
    on_behalf_of: User | None
    choices: tuple  # partner names with their agreements' terms, in rank order
    languages: tuple  # "English B2", ...
    waiting_days: int  # whole days since it became the step's turn
    due_days: int  # days left, rounded; negative: overdue by that many (started) days

    @property
    def overdue(self):
        return self.due_days < 0

    @property
    def gpa_text(self):
        if self.gpa is None:
            return ""
        return f"{self.gpa:.2f}/{self.gpa_scale.normalize():f}"


@dataclass
class QueuePage:
    rows: list
    total: int  # under the filters
    page: int
    pages: int
    waiting_total: int | None  # all that waits on the user (None when filtered)


def _days(row, now):
    waiting = (now - row.activated_at).total_seconds() // DAY if row.activated_at else 0
    left = (row.due_at - now).total_seconds() / DAY if row.due_at else 0
    return int(waiting), round(left) if left >= 0 else -math.ceil(-left)


def _prepared(user, filters, sort, now, today):
    """(statements, parameters, whom the user stands in for, how many) in one statement, or
    three when the user stands in for someone today."""
    flags = (read_sort(sort), filters.overdue, bool(filters.call), bool(filters.q))
    params = {"today": today, "now": now, "call": filters.call, "like": _like(filters.q)}
    absent = []
    shape, grants = _shape_and_params(user, absent)
    statements = _statements(shape, *flags)
    total, substituting = db.session.execute(statements[0], {**params, **grants}).one()
    if substituting:
        absent = stands_in_for(user, today)
        if absent:
            shape, grants = _shape_and_params(user, absent)
            statements = _statements(shape, *flags)
            total = db.session.execute(statements[0], {**params, **grants}).one()[0]
    return statements, {**params, **grants}, absent, total


def count_waiting(user, today: date) -> int:
    """How many steps wait on `user` (the navigation badge): one statement, unless they stand
    in for someone today."""
    return _prepared(user, QueueFilters(), SORTS[0], utcnow(), today)[3]


def queue_for(user, *, today: date, sort=SORTS[0], page=1, filters=None, now=None):
    """One page of the steps waiting on `user`, with what the queue shows of each."""
    filters = filters or QueueFilters()
    now = now or utcnow()
    (_count, rows_statement), params, absent, total = _prepared(user, filters, sort, now, today)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    result = []
    if total:
        offset = (page - 1) * PER_PAGE
        params.update(offset=offset, per_page=PER_PAGE, first=offset + PER_PAGE)
        result = db.session.execute(rows_statement, params).all()
    details = _details([r.application_id for r in result])
    behalf = {person.id: person for person in absent}
    rows = []
    for r in result:
        found = details.get(r.application_id, {})
        waiting_days, due_days = _days(r, now)
        rows.append(
            QueueRow(
                *r[:13],
                on_behalf_of=behalf.get(r.behalf_id),
                choices=tuple(found.get("choice", ())),
                languages=tuple(found.get("language", ())),
                waiting_days=waiting_days,
                due_days=due_days,
            )
        )
    return QueuePage(
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        waiting_total=None if filters.any else total,
    )
