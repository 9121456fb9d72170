"""A call's life on the calendar: scheduled, back to draft, closed early, cloned for the next
year, and opened and closed by time on the beat. Every change is audited here; the caller
commits."""

import re
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from ..catalogue.academic import label as year_label
from ..catalogue.models import Agreement
from ..core import audit
from ..core.database import utcnow
from ..core.errors import DomainError
from ..extensions import db
from . import hooks, signals
from .editing import DATE_FIELDS
from .models import LIVE, Call, CallOffering, CallStatus
from .offerings import offerable
from .times import shift_one_year


def schedule_call(call, *, actor, now=None):
    """Draft → scheduled (or straight to open when its window has begun)."""
    now = now or utcnow()
    if call.status is not CallStatus.DRAFT:
        raise DomainError(_l("Only a draft call can be scheduled."))
    if not call.offerings:
        raise DomainError(_l("Offer at least one agreement before scheduling the call."))
    if call.closes_at <= now:
        raise DomainError(_l("The application deadline has passed. Move it into the future first."))
    stale = [o.agreement for o in call.offerings if not offerable(o.agreement, call.academic_year)]
    if stale:
        raise DomainError(
            _l(
                "These agreements can no longer be offered: %(names)s. Remove them first.",
                names=", ".join(a.partner.name for a in stale),
            )
        )
    call.status = CallStatus.OPEN if call.opens_at <= now else CallStatus.SCHEDULED
    audit.record(
        "call.scheduled", call, actor=actor, details={"status": ["draft", call.status.value]}
    )
    return call.status


def unschedule_call(call, *, actor):
    """Scheduled or open → draft, while nobody has applied."""
    if call.status not in LIVE:
        raise DomainError(_l("Only a scheduled or open call can go back to draft."))
    count = hooks.application_count(call.id)
    if count:
        raise DomainError(
            _l(
                "Students have already applied to this call (%(num)d applications); it cannot "
                "go back to draft.",
                num=count,
            )
        )
    before = call.status.value
    call.status = CallStatus.DRAFT
    audit.record("call.unscheduled", call, actor=actor, details={"status": [before, "draft"]})


def close_call_now(call, *, actor, now=None):
    """End the application phase before its deadline."""
    now = now or utcnow()
    if call.status not in LIVE:
        raise DomainError(_l("Only a scheduled or open call can be closed."))
    details = {"status": [call.status.value, "closed"]}
    if call.opens_at < now < call.closes_at:
        details["closes_at"] = [
            call.closes_at.isoformat(timespec="minutes"),
            now.isoformat(timespec="minutes"),
        ]
        call.closes_at = now
    call.status = CallStatus.CLOSED
    audit.record("call.closed", call, actor=actor, details=details)


def _next_title(title, year):
    old_label, new_label = year_label(year), year_label(year + 1)
    if old_label in title:
        return title.replace(old_label, new_label)
    pattern = rf"(?<!\d){year}(?!\d)"
    if re.search(pattern, title):
        return re.sub(pattern, str(year + 1), title)
    return f"{title} ({new_label})"[:200]


def clone_call(call, *, actor):
    """A draft copy of `call` for the next academic year: same settings, dates one year later
    at the same local time, and the offerings whose agreements still cover the new year.
    Returns (new call, [names of the agreements left out])."""
    year = call.academic_year + 1
    copy = Call(
        title=_next_title(call.title, call.academic_year),
        academic_year=year,
        term=call.term,
        description=call.description,
        timezone=call.timezone,
        max_choices=call.max_choices,
        required_documents=call.required_documents,
        # A retired chain is not passed on: new calls take active chains only.
        approval_chain_id=call.approval_chain_id
        if call.approval_chain is not None and call.approval_chain.active
        else None,
        status=CallStatus.DRAFT,
        cloned_from_id=call.id,
    )
    for name in DATE_FIELDS:
        setattr(copy, name, shift_one_year(getattr(call, name), call.timezone))
    offerings = db.session.scalars(
        sa.select(CallOffering)
        .where(CallOffering.call_id == call.id)
        .options(selectinload(CallOffering.agreement).joinedload(Agreement.partner))
        .order_by(CallOffering.id)
    ).all()
    skipped = []
    for offering in offerings:
        if offerable(offering.agreement, year):
            copy.offerings.append(
                CallOffering(agreement_id=offering.agreement_id, places=offering.places)
            )
        else:
            skipped.append(offering.agreement.partner.name)
    db.session.add(copy)
    db.session.flush()
    details = {"cloned_from": call.id, "academic_year": year, "offerings": len(copy.offerings)}
    if call.approval_chain_id and copy.approval_chain_id is None:
        details["approval_chain_left_out"] = call.approval_chain.name
    if skipped:
        details["left_out"] = "; ".join(skipped)
    audit.record("call.cloned", copy, actor=actor, details=details)
    return copy, skipped


# --- the beat --------------------------------------------------------------------------------


def _move(old, new, condition, now):
    """Conditional UPDATE … WHERE status = old: when two beats run at once, the second finds
    nothing left to move, so each change is made (and audited) exactly once."""
    ids = (
        db.session.execute(
            sa.update(Call)
            .where(Call.status == old, condition)
            .values(status=new, updated_at=now)
            .returning(Call.id)
            .execution_options(synchronize_session="fetch")
        )
        .scalars()
        .all()
    )
    action = "call.opened" if new is CallStatus.OPEN else "call.closed"
    for call_id in ids:
        audit.record(
            action,
            object_type="Call",
            object_id=call_id,
            actor=None,
            details={"status": [old.value, new.value], "by": "schedule"},
        )
        if new is CallStatus.OPEN:
            _announce(db.session.get(Call, call_id))
    return len(ids)


def _announce(call):
    """Let the packages above react to the opening (notifications tells the students), in
    the same transaction as the opening."""
    signals.opened.send(call)


def advance_calls(now: datetime):
    """Open and close calls whose times have come. Returns {"opened": n, "closed": n}."""
    if now.tzinfo is None:
        raise ValueError("advance_calls needs a timezone-aware time")
    closed = sum(
        _move(old, CallStatus.CLOSED, Call.closes_at <= now, now)
        for old in (CallStatus.OPEN, CallStatus.SCHEDULED)
    )
    opened = _move(
        CallStatus.SCHEDULED,
        CallStatus.OPEN,
        sa.and_(Call.opens_at <= now, Call.closes_at > now),
        now,
    )
    return {"opened": opened, "closed": closed}
