"""Human labels for the notification centre and digests, translatable, and `present`, which
turns what a notification keeps (raw values) into text in the reader's language."""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from ..accounts.models import MailPreference
from ..core.i18n import format_moment

DECISION_LABELS = {
    "approve": _l("approved"),
    "reject": _l("rejected"),
    "return": _l("returned for changes"),
}
DEADLINE_LABELS = {
    "opens": _l("call opens"),
    "closes": _l("application deadline"),
    "decision": _l("decision date"),
    "nomination": _l("nomination deadline"),
}
PREFERENCE_LABELS = {
    MailPreference.IMMEDIATE: _l("Each notification by e-mail at once"),
    MailPreference.DAILY: _l("One daily digest"),
    MailPreference.WEEKLY: _l("One weekly digest (Mondays)"),
}
# The names Exchange gives steps itself (stored in English): shown in the reader's language.
# A name the office typed is shown as typed.
STEP_NAMES = {
    "Unit advisor": _l("Unit advisor"),
    "International office": _l("International office"),
    "Unit": _l("Unit"),
    "Dean": _l("Dean"),
    "Approver": _l("Approver"),
}


def step_label(name):
    return STEP_NAMES.get(name, name) if name else name


def _moment(value, zone=None, *, with_zone=False):
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    if len(value) == 10:  # a calendar date
        return format_moment(date.fromisoformat(value))
    return format_moment(moment, zone, with_zone=with_zone)


def present(data) -> dict:
    """`data` with its raw values (decision "approve", ISO times, default step names) as lazy
    text, written when shown: in the language and time zone of whoever reads it then (a mail
    is rendered in its recipient's, a page in its reader's). Notifications recorded before
    the raw values were kept carry text already, which stays as it is."""
    shown = dict(data or {})
    if shown.get("decision") in DECISION_LABELS:
        shown["decision"] = DECISION_LABELS[shown["decision"]]
    if shown.get("step"):
        shown["step"] = LazyString(step_label, shown["step"])
    if shown.get("deadline_at"):
        shown["deadline"] = LazyString(
            _moment, shown["deadline_at"], shown.get("zone"), with_zone=True
        )
    if shown.get("since_at"):
        shown["since"] = LazyString(_moment, shown["since_at"])
    return shown


def template_globals():
    return {
        "decision_label": lambda v: DECISION_LABELS.get(v, v),
        "deadline_label": lambda v: DEADLINE_LABELS.get(v, v),
        "step_label": step_label,
    }
