"""Human labels for the notification centre and digests, translatable."""

from flask_babel import lazy_gettext as _l

from ..accounts.models import MailPreference

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


def template_globals():
    from .events import title_of

    return {
        "decision_label": lambda v: DECISION_LABELS.get(v, v),
        "deadline_label": lambda v: DEADLINE_LABELS.get(v, v),
        "notification_title": title_of,
    }
