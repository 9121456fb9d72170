"""The words for selection's timeline entries and audit actions, registered with the lower
packages that show them (they know no selection by name)."""

from flask_babel import lazy_gettext as _l

from ..applications.labels import EVENT_LABELS
from ..core.audit import register_labels

EVENTS = {
    "allocation_placed": _l("Placed by the allocation"),
    "allocation_waitlisted": _l("On the waiting list after the allocation"),
    "allocation_not_placed": _l("Not placed by the allocation"),
}
ACTIONS = {
    "selection.criteria_set": _l("Selection criteria set"),
    "selection.scored": _l("Committee score entered"),
    "selection.score_cleared": _l("Committee score removed"),
    "selection.tie_breaks_set": _l("Tie-breaks set"),
    "selection.quota_set": _l("Quota set"),
    "selection.overridden": _l("Placement overridden"),
    "selection.override_removed": _l("Override removed"),
    "selection.allocated": _l("Allocation committed"),
}


def init_app(app):
    EVENT_LABELS.update(EVENTS)
    register_labels(actions=ACTIONS)
