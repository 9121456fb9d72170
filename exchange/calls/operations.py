"""State changes on calls: prepare, offer agreements, schedule, clone, and open and close by
time on the beat. Every change is validated and audited here; the caller commits.

Dates are entered as wall-clock times in the call's own time zone (the office sets "closes
1 March at 17:00 Beijing time") and stored in UTC."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from ..catalogue.academic import label as year_label
from ..catalogue.models import Agreement, AgreementStatus
from ..chains.models import ApprovalChain
from ..core import audit
from ..core.database import utcnow
from ..core.errors import DomainError
from ..core.i18n import valid_timezone
from ..core.validation import ValidationFailed, clean_text
from ..extensions import db
from . import hooks, signals
from .models import Call, CallOffering, CallStatus, DocumentKind, Term

__all__ = ["ValidationFailed"]

DATE_FIELDS = ("opens_at", "closes_at", "decision_at", "nomination_deadline")
# Once allocation starts, the application window and what students chose from are fixed.
FROZEN = frozenset({CallStatus.ALLOCATING, CallStatus.PUBLISHED, CallStatus.ARCHIVED})
LIVE = frozenset({CallStatus.SCHEDULED, CallStatus.OPEN})
MAX_PLACES = 10_000


# --- time zones ------------------------------------------------------------------------------


def local_to_utc(local: datetime, zone: str) -> tuple[datetime, str | None]:
    """The UTC instant of the wall-clock time `local` in `zone`, and what was odd about it:
    "gap" when the clocks skipped that time (it is read with the offset before the jump, so
    02:30 becomes 03:30, as RFC 5545 does), "ambiguous" when it happened twice (the first
    occurrence is taken), else None."""
    if local.tzinfo is not None:
        return local.astimezone(UTC), None
    tz = ZoneInfo(zone)
    first = local.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        return instant, "gap"
    if first.utcoffset() != local.replace(tzinfo=tz, fold=1).utcoffset():
        return instant, "ambiguous"
    return instant, None


def utc_to_local(moment: datetime | None, zone: str) -> datetime | None:
    """The naive wall-clock time of `moment` in `zone` (what a datetime-local input shows)."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def shift_one_year(moment: datetime | None, zone: str) -> datetime | None:
    """The same wall-clock time one year later in `zone` (29 February becomes the 28th)."""
    if moment is None:
        return None
    local = utc_to_local(moment, zone)
    assert local is not None  # moment is not None
    try:
        later = local.replace(year=local.year + 1)
    except ValueError:
        later = local.replace(year=local.year + 1, day=28)
    return local_to_utc(later, zone)[0]


# --- call settings ---------------------------------------------------------------------------


def _whole(value, field_name, problems, message):
    if value is None or str(value).strip() == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        problems.append((field_name, message))
        return None


def _local(value):
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).strip())


@dataclass
class CallData:
    """A call's settings as a coordinator enters them: dates are naive wall-clock times in
    `timezone`."""

    title: str
    academic_year: int | str
    opens_at: datetime | str | None
    closes_at: datetime | str | None
    timezone: str = "UTC"
    term: str = "full_year"
    description: str = ""
    decision_at: datetime | str | None = None
    nomination_deadline: datetime | str | None = None
    max_choices: int | str | None = 3
    required_documents: list[str] = field(default_factory=list)
    approval_chain_id: int | str | None = None  # None: the international office alone decides

    def normalised(self):
        """(values to store, problems [(field, message)])."""
        problems = []
        title = clean_text(self.title)
        if not title:
            problems.append(("title", _l("Enter a title for the call.")))
        elif len(title) > 200:
            problems.append(("title", _l("The title is longer than 200 characters.")))
        year = _whole(
            self.academic_year,
            "academic_year",
            problems,
            _l("The academic year must be a whole number."),
        )
        if year is None and not any(f == "academic_year" for f, _m in problems):
            problems.append(("academic_year", _l("Enter the academic year.")))
        elif year is not None and not 2000 <= year <= 2200:
            problems.append(
                ("academic_year", _l("The academic year must be between 2000 and 2200."))
            )
        try:
            term = Term(self.term or "full_year")
        except ValueError:
            problems.append(("term", _l("Choose the term.")))
            term = Term.FULL_YEAR
        zone = clean_text(self.timezone, 64)
        if not zone or not valid_timezone(zone):
            problems.append(
                ("timezone", _l("“%(zone)s” is not a known time zone.", zone=zone[:64]))
            )
            zone = None
        dates = self._dates(zone, problems)
        self._check_order(dates, problems)
        choices = _whole(
            self.max_choices, "max_choices", problems, _l("Choices must be a whole number.")
        )
        if choices is None:
            choices = 3
        if not 1 <= choices <= 10:
            problems.append(("max_choices", _l("Students may rank between 1 and 10 choices.")))
        kinds = []
        for raw in self.required_documents or []:
            try:
                kinds.append(DocumentKind(raw))
            except ValueError:
                problems.append(
                    (
                        "required_documents",
                        _l("“%(value)s” is not a kind of document.", value=str(raw)[:40]),
                    )
                )
        chain_id = _whole(
            self.approval_chain_id,
            "approval_chain_id",
            problems,
            _l("Choose an approval chain from the list."),
        )
        values = {
            "title": title[:200],
            "academic_year": year,
            "term": term,
            "description": clean_text(self.description) or None,
            "timezone": zone,
            **dates,
            "max_choices": choices,
            "required_documents": " ".join(k.value for k in DocumentKind if k in kinds),
            "approval_chain_id": chain_id,
        }
        return values, problems

    def _dates(self, zone, problems):
        required = {
            "opens_at": _l("Enter when the call opens."),
            "closes_at": _l("Enter the application deadline."),
        }
        dates = {}
        for name in DATE_FIELDS:
            try:
                local = _local(getattr(self, name))
            except ValueError:
                problems.append((name, _l("Enter a date and time.")))
                local = None
            if local is None:
                if name in required and not any(f == name for f, _m in problems):
                    problems.append((name, required[name]))
                dates[name] = None
                continue
            if zone is None:
                dates[name] = None
                continue
            instant, oddity = local_to_utc(local, zone)
            if oddity == "gap":
                problems.append(
                    (
                        name,
                        _l(
                            "%(time)s does not exist in %(zone)s: the clocks go forward that "
                            "night. Choose another time, for example %(later)s.",
                            time=local.strftime("%Y-%m-%d %H:%M"),
                            zone=zone,
                            later=utc_to_local(instant, zone).strftime("%Y-%m-%d %H:%M"),
                        ),
                    )
                )
            dates[name] = instant
        return dates

    @staticmethod
    def _check_order(dates, problems):
        opens, closes = dates["opens_at"], dates["closes_at"]
        decision, nomination = dates["decision_at"], dates["nomination_deadline"]
        if opens and closes and closes <= opens:
            problems.append(("closes_at", _l("The call must open before it closes.")))
        if decision and closes and decision < closes:
            problems.append(
                ("decision_at", _l("The decision date cannot come before the call closes."))
            )
        if nomination and decision and nomination < decision:
            problems.append(
                (
                    "nomination_deadline",
                    _l("The nomination deadline cannot come before the decision date."),
                )
            )
        elif nomination and closes and not decision and nomination < closes:
            problems.append(
                (
                    "nomination_deadline",
                    _l("The nomination deadline cannot come before the call closes."),
                )
            )


def call_state(call):
    state = {
        key: getattr(call, key)
        for key in ("title", "academic_year", "description", "timezone", "max_choices")
    }
    state["term"] = call.term.value if call.term else None
    state["required_documents"] = call.required_documents or ""
    chain = (
        db.session.get(ApprovalChain, call.approval_chain_id) if call.approval_chain_id else None
    )
    state["approval_chain"] = chain.name if chain else None
    for key in DATE_FIELDS:
        value = getattr(call, key)
        state[key] = value.astimezone(UTC).isoformat(timespec="minutes") if value else None
    return state


def _diff(before, after):
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def _edit_problems(call, values, now):
    problems = []
    if call.status in FROZEN:
        for name in ("academic_year", "opens_at", "closes_at", "max_choices"):
            if getattr(call, name) != values[name]:
                problems.append(
                    (
                        name,
                        _l("Allocation has started: the application window and choices are fixed."),
                    )
                )
                break
    if call.status in LIVE and values["closes_at"] <= now and call.closes_at != values["closes_at"]:
        problems.append(
            (
                "closes_at",
                _l("A scheduled call must close in the future. To end it now, use “Close now”."),
            )
        )
    if values["academic_year"] != call.academic_year:
        if hooks.application_count(call.id):
            problems.append(
                (
                    "academic_year",
                    _l(
                        "Students have already applied for %(year)s.",
                        year=year_label(call.academic_year),
                    ),
                )
            )
        outside = [o for o in call.offerings if not o.agreement.covers(values["academic_year"])]
        if outside:
            problems.append(
                (
                    "academic_year",
                    _l(
                        "Some offered agreements do not cover %(year)s: %(names)s.",
                        year=year_label(values["academic_year"]),
                        names=", ".join(o.agreement.partner.name for o in outside),
                    ),
                )
            )
    if values["max_choices"] < call.max_choices:
        most = hooks.most_choices_ranked(call.id)
        if most and values["max_choices"] < most:
            problems.append(
                (
                    "max_choices",
                    _l("Some applications already rank %(num)d choices.", num=most),
                )
            )
    return problems


def _chain_problems(call, chain_id):
    """A call may take an active chain; one it already has, it keeps even when inactive."""
    if chain_id is None or (call is not None and call.approval_chain_id == chain_id):
        return []
    chain = db.session.get(ApprovalChain, chain_id)
    if chain is None:
        return [("approval_chain_id", _l("Choose an approval chain from the list."))]
    if not chain.active:
        return [
            (
                "approval_chain_id",
                _l("The approval chain “%(name)s” is no longer in use.", name=chain.name),
            )
        ]
    return []


def save_call(call, data: CallData, *, actor, now=None):
    """Create (call=None, as a draft) or update a call. Returns (call, changed fields)."""
    now = now or utcnow()
    values, problems = data.normalised()
    problems += _chain_problems(call, values["approval_chain_id"])
    if call is not None and not problems:
        problems = _edit_problems(call, values, now)
    if problems:
        raise ValidationFailed(problems)
    creating = call is None
    before = {} if creating else call_state(call)
    if creating:
        call = Call(status=CallStatus.DRAFT)
        db.session.add(call)
    for key, value in values.items():
        setattr(call, key, value)
    changed = _diff(before, call_state(call))
    if changed:
        db.session.flush()
        audit.record(
            "call.created" if creating else "call.updated", call, actor=actor, details=changed
        )
    return call, changed


# --- offerings -------------------------------------------------------------------------------


def offerable(agreement: Agreement, academic_year: int) -> bool:
    """Whether an agreement may be offered in a call for `academic_year`."""
    return agreement.status is AgreementStatus.ACTIVE and agreement.covers(academic_year)


def offering_name(agreement: Agreement) -> str:
    return f"{agreement.partner.name} ({agreement.type.value}, #{agreement.id})"


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


def set_offerings(call, rows, *, actor, only=None):
    """Make the call offer exactly `rows` [(agreement_id, places)] (places empty: the
    agreement's places per year). With `only` (agreement ids), offerings outside it are left as
    they are: a filtered form changes only what it showed. Returns {added, removed, changed}."""
    if call.status in FROZEN:
        raise DomainError(_l("Allocation has started: the offerings of this call are fixed."))
    existing = {o.agreement_id: o for o in call.offerings}
    problems = []
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
    agreements = {
        a.id: a
        for a in db.session.scalars(
            sa.select(Agreement)
            .where(Agreement.id.in_(list(wanted) + list(existing)))
            .options(joinedload(Agreement.partner))
        )
    }
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
    scope = set(existing) if only is None else set(existing) & {int(i) for i in only}
    removing = [existing[key] for key in sorted(scope - set(wanted))]
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
    if problems:
        raise ValidationFailed(problems)
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
    details = {
        name: "; ".join(items)
        for name, items in (("added", added), ("removed", removed), ("places", changed))
        if items
    }
    if details:
        db.session.flush()
        audit.record("call.offerings_changed", call, actor=actor, details=details)
    return {"added": len(added), "removed": len(removed), "changed": len(changed)}


# --- status ----------------------------------------------------------------------------------


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


def default_dates(now=None, zone="UTC"):
    """Suggested dates for a new call: opens next Monday 09:00, closes four weeks later at
    17:00, decision two weeks after, nomination four weeks after that (wall-clock, `zone`)."""
    local = utc_to_local(now or utcnow(), zone)
    monday = (local + timedelta(days=7 - local.weekday())).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    closes = (monday + timedelta(weeks=4)).replace(hour=17)
    return {
        "opens_at": monday,
        "closes_at": closes,
        "decision_at": closes + timedelta(weeks=2),
        "nomination_deadline": closes + timedelta(weeks=6),
    }
