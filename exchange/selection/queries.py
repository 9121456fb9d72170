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
from ..calls.models import Call, CallOffering
from ..catalogue.models import Agreement
from ..extensions import db
from . import explain
from .models import (
    AllocationOutcome,
    AllocationOverride,
    AllocationRun,
    CriterionKind,
    RunKind,
    SelectionCriterion,
    SelectionScore,
    SelectionSettings,
)
from .operations import ALLOCATABLE, criteria_of

RANKED_LIMIT = 2000  # rows of the ranked list on one page


def offering_names(call_id: int) -> dict[int, tuple[str, int]]:
    """Offering id -> (partner name, places), in the call's order."""
    offerings = db.session.scalars(
        sa.select(CallOffering)
        .where(CallOffering.call_id == call_id)
        .options(joinedload(CallOffering.agreement).joinedload(Agreement.partner))
        .order_by(CallOffering.id)
    ).all()
    seen: dict[str, int] = defaultdict(int)
    for o in offerings:
        seen[o.agreement.partner.name] += 1
    return {
        o.id: (
            o.agreement.partner.name + (f" #{o.id}" if seen[o.agreement.partner.name] > 1 else ""),
            o.places,
        )
        for o in offerings
    }


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
    return {
        "call": call,
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


def _outcome_rows(run_id: int):
    return db.session.execute(
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
        .where(AllocationOutcome.run_id == run_id)
        .order_by(AllocationOutcome.rank)
    ).all()


def _holders(rows):
    holders: dict = defaultdict(list)
    group_holders: dict = defaultdict(list)
    for outcome, _name, _code, unit_id, level in rows:
        if outcome.offering_id is None:
            continue
        holders[outcome.offering_id].append(outcome.rank)
        group_holders[(outcome.offering_id, ("unit", unit_id))].append(outcome.rank)
        group_holders[(outcome.offering_id, ("level", getattr(level, "value", None)))].append(
            outcome.rank
        )
    return holders, group_holders


def run_page(call: Call, run_id: int) -> dict | None:
    run = db.session.scalar(
        sa.select(AllocationRun).where(AllocationRun.id == run_id, AllocationRun.call_id == call.id)
    )
    if run is None:
        return None
    names = offering_names(call.id)
    rows = _outcome_rows(run.id)
    units = {unit_id: code for _o, _n, code, unit_id, _l in rows if unit_id is not None}
    holders, group_holders = _holders(rows)
    ranked = [
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
        for o, name, code, _unit, _level in rows[:RANKED_LIMIT]
    ]
    fill = [(oid, name, places, len(holders[oid])) for oid, (name, places) in names.items()]
    return {
        "call": call,
        "run": run,
        "ranked": ranked,
        "total": len(rows),
        "fill": fill,
        "changes": _changes(run, rows, names),
        "labels": {str(c.id): c.label for c in criteria_of(call.id)},
    }


def _changes(run: AllocationRun, rows, names) -> list[tuple[str, str, str]] | None:
    """What changed since the run before (None when there was none): (student, before, now)."""
    before_id = db.session.scalar(
        sa.select(sa.func.max(AllocationRun.id)).where(
            AllocationRun.call_id == run.call_id, AllocationRun.id < run.id
        )
    )
    if before_id is None:
        return None
    before = {
        app_id: (outcome.value, offering_id)
        for app_id, outcome, offering_id in db.session.execute(
            sa.select(
                AllocationOutcome.application_id,
                AllocationOutcome.outcome,
                AllocationOutcome.offering_id,
            ).where(AllocationOutcome.run_id == before_id)
        )
    }

    def words(state):
        if state is None:
            return "—"
        outcome, offering_id = state
        return names.get(offering_id, ("?", 0))[0] if offering_id else outcome

    changes = []
    for o, name, _code, _unit, _level in rows:
        now = (o.outcome.value, o.offering_id)
        then = before.pop(o.application_id, None)
        if then != now:
            changes.append((name, words(then), words(now)))
    changes += [(f"#{app_id}", words(state), "—") for app_id, state in before.items()]
    return changes


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
    page = run_page(application.call, run_id)
    if page is None:
        return None
    mine = next((r for r in page["ranked"] if r.application_id == application.id), None)
    if mine is None:
        return None
    labels = {
        str(c.id): c.label
        for c in db.session.scalars(
            sa.select(SelectionCriterion).where(SelectionCriterion.call_id == application.call_id)
        )
    }
    return {"row": mine, "labels": labels, "total": page["total"]}
