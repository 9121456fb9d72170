"""What the selection pages show, each in a fixed number of statements: the call's setup, the
scoring sheet, one run (fill per offering, ranked list with explanations, what changed since
the run before) and a student's own result."""

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from ..accounts.labels import DEGREE_LABELS
from ..accounts.models import DegreeLevel, StudentProfile, Unit, UnitFunction, User
from ..applications.models import Application
from ..calls.labels import offering_terms
from ..calls.models import Call, CallOffering
from ..catalogue.models import Agreement
from ..extensions import db
from . import explain
from .models import (
    AllocationOutcome,
    AllocationOverride,
    AllocationRun,
    CriterionKind,
    OfferingQuota,
    RunKind,
    SelectionCriterion,
    SelectionScore,
    SelectionSettings,
)
from .operations import ALLOCATABLE, criteria_of

RANKED_PAGE = 200  # rows of the ranked list on one page
CHANGES_PAGE = 200  # changes since the run before on one page


def offering_names(call_id: int) -> dict[int, tuple[str, int]]:
    """Offering id -> (name, places), in the call's order. The name is the partner's; two
    offerings of one partner are told apart by their agreements' terms, as elsewhere."""
    offerings = db.session.scalars(
        sa.select(CallOffering)
        .where(CallOffering.call_id == call_id)
        .options(joinedload(CallOffering.agreement).joinedload(Agreement.partner))
        .order_by(CallOffering.id)
    ).all()
    seen: dict[object, int] = defaultdict(int)
    for o in offerings:
        a = o.agreement
        seen[a.partner.name] += 1
        seen[(a.partner.name, a.type, a.months_per_mobility)] += 1
    # A call's thousands of offerings come in a few terms: each put in words once.
    terms: dict[tuple, str] = {}
    names = {}
    for o in offerings:
        a = o.agreement
        name = a.partner.name
        if seen[name] > 1:
            key = (a.type, a.months_per_mobility)
            if key not in terms:
                terms[key] = offering_terms(a)
            # Same partner, same terms: only the agreement's code is left to tell them apart.
            same = seen[(name, *key)] > 1
            name = f"{name} ({terms[key]}{' · ' + a.code if same else ''})"
        names[o.id] = (name, o.places)
    return names


def overview(call: Call) -> dict:
    allocatable = db.session.execute(
        sa.select(Application.id, User.name)
        .join(User, User.id == Application.student_id)
        .where(Application.call_id == call.id, Application.status.in_(ALLOCATABLE))
        .order_by(User.name, Application.id)
    ).all()
    overrides = db.session.execute(
        sa.select(AllocationOverride, User.name)
        .join(Application, Application.id == AllocationOverride.application_id)
        .join(User, User.id == Application.student_id)
        .where(Application.call_id == call.id)
        .order_by(AllocationOverride.id)
    ).all()
    runs = db.session.execute(
        sa.select(AllocationRun, User.name)
        .outerjoin(User, User.id == AllocationRun.run_by_id)
        .where(AllocationRun.call_id == call.id)
        .order_by(AllocationRun.id.desc())
        .limit(10)
    ).all()
    quotas = db.session.execute(
        sa.select(OfferingQuota, Unit.code)
        .join(CallOffering, CallOffering.id == OfferingQuota.offering_id)
        .outerjoin(Unit, Unit.id == OfferingQuota.unit_id)
        .where(CallOffering.call_id == call.id)
        .order_by(OfferingQuota.offering_id, Unit.code, OfferingQuota.degree_level)
    ).all()
    units = db.session.execute(sa.select(Unit.id, Unit.code, Unit.name).order_by(Unit.code)).all()
    return {
        "call": call,
        "quotas": [(q, code or DEGREE_LABELS.get(q.degree_level, "?")) for q, code in quotas],
        "units": units,
        "degree_levels": DEGREE_LABELS,
        "criteria": criteria_of(call.id),
        "settings": db.session.get(SelectionSettings, call.id),
        "applications": allocatable,
        "overrides": overrides,
        "runs": runs,
        "offerings": offering_names(call.id),
    }


def scoring_sheet(call: Call, user: User, may_score_all: bool) -> dict:
    """The approved applications (of the advisor's units, for an advisor) and their scores on
    the committee criteria."""
    criteria = [c for c in criteria_of(call.id) if c.kind is CriterionKind.COMMITTEE]
    where = [Application.call_id == call.id, Application.status.in_(ALLOCATABLE)]
    if not may_score_all:
        where.append(Application.unit_id.in_(user.unit_ids(UnitFunction.ADVISOR) or {-1}))
    rows = db.session.execute(
        sa.select(Application.id, User.name, Unit.code, Application.gpa, Application.gpa_scale)
        .join(User, User.id == Application.student_id)
        .outerjoin(Unit, Unit.id == Application.unit_id)
        .where(*where)
        .order_by(User.name, Application.id)
    ).all()
    scorer = sa.orm.aliased(User)
    scores = {
        (s.application_id, s.criterion_id): (s, name)
        for s, name in db.session.execute(
            sa.select(SelectionScore, scorer.name)
            .outerjoin(scorer, scorer.id == SelectionScore.scored_by_id)
            .join(Application, Application.id == SelectionScore.application_id)
            .where(*where)
        )
    }
    return {"call": call, "criteria": criteria, "rows": rows, "scores": scores}


@dataclass
class RankedRow:
    application_id: int
    student: str
    unit: str | None
    rank: int
    score: float
    parts: dict
    outcome: str
    offering: str | None
    choice: int | None
    overridden: bool
    explanation: str


def _group_words(group, units: dict[int, str]) -> str:
    kind, value = group
    if kind == "unit":
        return units.get(value, "?")
    return str(DEGREE_LABELS.get(DegreeLevel(value), value)) if value else "?"


def _explained(outcome: AllocationOutcome, names, holders, group_holders, units) -> str:
    blocked = []
    for choice, offering_id, reason, group in outcome.notes:
        name, places = names.get(offering_id, ("?", 0))
        group = tuple(group) if group else None
        blocked.append(
            explain.Choice(
                choice,
                name,
                places,
                reason,
                tuple(group_holders[(offering_id, group)] if group else holders[offering_id]),
                _group_words(group, units) if group else None,
            )
        )
    return explain.explanation(
        rank=outcome.rank,
        outcome=outcome.outcome.value,
        choice=outcome.choice_rank,
        placed_name=names.get(outcome.offering_id, ("", 0))[0] if outcome.offering_id else None,
        overridden=outcome.overridden,
        blocked=blocked,
    )


def _outcome_rows(run_id: int, *where, page: "Pager | None" = None):
    statement = (
        sa.select(
            AllocationOutcome,
            User.name,
            Unit.code,
            Application.unit_id,
            StudentProfile.degree_level,
        )
        .join(Application, Application.id == AllocationOutcome.application_id)
        .join(User, User.id == Application.student_id)
        .outerjoin(Unit, Unit.id == Application.unit_id)
        .outerjoin(StudentProfile, StudentProfile.user_id == Application.student_id)
        .where(AllocationOutcome.run_id == run_id, *where)
        .order_by(AllocationOutcome.rank)
    )
    if page is not None:
        statement = statement.limit(page.size).offset(page.offset)
    return db.session.execute(statement).all()


def _holders(run_id: int):
    """The ranks holding each offering's places, and each quota group's (units by id, degree
    levels by value): every placed outcome of the run, a few columns each."""
    holders: dict = defaultdict(list)
    group_holders: dict = defaultdict(list)
    placed = db.session.execute(
        sa.select(
            AllocationOutcome.offering_id,
            AllocationOutcome.rank,
            Application.unit_id,
            StudentProfile.degree_level,
        )
        .join(Application, Application.id == AllocationOutcome.application_id)
        .outerjoin(StudentProfile, StudentProfile.user_id == Application.student_id)
        .where(AllocationOutcome.run_id == run_id, AllocationOutcome.offering_id.is_not(None))
        .order_by(AllocationOutcome.rank)
    )
    for offering_id, rank, unit_id, level in placed:
        holders[offering_id].append(rank)
        group_holders[(offering_id, ("unit", unit_id))].append(rank)
        group_holders[(offering_id, ("level", getattr(level, "value", None)))].append(rank)
    return holders, group_holders


@dataclass(frozen=True)
class Pager:
    """One page of a long list: `number` from 1, clamped to the pages there are."""

    number: int
    size: int
    total: int

    @classmethod
    def of(cls, number: int | None, size: int, total: int) -> "Pager":
        return cls(min(max(number or 1, 1), cls(1, size, total).pages), size, total)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:
        return self.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)


def _ranked(rows, names, holders, group_holders) -> list[RankedRow]:
    units = {unit_id: code for _o, _n, code, unit_id, _l in rows if unit_id is not None}
    return [
        RankedRow(
            o.application_id,
            name,
            code,
            o.rank,
            float(o.score),
            o.parts,
            o.outcome.value,
            names.get(o.offering_id, ("?", 0))[0] if o.offering_id else None,
            o.choice_rank,
            o.overridden,
            _explained(o, names, holders, group_holders, units),
        )
        for o, name, code, _unit, _level in rows
    ]


def _count(statement) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery())) or 0


def run_page(call: Call, run_id: int, page: int | None = 1, changes_page: int | None = 1):
    """One run: the fill of every offering, one page of the ranked list (explained) and one
    page of what changed since the run before; the same statements for 10 or 100,000
    outcomes. None if the call has no such run."""
    run = db.session.scalar(
        sa.select(AllocationRun).where(AllocationRun.id == run_id, AllocationRun.call_id == call.id)
    )
    if run is None:
        return None
    names = offering_names(call.id)
    total = _count(sa.select(AllocationOutcome.id).where(AllocationOutcome.run_id == run.id))
    pager = Pager.of(page, RANKED_PAGE, total)
    holders, group_holders = _holders(run.id)
    ranked = _ranked(_outcome_rows(run.id, page=pager), names, holders, group_holders)
    fill = [(oid, name, places, len(holders[oid])) for oid, (name, places) in names.items()]
    changes, changes_pager = _changes(run, names, changes_page)
    return {
        "call": call,
        "run": run,
        "ranked": ranked,
        "total": total,
        "pager": pager,
        "fill": fill,
        "changes": changes,
        "changes_pager": changes_pager,
        "labels": {str(c.id): c.label for c in criteria_of(call.id)},
    }


def _changed_statement(run_id: int, before_id: int):
    """(application, rank now or None, outcome and offering now, then) of every application
    whose outcome or place differs between the runs, or that is in one run only."""
    now, then = sa.orm.aliased(AllocationOutcome), sa.orm.aliased(AllocationOutcome)
    changed = (
        sa.select(
            now.application_id,
            now.rank,
            now.outcome,
            now.offering_id,
            then.outcome.label("then_outcome"),
            then.offering_id.label("then_offering"),
        )
        .outerjoin(
            then, sa.and_(then.run_id == before_id, then.application_id == now.application_id)
        )
        .where(
            now.run_id == run_id,
            sa.or_(
                then.id.is_(None),
                then.outcome != now.outcome,
                sa.not_(then.offering_id.is_not_distinct_from(now.offering_id)),
            ),
        )
    )
    still = sa.select(now.id).where(now.run_id == run_id, now.application_id == then.application_id)
    gone = sa.select(
        then.application_id,
        sa.null().label("rank"),
        sa.null().label("outcome"),
        sa.null().label("offering_id"),
        then.outcome,
        then.offering_id,
    ).where(then.run_id == before_id, ~still.exists())
    return sa.union_all(changed, gone)


def _changes(run: AllocationRun, names, number: int | None):
    """One page of what changed since the run before, (student, before, now) in rank order,
    and its pager; (None, None) when there was no run before."""
    before_id = db.session.scalar(
        sa.select(sa.func.max(AllocationRun.id)).where(
            AllocationRun.call_id == run.call_id, AllocationRun.id < run.id
        )
    )
    if before_id is None:
        return None, None
    changed = _changed_statement(run.id, before_id).subquery()
    pager = Pager.of(number, CHANGES_PAGE, _count(sa.select(changed)))
    rows = db.session.execute(
        sa.select(changed, User.name)
        .join(Application, Application.id == changed.c.application_id)
        .join(User, User.id == Application.student_id)
        .order_by(changed.c.rank.is_(None), changed.c.rank, changed.c.application_id)
        .limit(pager.size)
        .offset(pager.offset)
    )

    def words(outcome, offering_id):
        if outcome is None:
            return "—"
        if offering_id:
            return names.get(offering_id, ("?", 0))[0]
        return getattr(outcome, "value", outcome)

    changes = [
        (r.name, words(r.then_outcome, r.then_offering), words(r.outcome, r.offering_id))
        for r in rows
    ]
    return changes, pager


def student_result(application: Application) -> dict | None:
    """The application's outcome in the last committed run of its call, explained."""
    run_id = db.session.scalar(
        sa.select(sa.func.max(AllocationRun.id)).where(
            AllocationRun.call_id == application.call_id,
            AllocationRun.kind == RunKind.COMMITTED,
        )
    )
    if run_id is None:
        return None
    rows = _outcome_rows(run_id, AllocationOutcome.application_id == application.id)
    if not rows:
        return None
    holders, group_holders = _holders(run_id)
    [mine] = _ranked(rows, offering_names(application.call_id), holders, group_holders)
    total = _count(sa.select(AllocationOutcome.id).where(AllocationOutcome.run_id == run_id))
    labels = {
        str(c.id): c.label
        for c in db.session.scalars(
            sa.select(SelectionCriterion).where(SelectionCriterion.call_id == application.call_id)
        )
    }
    return {"row": mine, "labels": labels, "total": total}
