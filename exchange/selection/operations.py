"""State changes that prepare a call's selection: criteria and weights, committee scores,
tie-breaks, quotas on offerings and the coordinator's overrides. Each checks who may act,
validates, and writes its audit event; the caller commits. The allocation itself is in
allocation.py."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

from ..accounts.models import DegreeLevel, Role, Unit, UnitFunction, User
from ..applications.models import Application, ApplicationStatus
from ..calls.labels import offering_name
from ..calls.models import Call, CallOffering, CallStatus
from ..core import audit
from ..core.database import utcnow
from ..core.errors import DomainError, NotAllowed
from ..core.validation import clean_text
from ..extensions import db
from .models import (
    AllocationOverride,
    CriterionKind,
    OfferingQuota,
    SelectionCriterion,
    SelectionScore,
    SelectionSettings,
    TieBreak,
)

# Approved applications, and those the last committed allocation placed or not.
ALLOCATABLE = frozenset(
    {
        ApplicationStatus.APPROVED,
        ApplicationStatus.PLACED,
        ApplicationStatus.WAITLISTED,
        ApplicationStatus.NOT_PLACED,
    }
)
SELECTING = frozenset({CallStatus.CLOSED, CallStatus.ALLOCATING})
WEIGHT_LIMIT = Decimal("1000")
LABEL_LIMIT = 120
REASON_LIMIT = 2000


@dataclass
class CriterionData:
    kind: CriterionKind
    label: str
    weight: Decimal
    maximum: Decimal | None = None
    language: str | None = None
    id: int | None = None  # an existing criterion keeps its scores


def require_office(actor: User | None) -> None:
    """The international office; `None` is the command line, run by the system's operator."""
    if actor is not None and not actor.has_role(*Role.STAFF):
        raise NotAllowed(_l("Only the international office can change the selection."))


def may_score(user: User, application: Application) -> bool:
    """Coordinators score every application; advisors those of their own units."""
    if user.has_role(*Role.STAFF):
        return True
    return user.has_role(Role.ADVISOR) and application.unit_id in user.unit_ids(
        UnitFunction.ADVISOR
    )


def require_selecting(call: Call) -> None:
    if call.effective_status() not in SELECTING:
        raise DomainError(
            _l("Selection starts when the call has closed and stops once it is published.")
        )


def settings_of(call: Call) -> SelectionSettings:
    settings = db.session.get(SelectionSettings, call.id)
    if settings is None:
        settings = SelectionSettings(call_id=call.id, tie_breaks=default_tie_breaks())
        db.session.add(settings)
    return settings


def default_tie_breaks() -> str:
    return " ".join(t.value for t in (TieBreak.EARLIER_SUBMISSION, TieBreak.HIGHER_GPA))


# --- criteria ---------------------------------------------------------------------------------


def _check_criterion(row: CriterionData) -> CriterionData:
    label = clean_text(row.label, LABEL_LIMIT)
    if not label:
        raise DomainError(_l("Every criterion needs a name."), field="label")
    if not Decimal(0) <= row.weight <= WEIGHT_LIMIT:
        raise DomainError(_l("A weight is between 0 and 1000 points."), field="weight")
    committee = row.kind is CriterionKind.COMMITTEE
    if committee and not (row.maximum and Decimal(0) < row.maximum <= WEIGHT_LIMIT):
        raise DomainError(
            _l("A committee criterion needs a maximum score between 0 and 1000."), field="maximum"
        )
    return CriterionData(
        row.kind,
        label,
        row.weight,
        row.maximum if committee else None,
        (row.language or None) if row.kind is CriterionKind.LANGUAGE else None,
        row.id,
    )


def set_criteria(call: Call, rows: list[CriterionData], *, actor: User | None):
    """Replace the call's criteria by `rows`, in order. A row with the id of an existing
    criterion keeps that criterion (and its scores); criteria left out are deleted with their
    scores."""
    require_office(actor)
    require_selecting(call)
    rows = [_check_criterion(r) for r in rows]
    if sum(r.kind is CriterionKind.GPA for r in rows) > 1:
        raise DomainError(_l("The GPA counts once."))
    if sum(r.weight for r in rows) > WEIGHT_LIMIT:
        raise DomainError(_l("The weights add up to at most 1000 points."), field="weight")
    existing = {
        c.id: c
        for c in db.session.scalars(
            db.select(SelectionCriterion).where(SelectionCriterion.call_id == call.id)
        )
    }
    kept = {r.id for r in rows if r.id is not None}
    if not kept <= set(existing):
        raise DomainError(_l("A criterion was removed meanwhile; reload the page."))
    for criterion_id, criterion in existing.items():
        if criterion_id in kept:
            criterion.position = -criterion_id  # out of the way of the new order
        else:
            db.session.delete(criterion)
    db.session.flush()
    result = []
    for position, row in enumerate(rows, 1):
        criterion = existing[row.id] if row.id is not None else SelectionCriterion(call_id=call.id)
        criterion.position, criterion.kind, criterion.label = position, row.kind, row.label
        criterion.weight, criterion.maximum, criterion.language = (
            row.weight,
            row.maximum,
            row.language,
        )
        db.session.add(criterion)
        result.append(criterion)
    db.session.flush()
    audit.record(
        "selection.criteria_set",
        call,
        actor=actor,
        details={"criteria": [f"{r.label} ({r.kind.value}, {r.weight})" for r in rows]},
    )
    return result


def criteria_of(call_id: int) -> list[SelectionCriterion]:
    return list(
        db.session.scalars(
            db.select(SelectionCriterion)
            .where(SelectionCriterion.call_id == call_id)
            .order_by(SelectionCriterion.position)
        )
    )


# --- scores -----------------------------------------------------------------------------------


def _score_value(value, maximum: Decimal) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise DomainError(_l("A score is a number."), field="value") from None
    if not number.is_finite() or not Decimal(0) <= number <= maximum:
        raise DomainError(
            _l("A score is between 0 and %(maximum)s.", maximum=f"{maximum.normalize():f}"),
            field="value",
        )
    return number.quantize(Decimal("0.01"))


def record_score(
    application: Application, criterion: SelectionCriterion, value, *, actor: User, now=None
) -> SelectionScore:
    """Enter or change one committee score; who and when are kept with it."""
    if not may_score(actor, application):
        raise NotAllowed(_l("You may not score this application."))
    if criterion.call_id != application.call_id or criterion.kind is not CriterionKind.COMMITTEE:
        raise DomainError(_l("This criterion is not scored by the committee of this call."))
    if application.status not in ALLOCATABLE:
        raise DomainError(_l("Only approved applications are scored."))
    require_selecting(application.call)
    number = _score_value(value, criterion.maximum or Decimal(0))
    row = db.session.scalar(
        db.select(SelectionScore).where(
            SelectionScore.application_id == application.id,
            SelectionScore.criterion_id == criterion.id,
        )
    )
    before = None if row is None else row.value
    if row is None:
        row = SelectionScore(application_id=application.id, criterion_id=criterion.id)
        db.session.add(row)
    row.value, row.scored_by_id, row.scored_at = number, actor.id, now or utcnow()
    audit.record(
        "selection.scored",
        application,
        actor=actor,
        details={
            "criterion": criterion.label,
            "score": [None if before is None else str(before), str(number)],
        },
    )
    return row


def clear_score(application: Application, criterion: SelectionCriterion, *, actor: User) -> bool:
    """Remove one committee score (the allocation then waits for a new one); False if there
    was none."""
    if not may_score(actor, application):
        raise NotAllowed(_l("You may not score this application."))
    if criterion.call_id != application.call_id or criterion.kind is not CriterionKind.COMMITTEE:
        raise DomainError(_l("This criterion is not scored by the committee of this call."))
    require_selecting(application.call)
    row = db.session.scalar(
        db.select(SelectionScore).where(
            SelectionScore.application_id == application.id,
            SelectionScore.criterion_id == criterion.id,
        )
    )
    if row is None:
        return False
    before = str(row.value)
    db.session.delete(row)
    audit.record(
        "selection.score_cleared",
        application,
        actor=actor,
        details={"criterion": criterion.label, "score": [before, None]},
    )
    return True


# --- tie-breaks and quotas --------------------------------------------------------------------


def set_tie_breaks(call: Call, order: list[TieBreak], *, actor: User | None) -> SelectionSettings:
    """The tie-breaks in the order they apply; the seeded draw always comes last."""
    require_office(actor)
    require_selecting(call)
    if len(set(order)) != len(order):
        raise DomainError(_l("Each tie-break counts once."))
    settings = settings_of(call)
    before = settings.tie_breaks
    settings.tie_breaks = " ".join(t.value for t in order)
    audit.record(
        "selection.tie_breaks_set",
        call,
        actor=actor,
        details={"tie_breaks": [before, settings.tie_breaks]},
    )
    return settings


def set_quota(
    offering: CallOffering,
    places: int | None,
    *,
    unit: Unit | None = None,
    degree_level: DegreeLevel | None = None,
    actor: User | None,
) -> OfferingQuota | None:
    """At most `places` of the offering for one unit or one degree level (None removes it)."""
    require_office(actor)
    require_selecting(offering.call)
    if (unit is None) == (degree_level is None):
        raise DomainError(_l("A quota is for one unit or for one degree level."))
    quota = db.session.scalar(
        db.select(OfferingQuota).where(
            OfferingQuota.offering_id == offering.id,
            OfferingQuota.unit_id == unit.id
            if unit is not None
            else OfferingQuota.degree_level == degree_level,
        )
    )
    if places is None:
        if quota is not None:
            db.session.delete(quota)
    elif not 0 <= places <= offering.places:
        raise DomainError(
            _l("A quota is between 0 and the offering's %(places)d places.", places=offering.places)
        )
    else:
        if quota is None:
            quota = OfferingQuota(
                offering_id=offering.id,
                unit_id=getattr(unit, "id", None),
                degree_level=degree_level,
            )
            db.session.add(quota)
        quota.places = places
    audit.record(
        "selection.quota_set",
        offering,
        actor=actor,
        object_type="CallOffering",
        details={
            "group": unit.code if unit is not None else getattr(degree_level, "value", None),
            "places": places,
        },
    )
    return quota if places is not None else None


# --- overrides --------------------------------------------------------------------------------


def _overrides_onto(offering: CallOffering, but: Application) -> int:
    return (
        db.session.scalar(
            db.select(db.func.count())
            .select_from(AllocationOverride)
            .where(
                AllocationOverride.offering_id == offering.id,
                AllocationOverride.application_id != but.id,
            )
        )
        or 0
    )


def override_placement(
    application: Application, offering: CallOffering, reason: str, *, actor: User | None
) -> AllocationOverride:
    """Place the application on the offering whatever its rank; the allocation places it
    first and computes everyone else around it."""
    require_office(actor)
    require_selecting(application.call)
    reason = clean_text(reason, REASON_LIMIT)
    if not reason:
        raise DomainError(_l("Give the reason for the override."), field="reason")
    if offering.call_id != application.call_id:
        raise DomainError(_l("The offering is not part of this application's call."))
    if application.status not in ALLOCATABLE:
        raise DomainError(_l("Only approved applications can be placed."))
    if _overrides_onto(offering, application) >= offering.places:
        raise DomainError(
            _l(
                "%(offering)s is full: its %(places)d places are all taken by overrides.",
                offering=offering_name(offering),
                places=offering.places,
            )
        )
    row = db.session.scalar(
        db.select(AllocationOverride).where(AllocationOverride.application_id == application.id)
    )
    if row is None:
        row = AllocationOverride(application_id=application.id)
        db.session.add(row)
    row.offering_id, row.reason = offering.id, reason
    row.created_by_id, row.created_at = getattr(actor, "id", None), utcnow()
    audit.record(
        "selection.overridden",
        application,
        actor=actor,
        details={"offering": offering_name(offering), "reason": reason},
    )
    return row


def remove_override(application: Application, *, actor: User | None) -> None:
    require_office(actor)
    require_selecting(application.call)
    row = db.session.scalar(
        db.select(AllocationOverride).where(AllocationOverride.application_id == application.id)
    )
    if row is not None:
        db.session.delete(row)
        audit.record("selection.override_removed", application, actor=actor)
