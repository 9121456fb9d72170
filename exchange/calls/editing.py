"""Preparing a call: its settings (CallData, save_call), validated field by field in the
order of the form and audited here; the caller commits. Dates are wall-clock times in the
call's own time zone (calls/times.py); the offerings are calls/offerings.py's."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l

from ..catalogue.academic import label as year_label
from ..chains.models import ApprovalChain
from ..core import audit
from ..core.database import utcnow
from ..core.i18n import valid_timezone
from ..core.validation import ValidationFailed, clean_text
from ..extensions import db
from . import hooks
from .models import FROZEN, LIVE, Call, CallStatus, DocumentKind, Term
from .times import local_to_utc, utc_to_local

__all__ = ["ValidationFailed"]

DATE_FIELDS = ("opens_at", "closes_at", "decision_at", "nomination_deadline")
REQUIRED_DATES = {
    "opens_at": _l("Enter when the call opens."),
    "closes_at": _l("Enter the application deadline."),
}


# --- call settings, field by field -----------------------------------------------------------


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
        """(values to store, problems [(field, message)] in the order of the form)."""
        return normalise_call(self)


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


def _title(data, problems):
    title = clean_text(data.title)
    if not title:
        problems.append(("title", _l("Enter a title for the call.")))
    elif len(title) > 200:
        problems.append(("title", _l("The title is longer than 200 characters.")))
    return title[:200]


def _academic_year(data, problems):
    found = len(problems)
    year = _whole(
        data.academic_year,
        "academic_year",
        problems,
        _l("The academic year must be a whole number."),
    )
    if year is None and len(problems) == found:
        problems.append(("academic_year", _l("Enter the academic year.")))
    elif year is not None and not 2000 <= year <= 2200:
        problems.append(("academic_year", _l("The academic year must be between 2000 and 2200.")))
    return year


def _term(data, problems):
    try:
        return Term(data.term or "full_year")
    except ValueError:
        problems.append(("term", _l("Choose the term.")))
        return Term.FULL_YEAR


def _zone(data, problems):
    zone = clean_text(data.timezone, 64)
    if not zone or not valid_timezone(zone):
        problems.append(("timezone", _l("“%(zone)s” is not a known time zone.", zone=zone[:64])))
        return None
    return zone


def _date(data, name, zone, problems):
    """The UTC instant of the date field `name`, or None (blank, unreadable, or no zone)."""
    try:
        local = _local(getattr(data, name))
    except ValueError:
        problems.append((name, _l("Enter a date and time.")))
        return None
    if local is None:
        if name in REQUIRED_DATES:
            problems.append((name, REQUIRED_DATES[name]))
        return None
    if zone is None:
        return None
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
    return instant


def _out_of_order(name, dates):
    """What is wrong with the date `name` against the dates before it, or None."""
    opens, closes = dates.get("opens_at"), dates.get("closes_at")
    decision, nomination = dates.get("decision_at"), dates.get("nomination_deadline")
    if name == "closes_at" and opens and closes and closes <= opens:
        return _l("The call must open before it closes.")
    if name == "decision_at" and decision and closes and decision < closes:
        return _l("The decision date cannot come before the call closes.")
    if name == "nomination_deadline" and nomination:
        if decision and nomination < decision:
            return _l("The nomination deadline cannot come before the decision date.")
        if closes and not decision and nomination < closes:
            return _l("The nomination deadline cannot come before the call closes.")
    return None


def _dates(data, zone, problems):
    """Each date in the form's order, checked against the dates before it."""
    dates = {}
    for name in DATE_FIELDS:
        found = len(problems)
        dates[name] = _date(data, name, zone, problems)
        problem = _out_of_order(name, dates)
        if problem is not None and len(problems) == found:
            problems.append((name, problem))
    return dates


def _max_choices(data, problems):
    choices = _whole(
        data.max_choices, "max_choices", problems, _l("Choices must be a whole number.")
    )
    if choices is None:
        return 3
    if not 1 <= choices <= 10:
        problems.append(("max_choices", _l("Students may rank between 1 and 10 choices.")))
    return choices


def _documents(data, problems):
    kinds = set()
    for raw in data.required_documents or []:
        try:
            kinds.add(DocumentKind(raw))
        except ValueError:
            problems.append(
                (
                    "required_documents",
                    _l("“%(value)s” is not a kind of document.", value=str(raw)[:40]),
                )
            )
    return " ".join(k.value for k in DocumentKind if k in kinds)


def _chain_id(data, problems):
    return _whole(
        data.approval_chain_id,
        "approval_chain_id",
        problems,
        _l("Choose an approval chain from the list."),
    )


def normalise_call(data: CallData):
    """The call's column values from `data`, and the problems found, field by field in the
    order of the form."""
    problems: list = []
    title = _title(data, problems)
    year = _academic_year(data, problems)
    term = _term(data, problems)
    description = clean_text(data.description) or None
    zone = _zone(data, problems)
    dates = _dates(data, zone, problems)
    values = {
        "title": title,
        "academic_year": year,
        "term": term,
        "description": description,
        "timezone": zone,
        **dates,
        "max_choices": _max_choices(data, problems),
        "required_documents": _documents(data, problems),
        "approval_chain_id": _chain_id(data, problems),
    }
    return values, problems


# --- saving the settings ---------------------------------------------------------------------


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


def _window_problems(call, values, now):
    if call.status in FROZEN:
        for name in ("academic_year", "opens_at", "closes_at", "max_choices"):
            if getattr(call, name) != values[name]:
                message = _l(
                    "Allocation has started: the application window and choices are fixed."
                )
                return [(name, message)]
    if call.status in LIVE and values["closes_at"] <= now and call.closes_at != values["closes_at"]:
        return [
            (
                "closes_at",
                _l("A scheduled call must close in the future. To end it now, use “Close now”."),
            )
        ]
    return []


def _year_problems(call, year):
    if year == call.academic_year:
        return []
    problems = []
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
    outside = [o for o in call.offerings if not o.agreement.covers(year)]
    if outside:
        problems.append(
            (
                "academic_year",
                _l(
                    "Some offered agreements do not cover %(year)s: %(names)s.",
                    year=year_label(year),
                    names=", ".join(o.agreement.partner.name for o in outside),
                ),
            )
        )
    return problems


def _choices_problems(call, choices):
    if choices >= call.max_choices:
        return []
    most = hooks.most_choices_ranked(call.id)
    if most and choices < most:
        return [("max_choices", _l("Some applications already rank %(num)d choices.", num=most))]
    return []


def _edit_problems(call, values, now):
    """What the call as it stands forbids of the new values (its status and applications)."""
    return (
        _window_problems(call, values, now)
        + _year_problems(call, values["academic_year"])
        + _choices_problems(call, values["max_choices"])
    )


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
