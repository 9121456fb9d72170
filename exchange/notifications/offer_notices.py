"""Notices of offers (selection.signals.offer_changed) and the reminders before an offer
expires: exactly once per threshold (OFFER_REMINDER_DAYS), claimed like the other reminders."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..applications.models import Application
from ..extensions import db
from ..selection import signals as selection_signals
from ..selection.models import OfferStatus, SelectionOffer
from . import events
from .reminders import Due, claim

OFFER_TITLES = {
    "accepted": _l("You accepted your place at %(offering)s (%(call)s)"),
    "declined": _l("You declined your place at %(offering)s (%(call)s)"),
    "expired": _l("Your offered place at %(offering)s (%(call)s) expired"),
    "upgraded": _l("A place at %(offering)s, a higher choice, is yours (%(call)s)"),
}
for _change, _title in OFFER_TITLES.items():
    events.declare(f"offer.{_change}", "offer_changed", _title)
events.declare(
    "reminder.offer_expiring",
    "reminder_offer_expiring",
    _l("Answer your offered place in %(call)s before %(deadline)s"),
)


def _offer_data(offer: SelectionOffer, application: Application, **extra) -> dict:
    return events.application_data(
        application,
        path=f"/applications/{application.id}/selection",
        offering=offer.offering.agreement.partner.name,
        **events.deadline_data(offer.expires_at, application.call.timezone),
        **extra,
    )


def _offer_changed(offer, *, change, **_):
    application = db.session.get(Application, offer.application_id)
    events.notify(
        f"offer.{change}",
        [application.student],
        obj=application,
        data=_offer_data(offer, application, change=change, status=offer.status.value),
        key=f"offer-{offer.id}-{change}",
    )


def _windows(now: datetime):
    """(days, start, end): an offer expiring within (start, end] gets the `days` reminder;
    only the nearest threshold applies."""
    lower = now
    for days in sorted(set(current_app.config["OFFER_REMINDER_DAYS"])):
        upper = now + timedelta(days=days)
        yield days, lower, upper
        lower = upper


def offer_reminders(now: datetime) -> int:
    """Remind students of open offers before they expire. The caller commits."""
    sent = 0
    for days, start, end in _windows(now):
        offers = db.session.scalars(
            sa.select(SelectionOffer)
            .where(
                SelectionOffer.status == OfferStatus.OPEN,
                SelectionOffer.expires_at > start,
                SelectionOffer.expires_at <= end,
            )
            .options(
                joinedload(SelectionOffer.application).options(
                    joinedload(Application.student), joinedload(Application.call)
                )
            )
        ).all()
        by_due = {
            Due(
                o.application.student_id,
                f"offer_expiring_{days}d",
                "SelectionOffer",
                o.id,
                o.expires_at.date(),
            ): o
            for o in offers
        }
        for due in claim(list(by_due)):
            offer = by_due[due]
            events.notify(
                "reminder.offer_expiring",
                [offer.application.student],
                obj=offer.application,
                data=_offer_data(offer, offer.application, days=days),
                key=f"offer-{offer.id}-{days}d",
            )
            sent += 1
    return sent


def init_app(app):
    selection_signals.offer_changed.connect(_offer_changed)
