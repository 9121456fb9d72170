"""Human labels of call enumerations, translatable, and how call times are shown."""

from datetime import datetime

from flask_babel import format_timedelta, ngettext
from flask_babel import lazy_gettext as _l

from ..catalogue.labels import AGREEMENT_TYPE_LABELS
from ..core.database import utcnow
from ..core.i18n import format_moment, utc_offset  # noqa: F401 (utc_offset: a filter)
from .models import CallStatus, DocumentKind, Term

CALL_STATUS_LABELS = {
    CallStatus.DRAFT: _l("Draft"),
    CallStatus.SCHEDULED: _l("Scheduled"),
    CallStatus.OPEN: _l("Open"),
    CallStatus.CLOSED: _l("Closed"),
    CallStatus.ALLOCATING: _l("Allocating"),
    CallStatus.PUBLISHED: _l("Results published"),
    CallStatus.ARCHIVED: _l("Archived"),
}
CALL_STATUS_BADGES = {
    CallStatus.DRAFT: "text-bg-secondary",
    CallStatus.SCHEDULED: "text-bg-info",
    CallStatus.OPEN: "text-bg-success",
    CallStatus.CLOSED: "text-bg-warning",
    CallStatus.ALLOCATING: "text-bg-primary",
    CallStatus.PUBLISHED: "text-bg-primary",
    CallStatus.ARCHIVED: "text-bg-light border",
}
TERM_LABELS = {
    Term.FULL_YEAR: _l("Full year"),
    Term.AUTUMN: _l("Autumn term"),
    Term.SPRING: _l("Spring term"),
    Term.SUMMER: _l("Summer"),
}
DOCUMENT_LABELS = {
    DocumentKind.TRANSCRIPT: _l("Transcript of records"),
    DocumentKind.LANGUAGE_CERTIFICATE: _l("Language certificate"),
    DocumentKind.PASSPORT: _l("Passport"),
    DocumentKind.MOTIVATION_LETTER: _l("Motivation letter"),
    DocumentKind.CV: _l("CV"),
    DocumentKind.OTHER: _l("Other document"),
}


def call_time(moment: datetime | None, zone: str, with_zone: bool = True) -> str:
    """A call's date as its coordinator set it: in the call's zone, with the zone named, so a
    deadline reads the same for everyone wherever they are."""
    return format_moment(moment, zone, with_zone=with_zone)


def time_left(moment: datetime) -> str:
    """ "in 3 weeks", "2 hours ago"."""
    return format_timedelta(moment - utcnow(), granularity="minute", add_direction=True)


def offering_terms(agreement, places=None) -> str:
    """ "Summer school · 1 month · 2 places": what tells apart two offerings of one partner."""
    parts = [
        str(AGREEMENT_TYPE_LABELS[agreement.type]),
        ngettext("%(num)d month", "%(num)d months", agreement.months_per_mobility),
    ]
    if places is not None:
        parts.append(ngettext("%(num)d place", "%(num)d places", places))
    return " · ".join(parts)


def offering_name(offering) -> str:
    """The partner and the terms of its agreement, for messages that name one offering."""
    return f"{offering.agreement.partner.name} ({offering_terms(offering.agreement)})"


def template_globals():
    return {
        "offering_terms": offering_terms,
        "CallStatus": CallStatus,
        "call_status_label": CALL_STATUS_LABELS.get,
        "call_status_badge": CALL_STATUS_BADGES.get,
        "term_label": TERM_LABELS.get,
        "document_label": DOCUMENT_LABELS.get,
    }
