"""The agreements a call offers, and their places (set_offerings), checked row by row.
Validated and audited here; the caller commits."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..catalogue.academic import label as year_label
from ..catalogue.models import Agreement, AgreementStatus
from ..core import audit
from ..core.errors import DomainError
from ..core.validation import ValidationFailed
from ..extensions import db
from . import hooks
from .models import FROZEN, CallOffering

MAX_PLACES = 10_000


def offerable(agreement: Agreement, academic_year: int) -> bool:
    """Whether an agreement may be offered in a call for `academic_year`."""
    return agreement.status is AgreementStatus.ACTIVE and agreement.covers(academic_year)


def offering_name(agreement: Agreement) -> str:
    return f"{agreement.partner.name} ({agreement.type.value}, #{agreement.id})"


def _wanted(rows, problems):
    """{agreement id: places as typed} from the form's rows, in their order."""
    wanted = {}
    for agreement_id, places in rows:
        try:
            key = int(agreement_id)
        except (TypeError, ValueError):
            problems.append(("offerings", _l("An agreement in the list is not valid.")))
            continue
        if key in wanted:
            problems.append(("offerings", _l("An agreement is listed twice.")))
        wanted[key] = places
    return wanted


def _agreements(ids):
    return {
        a.id: a
        for a in db.session.scalars(
            sa.select(Agreement)
            .where(Agreement.id.in_(list(ids)))
            .options(joinedload(Agreement.partner))
        )
    }


def _places(raw, agreement, problems):
    if raw is None or str(raw).strip() == "":
        return agreement.places_per_year
    try:
        places = int(str(raw).strip())
    except ValueError:
        places = -1
    if not 0 <= places <= MAX_PLACES:
        problems.append(
            (
                "places",
                _l(
                    "Places for %(partner)s must be a whole number from 0 to %(max)d.",
                    partner=agreement.partner.name,
                    max=MAX_PLACES,
                ),
            )
        )
        return None
    return places


def _offered_places(call, wanted, existing, agreements, problems):
    """{agreement id: places} for each wanted row that can be offered."""
    places = {}
    for key, raw in wanted.items():
        agreement = agreements.get(key)
        if agreement is None:
            problems.append(("offerings", _l("There is no agreement number %(id)d.", id=key)))
            continue
        if key not in existing and not offerable(agreement, call.academic_year):
            problems.append(
                (
                    "offerings",
                    _l(
                        "The agreement with %(partner)s cannot be offered: it must be active and "
                        "cover %(year)s.",
                        partner=agreement.partner.name,
                        year=year_label(call.academic_year),
                    ),
                )
            )
        places[key] = _places(raw, agreement, problems)
    return places


def _removal_problems(removing, agreements, problems):
    """An offering that applications rank stays (its places can go to 0)."""
    chosen = hooks.times_chosen([o.id for o in removing])
    for offering in removing:
        if chosen.get(offering.id):
            problems.append(
                (
                    "offerings",
                    _l(
                        "%(partner)s is already ranked in %(num)d applications and cannot be "
                        "removed. Set its places to 0 instead.",
                        partner=agreements[offering.agreement_id].partner.name,
                        num=chosen[offering.id],
                    ),
                )
            )


def _apply_offerings(call, places, existing, removing, agreements):
    """Make the changes; returns the audit's {added, removed, places} lines."""
    added, removed, changed = [], [], []
    for key, count in places.items():
        offering = existing.get(key)
        if offering is None:
            call.offerings.append(CallOffering(agreement_id=key, places=count))
            added.append(f"{offering_name(agreements[key])}: {count}")
        elif offering.places != count:
            changed.append(f"{offering_name(agreements[key])}: {offering.places} → {count}")
            offering.places = count
    for offering in removing:
        call.offerings.remove(offering)
        removed.append(offering_name(agreements[offering.agreement_id]))
    return {"added": added, "removed": removed, "places": changed}


def set_offerings(call, rows, *, actor, only=None):
    """Make the call offer exactly `rows` [(agreement_id, places)] (places empty: the
    agreement's places per year). With `only` (agreement ids), offerings outside it are left as
    they are: a filtered form changes only what it showed. Returns {added, removed, changed}."""
    if call.status in FROZEN:
        raise DomainError(_l("Allocation has started: the offerings of this call are fixed."))
    existing = {o.agreement_id: o for o in call.offerings}
    problems = []
    wanted = _wanted(rows, problems)
    agreements = _agreements(set(wanted) | set(existing))
    places = _offered_places(call, wanted, existing, agreements, problems)
    scope = set(existing) if only is None else set(existing) & {int(i) for i in only}
    removing = [existing[key] for key in sorted(scope - set(wanted))]
    _removal_problems(removing, agreements, problems)
    if problems:
        raise ValidationFailed(problems)
    lines = _apply_offerings(call, places, existing, removing, agreements)
    details = {name: "; ".join(items) for name, items in lines.items() if items}
    if details:
        db.session.flush()
        audit.record("call.offerings_changed", call, actor=actor, details=details)
    return {
        "added": len(lines["added"]),
        "removed": len(lines["removed"]),
        "changed": len(lines["places"]),
    }
