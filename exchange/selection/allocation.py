"""Running the allocation of a call: load its approved applications in a fixed number of
statements, run the engine, and either show the result (`preview_allocation`, which writes
nothing) or write it (`commit_allocation`: the run, every outcome, the applications' statuses
and timelines, in the caller's transaction, checked against the places before it returns)."""

import secrets
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..accounts.models import StudentProfile, User
from ..applications.models import (
    Application,
    ApplicationChoice,
    ApplicationLanguage,
    ApplicationStatus,
)
from ..calls.models import Call, CallOffering, CallStatus
from ..core import audit
from ..core.database import utcnow
from ..core.errors import DomainError
from ..extensions import db
from . import bulk, engine, offers
from .models import (
    AllocationOverride,
    AllocationRun,
    CriterionKind,
    OfferingQuota,
    RunKind,
    SelectionCriterion,
    SelectionScore,
    SelectionSettings,
)
from .operations import ALLOCATABLE, require_office, require_selecting, settings_of

# A call without criteria of its own ranks by GPA alone, out of 100 points.
DEFAULT_CRITERIA = (engine.Criterion(0, CriterionKind.GPA.value, 100.0),)
STATUS_OF = {
    engine.Outcome.PLACED: ApplicationStatus.PLACED,
    engine.Outcome.WAITLISTED: ApplicationStatus.WAITLISTED,
    engine.Outcome.NOT_PLACED: ApplicationStatus.NOT_PLACED,
}
UNDER_REVIEW = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.RETURNED,
)
SEED_LIMIT = 2**63


@dataclass
class AllocationInput:
    applicants: list[engine.Applicant]
    offerings: list[engine.Offering]
    criteria: list[engine.Criterion]
    overrides: list[engine.Override]
    tie_breaks: list[str]
    labels: dict[int, str] = field(default_factory=dict)  # criterion id -> label


# --- loading ----------------------------------------------------------------------------------


def _allocatable(call_id: int):
    return sa.and_(Application.call_id == call_id, Application.status.in_(ALLOCATABLE))


def _criteria(call_id: int) -> tuple[list[engine.Criterion], dict[int, str]]:
    rows = db.session.execute(
        sa.select(SelectionCriterion)
        .where(SelectionCriterion.call_id == call_id)
        .order_by(SelectionCriterion.position)
    ).scalars()
    criteria, labels = [], {}
    for c in rows:
        maximum = None if c.maximum is None else float(c.maximum)
        criteria.append(engine.Criterion(c.id, c.kind.value, float(c.weight), maximum, c.language))
        labels[c.id] = c.label
    return (criteria, labels) if criteria else (list(DEFAULT_CRITERIA), {})


def _by_application(statement) -> dict[int, list]:
    grouped: dict[int, list] = defaultdict(list)
    for app_id, *rest in db.session.execute(statement):
        grouped[app_id].append(rest)
    return grouped


def _applicants(call_id: int) -> list[engine.Applicant]:
    where = _allocatable(call_id)
    choices = _by_application(
        sa.select(ApplicationChoice.application_id, ApplicationChoice.offering_id)
        .join(Application, Application.id == ApplicationChoice.application_id)
        .where(where)
        .order_by(ApplicationChoice.application_id, ApplicationChoice.rank)
    )
    languages = _by_application(
        sa.select(
            ApplicationLanguage.application_id,
            ApplicationLanguage.language,
            ApplicationLanguage.level,
        )
        .join(Application, Application.id == ApplicationLanguage.application_id)
        .where(where)
    )
    scores = _by_application(
        sa.select(SelectionScore.application_id, SelectionScore.criterion_id, SelectionScore.value)
        .join(Application, Application.id == SelectionScore.application_id)
        .where(where)
    )
    # The degree level is the student's current one: quotas are about who goes now.
    rows = db.session.execute(
        sa.select(
            Application.id,
            Application.gpa,
            Application.gpa_scale,
            Application.submitted_at,
            Application.unit_id,
            StudentProfile.degree_level,
        )
        .outerjoin(StudentProfile, StudentProfile.user_id == Application.student_id)
        .where(where)
    )
    return [
        engine.Applicant(
            app_id,
            tuple(o for (o,) in choices.get(app_id, ())),
            gpa=None if gpa is None else float(gpa),
            gpa_scale=float(scale),
            languages=tuple((code, level.value) for code, level in languages.get(app_id, ())),
            committee={c: float(v) for c, v in scores.get(app_id, ())},
            submitted_at=None if submitted is None else submitted.timestamp(),
            unit_id=unit_id,
            degree_level=None if level is None else level.value,
        )
        for app_id, gpa, scale, submitted, unit_id, level in rows
    ]


def _offerings(call_id: int) -> list[engine.Offering]:
    quotas: dict[int, list[engine.Quota]] = defaultdict(list)
    for offering_id, unit_id, level, places in db.session.execute(
        sa.select(
            OfferingQuota.offering_id,
            OfferingQuota.unit_id,
            OfferingQuota.degree_level,
            OfferingQuota.places,
        )
        .join(CallOffering, CallOffering.id == OfferingQuota.offering_id)
        .where(CallOffering.call_id == call_id)
    ):
        group = (
            ("unit", unit_id) if unit_id is not None else ("level", getattr(level, "value", None))
        )
        quotas[offering_id].append(engine.Quota(group, places))
    return [
        engine.Offering(offering_id, places, tuple(quotas.get(offering_id, ())))
        for offering_id, places in db.session.execute(
            sa.select(CallOffering.id, CallOffering.places)
            .where(CallOffering.call_id == call_id)
            .order_by(CallOffering.id)
        )
    ]


def load_input(call: Call) -> AllocationInput:
    criteria, labels = _criteria(call.id)
    overrides = [
        engine.Override(app_id, offering_id)
        for app_id, offering_id in db.session.execute(
            sa.select(AllocationOverride.application_id, AllocationOverride.offering_id)
            .join(CallOffering, CallOffering.id == AllocationOverride.offering_id)
            .where(CallOffering.call_id == call.id)
        )
    ]
    settings = db.session.get(SelectionSettings, call.id)
    tie_breaks = settings.tie_breaks.split() if settings else ["earlier_submission", "higher_gpa"]
    return AllocationInput(
        _applicants(call.id), _offerings(call.id), criteria, overrides, tie_breaks, labels
    )


# --- running ----------------------------------------------------------------------------------


def _missing_scores(data: AllocationInput) -> None:
    for criterion in data.criteria:
        if criterion.kind != CriterionKind.COMMITTEE.value:
            continue
        missing = sum(criterion.id not in a.committee for a in data.applicants)
        if missing:
            raise DomainError(
                _l(
                    "%(count)d approved applications have no score for “%(criterion)s” yet.",
                    count=missing,
                    criterion=data.labels.get(criterion.id, ""),
                )
            )


def _refusal(error: engine.AllocationInputError, data: AllocationInput) -> DomainError:
    """The engine's refusal in the coordinator's words."""
    details = error.details
    if error.problem == "no_applicants":
        return DomainError(_l("This call has no approved applications to allocate."))
    if error.problem == "score_out_of_range":
        return DomainError(
            _l(
                "A score for “%(criterion)s” is above its maximum of %(maximum)s: correct the "
                "score or raise the maximum.",
                criterion=data.labels.get(details["criterion"], ""),
                maximum=f"{details['maximum']:g}",
            )
        )
    if error.problem in ("override_full", "override_over_quota"):
        offering = db.session.get(CallOffering, details["offering"])
        return DomainError(
            _l(
                "The overrides onto %(offering)s take more than its places (or its quota): "
                "remove one or add places.",
                offering=_offering_label(offering),
            )
        )
    if error.problem == "override_not_applicant":
        return DomainError(
            _l("An override names an application that is no longer approved: remove it.")
        )
    return DomainError(
        _l("The allocation cannot run on this data (%(problem)s).", problem=error.problem)
    )


def _offering_label(offering: CallOffering | None) -> str:
    return offering.agreement.partner.name if offering is not None else "?"


def choose_seed(call: Call, seed: int | None) -> int:
    """The given seed, else the call's recorded one, else a new random one."""
    if seed is not None:
        if not 0 <= seed < SEED_LIMIT:
            raise DomainError(_l("A seed is a whole number from 0 to 2^63 - 1."))
        return seed
    settings = db.session.get(SelectionSettings, call.id)
    if settings is not None and settings.seed is not None:
        return settings.seed
    return secrets.randbelow(2**31)


def _run(call: Call, seed: int | None) -> tuple[engine.Allocation, AllocationInput]:
    require_selecting(call)
    data = load_input(call)
    _missing_scores(data)
    try:
        result = engine.allocate(
            data.applicants,
            data.offerings,
            data.criteria,
            seed=choose_seed(call, seed),
            tie_breaks=data.tie_breaks,
            overrides=data.overrides,
        )
    except engine.AllocationInputError as error:
        raise _refusal(error, data) from error
    return result, data


def preview_allocation(
    call: Call, *, actor: User | None, seed: int | None = None
) -> engine.Allocation:
    """The allocation as it would be now; writes nothing."""
    require_office(actor)
    return _run(call, seed)[0]


def record_preview(
    call: Call, *, actor: User | None, seed: int | None = None
) -> tuple[AllocationRun, engine.Allocation]:
    """The coordinator's preview on the page: the run and its outcomes are kept (so that the
    next preview shows what changed), the applications are left as they are."""
    require_office(actor)
    result, data = _run(call, seed)
    run = _new_run(call, RunKind.PREVIEW, result, data, actor)
    _write_outcomes(run, result)
    return run, result


def _new_run(call, kind, result, data, actor) -> AllocationRun:
    run = AllocationRun(
        call_id=call.id,
        kind=kind,
        seed=result.seed,
        tie_breaks=" ".join(data.tie_breaks),
        run_by_id=getattr(actor, "id", None),
        run_at=utcnow(),
    )
    db.session.add(run)
    db.session.flush()
    return run


# --- writing ----------------------------------------------------------------------------------


def _require_reviews_done(call: Call) -> None:
    pending = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Application)
        .where(Application.call_id == call.id, Application.status.in_(UNDER_REVIEW))
    )
    if pending:
        raise DomainError(
            _l(
                "%(count)d applications of this call are still in review: decide them before "
                "committing the allocation.",
                count=pending,
            )
        )


def commit_allocation(
    call: Call, *, actor: User | None, seed: int | None = None
) -> tuple[AllocationRun, engine.Allocation]:
    """Write the allocation: a committed run with every outcome, and each application's
    status, place, score and timeline entry. The caller commits; on an error it rolls back and
    nothing is written."""
    require_office(actor)
    _require_reviews_done(call)
    result, data = _run(call, seed)
    now = utcnow()
    settings = settings_of(call)
    settings.seed = result.seed
    run = _new_run(call, RunKind.COMMITTED, result, data, actor)
    _write_outcomes(run, result)
    changed = _write_applications(call, result, actor, now)
    offers.open_offers(call, now)  # each placement is an offer with its deadline
    call.status = CallStatus.ALLOCATING
    _check_capacity(call)
    audit.record(
        "selection.allocated",
        call,
        actor=actor,
        details={
            "seed": result.seed,
            "placed": sum(p.outcome is engine.Outcome.PLACED for p in result.placements),
            "applications": len(result.placements),
            "status_changes": changed,
        },
    )
    return run, result


def _write_outcomes(run: AllocationRun, result: engine.Allocation) -> None:
    bulk.insert_outcomes(run.id, result.placements)


def _write_applications(call: Call, result: engine.Allocation, actor, now) -> int:
    db.session.flush()
    before = dict(
        db.session.execute(
            sa.select(Application.id, Application.status).where(_allocatable(call.id))
        ).all()
    )
    bulk.update_applications(
        [
            (p.application_id, STATUS_OF[p.outcome].value, p.offering_id, p.score)
            for p in result.placements
        ],
        now,
    )
    events = [
        (
            p.application_id,
            f"allocation_{p.outcome.value}",
            before[p.application_id].value,
            STATUS_OF[p.outcome].value,
        )
        for p in result.placements
        if before[p.application_id] is not STATUS_OF[p.outcome]
    ]
    bulk.insert_events(events, getattr(actor, "id", None), now)
    db.session.expire_all()  # the ORM objects of these rows are stale now
    return len(events)


def _check_capacity(call: Call) -> None:
    """The engine never overfills; this proves it in the transaction that writes."""
    over = db.session.execute(
        sa.select(CallOffering.id)
        .join(Application, Application.placed_offering_id == CallOffering.id)
        .where(
            CallOffering.call_id == call.id,
            Application.status.in_((ApplicationStatus.PLACED, ApplicationStatus.ACCEPTED)),
        )
        .group_by(CallOffering.id, CallOffering.places)
        .having(sa.func.count() > CallOffering.places)
    ).first()
    if over is not None:
        raise DomainError(_l("The allocation would overfill an offering; nothing was written."))
