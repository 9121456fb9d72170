"""Human labels of application enumerations, translatable, and the colour of each status."""

from flask_babel import lazy_gettext as _l

from ..calls.labels import DOCUMENT_LABELS  # noqa: F401 - one list of document kinds
from ..calls.models import DocumentKind
from .models import ApplicationStatus as S
from .queries import waiting_for

STATUS_LABELS = {
    S.DRAFT: _l("Draft"),
    S.SUBMITTED: _l("Submitted"),
    S.IN_REVIEW: _l("In review"),
    S.RETURNED: _l("Returned for changes"),
    S.APPROVED: _l("Approved"),
    S.REJECTED: _l("Rejected"),
    S.WITHDRAWN: _l("Withdrawn"),
    S.PLACED: _l("Placed"),
    S.WAITLISTED: _l("Waitlisted"),
    S.NOT_PLACED: _l("Not placed"),
    S.ACCEPTED: _l("Place accepted"),
    S.DECLINED: _l("Place declined"),
    S.NOMINATED: _l("Nominated"),
    S.HOST_ACCEPTED: _l("Accepted by host"),
    S.HOST_REJECTED: _l("Rejected by host"),
    S.DEPARTED: _l("Departed"),
    S.COMPLETED: _l("Completed"),
}
# Bootstrap colour of each status badge.
STATUS_COLOURS = {
    S.DRAFT: "secondary",
    S.SUBMITTED: "primary",
    S.IN_REVIEW: "info",
    S.RETURNED: "warning",
    S.APPROVED: "success",
    S.REJECTED: "danger",
    S.WITHDRAWN: "dark",
    S.PLACED: "success",
    S.WAITLISTED: "warning",
    S.NOT_PLACED: "secondary",
    S.ACCEPTED: "success",
    S.DECLINED: "secondary",
    S.NOMINATED: "primary",
    S.HOST_ACCEPTED: "success",
    S.HOST_REJECTED: "danger",
    S.DEPARTED: "info",
    S.COMPLETED: "success",
}
EVENT_LABELS = {
    "created": _l("Draft started"),
    "submitted": _l("Submitted"),
    "resubmitted": _l("Submitted again"),
    "withdrawn": _l("Withdrawn"),
    "returned": _l("Returned for changes"),
    "in_review": _l("In review"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "step_approved": _l("Step approved"),
    "step_rejected": _l("Step rejected"),
    "step_returned": _l("Step returned for changes"),
    "note": _l("Internal note"),
}


def template_globals():
    return {
        "waiting_for": waiting_for,
        "ApplicationStatus": S,
        "DocumentKind": DocumentKind,
        "status_label": STATUS_LABELS.get,
        "status_colour": STATUS_COLOURS.get,
        "event_label": lambda action: EVENT_LABELS.get(action, action.replace("_", " ")),
    }
