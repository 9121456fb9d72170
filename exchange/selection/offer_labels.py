"""The words for offers' timeline entries and audit actions, registered with the lower
packages that show them."""

from flask_babel import lazy_gettext as _l

from ..applications.labels import EVENT_LABELS
from ..core.audit import register_labels

EVENTS = {
    "offer_accepted": _l("Offered place accepted"),
    "offer_declined": _l("Offered place declined"),
    "offer_expired": _l("Offered place expired (declined by expiry)"),
    "offer_upgraded": _l("Upgraded to a higher choice"),
}
ACTIONS = {
    "selection.offer_days_set": _l("Days to answer an offer set"),
    "selection.offer_accepted": _l("Offered place accepted"),
    "selection.offer_declined": _l("Offered place declined"),
    "selection.offer_expired": _l("Offered place expired"),
    "selection.upgrades_set": _l("Upgrades opted out or in"),
}


def init_app(app):
    EVENT_LABELS.update(EVENTS)
    register_labels(actions=ACTIONS)
