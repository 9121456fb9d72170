"""Offers: a committed placement is an offer the student accepts or declines before its
deadline (OfferSettings.days per call); the beat expires those left unanswered (declined by
expiry). A declined or expired place goes down the upgrade chain (upgrades.py).

Every answer is a conditional UPDATE of the offer (`WHERE status = 'open'`, checked by its
row count), so a double-clicked accept, an accept racing the expiry or a second decline is
told plainly and writes nothing. The caller commits."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from ..accounts.models import User
from ..applications import signals as application_signals
from ..applications.models import (
    Application,
    ApplicationChoice,
    ApplicationEvent,
    ApplicationStatus,
)
from ..calls.models import Call, CallOffering
from ..core import audit
from ..core.database import utcnow
from ..core.errors import DomainError, NotAllowed
from ..extensions import db
from . import signals
from .models import HOLDING, OfferingFill, OfferSettings, OfferStatus, SelectionOffer
from .operations import require_office
from .upgrades import fill_places, offer_days, release_place

DAYS_LIMIT = 90
# PostgreSQL's deadlock and serialization failures: two upgrade chains crossing the same two
# offerings in opposite orders; the one PostgreSQL rolls back is simply run again.
RETRY_STATES = frozenset({"40P01", "40001"})
ATTEMPTS = 3


def retrying(operation):
    """Run `operation` (which writes in the session's transaction), again after a rollback
    when the database broke a deadlock by failing it."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return operation()
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) not in RETRY_STATES or attempt == ATTEMPTS:
                raise
            db.session.rollback()
    return None


def holding_offer(application_id: int) -> SelectionOffer | None:
    return db.session.scalar(
        sa.select(SelectionOffer).where(
            SelectionOffer.application_id == application_id,
            SelectionOffer.status.in_(HOLDING),
        )
    )


def latest_offer(application_id: int) -> SelectionOffer | None:
    return db.session.scalar(
        sa.select(SelectionOffer)
        .where(SelectionOffer.application_id == application_id)
        .order_by(SelectionOffer.id.desc())
        .limit(1)
    )


def set_offer_days(call: Call, days: int, *, actor: User | None) -> OfferSettings:
    require_office(actor)
    if not 1 <= days <= DAYS_LIMIT:
        raise DomainError(_l("Students have from 1 to 90 days to answer an offer."), field="days")
    settings = db.session.get(OfferSettings, call.id)
    if settings is None:
        settings = OfferSettings(call_id=call.id)
        db.session.add(settings)
    before, settings.days = settings.days, days
    audit.record("selection.offer_days_set", call, actor=actor, details={"days": [before, days]})
    return settings


# --- the allocation's offers ------------------------------------------------------------------


def open_offers(call: Call, now: datetime) -> int:
    """After a committed allocation: one open offer per placed application, and the fill of
    every offering. Refused once a student has answered (the places are theirs then)."""
    offerings = sa.select(CallOffering.id).where(CallOffering.call_id == call.id)
    answered = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(SelectionOffer)
        .where(
            SelectionOffer.offering_id.in_(offerings),
            SelectionOffer.status.not_in((OfferStatus.OPEN, OfferStatus.WITHDRAWN)),
        )
    )
    if answered:
        raise DomainError(
            _l("Students have answered their offers: the allocation cannot be committed again.")
        )
    db.session.execute(
        sa.update(SelectionOffer)
        .where(SelectionOffer.offering_id.in_(offerings), SelectionOffer.status == OfferStatus.OPEN)
        .values(status=OfferStatus.WITHDRAWN, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(sa.delete(OfferingFill).where(OfferingFill.offering_id.in_(offerings)))
    placed = db.session.execute(
        sa.select(Application.id, Application.placed_offering_id).where(
            Application.call_id == call.id, Application.status == ApplicationStatus.PLACED
        )
    ).all()
    counts: dict[int, int] = {}
    for _app_id, offering_id in placed:
        counts[offering_id] = counts.get(offering_id, 0) + 1
    db.session.execute(
        sa.insert(OfferingFill),
        [
            {"offering_id": o, "places": places, "filled": counts.get(o, 0)}
            for o, places in db.session.execute(
                sa.select(CallOffering.id, CallOffering.places).where(
                    CallOffering.call_id == call.id
                )
            )
        ],
    )
    _insert_offers(call, placed, now)
    return len(placed)


def _insert_offers(call: Call, placed, now: datetime) -> None:
    if not placed:
        return
    expires = now + timedelta(days=offer_days(call.id))
    choices = _choice_ranks(call.id)
    db.session.execute(
        sa.insert(SelectionOffer),
        [
            {
                "application_id": app_id,
                "offering_id": offering_id,
                "choice_rank": choices.get((app_id, offering_id)),
                "status": OfferStatus.OPEN,
                "upgrade": False,
                "no_upgrades": False,
                "created_at": now,
                "expires_at": expires,
            }
            for app_id, offering_id in placed
        ],
    )


def _choice_ranks(call_id: int) -> dict[tuple[int, int], int]:
    rows = db.session.execute(
        sa.select(
            ApplicationChoice.application_id, ApplicationChoice.offering_id, ApplicationChoice.rank
        )
        .join(Application, Application.id == ApplicationChoice.application_id)
        .where(Application.call_id == call_id)
    )
    return {(a, o): r for a, o, r in rows}


# --- the student's answers --------------------------------------------------------------------


def _require_student(application: Application, actor: User) -> None:
    if actor is None or application.student_id != actor.id:
        raise NotAllowed(_l("Only the student can answer their offer."))


def _why_not_open(application_id: int, now: datetime) -> DomainError:
    """The plain reason an answer found no open offer (nothing was written)."""
    offer = latest_offer(application_id)
    if offer is None:
        return DomainError(_l("You have no offered place to answer."))
    if offer.status is OfferStatus.ACCEPTED:
        return DomainError(_l("You have already accepted this place."))
    if offer.status is OfferStatus.DECLINED:
        return DomainError(_l("You have already declined this place."))
    if offer.status is OfferStatus.EXPIRED or (
        offer.status is OfferStatus.OPEN and offer.expires_at <= now
    ):
        return DomainError(
            _l(
                "This offer expired on %(when)s; the place went to the waiting list.",
                when=format_datetime(offer.expires_at),
            )
        )
    return DomainError(_l("This offer has changed meanwhile; reload the page."))


def _answer(offer_id: int, holding: tuple, to: OfferStatus, now: datetime, *, open_until=None):
    where = [SelectionOffer.id == offer_id, SelectionOffer.status.in_(holding)]
    if open_until is not None:
        where.append(SelectionOffer.expires_at > open_until)
    result = db.session.execute(
        sa.update(SelectionOffer)
        .where(*where)
        .values(status=to, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _set_status(application: Application, before, after, action, actor, now, offering=None):
    values = {"status": after, "status_changed_at": now, "updated_at": now}
    if after is ApplicationStatus.DECLINED:
        values["placed_offering_id"] = None
    db.session.execute(
        sa.update(Application)
        .where(Application.id == application.id, Application.status == before)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.add(
        ApplicationEvent(
            application_id=application.id,
            at=now,
            actor_id=getattr(actor, "id", None),
            action=action,
            from_status=before,
            to_status=after,
        )
    )


def accept_offer(application: Application, *, actor: User, now: datetime) -> SelectionOffer:
    _require_student(application, actor)
    offer = holding_offer(application.id)
    if offer is None or offer.status is not OfferStatus.OPEN:
        raise _why_not_open(application.id, now)
    if not _answer(offer.id, (OfferStatus.OPEN,), OfferStatus.ACCEPTED, now, open_until=now):
        raise _why_not_open(application.id, now)
    _set_status(
        application,
        ApplicationStatus.PLACED,
        ApplicationStatus.ACCEPTED,
        "offer_accepted",
        actor,
        now,
    )
    audit.record("selection.offer_accepted", application, actor=actor)
    db.session.refresh(offer)
    signals.offer_changed.send(offer, change="accepted", previous=None)
    return offer


def decline_offer(application: Application, *, actor: User, now: datetime) -> SelectionOffer:
    """Give the place up (an open or an accepted one); it goes down the upgrade chain."""
    _require_student(application, actor)
    offer = holding_offer(application.id)
    if offer is None:
        raise _why_not_open(application.id, now)
    if offer.status is OfferStatus.OPEN and offer.expires_at <= now:
        raise _why_not_open(application.id, now)
    before = (
        ApplicationStatus.ACCEPTED
        if offer.status is OfferStatus.ACCEPTED
        else ApplicationStatus.PLACED
    )
    if not _answer(offer.id, (offer.status,), OfferStatus.DECLINED, now):
        raise _why_not_open(application.id, now)
    _give_up(application, offer, before, "offer_declined", actor, now)
    audit.record("selection.offer_declined", application, actor=actor)
    signals.offer_changed.send(offer, change="declined", previous=None)
    fill_places(application.call_id, [offer.offering_id], now)
    return offer


def _give_up(application, offer, before, action, actor, now) -> None:
    release_place(offer.offering_id)
    _set_status(application, before, ApplicationStatus.DECLINED, action, actor, now)
    db.session.refresh(offer)


def keep_place(application: Application, keep: bool, *, actor: User) -> SelectionOffer:
    """A student who accepted opts out of upgrades (or back in)."""
    _require_student(application, actor)
    offer = holding_offer(application.id)
    if offer is None or offer.status is not OfferStatus.ACCEPTED:
        raise DomainError(_l("Only an accepted place can be kept whatever frees above it."))
    offer.no_upgrades = keep
    audit.record("selection.upgrades_set", application, actor=actor, details={"keep": keep})
    return offer


# --- the beat ---------------------------------------------------------------------------------


def expire_offers(now: datetime) -> int:
    """Open offers past their deadline become declined by expiry; their places go down the
    upgrade chain. The caller commits."""
    due = db.session.scalars(
        sa.select(SelectionOffer)
        .where(SelectionOffer.status == OfferStatus.OPEN, SelectionOffer.expires_at <= now)
        .order_by(SelectionOffer.id)
    ).all()
    expired = 0
    for offer in due:
        if not _answer(offer.id, (OfferStatus.OPEN,), OfferStatus.EXPIRED, now):
            continue  # answered by the student meanwhile
        application = db.session.get(Application, offer.application_id)
        _give_up(application, offer, ApplicationStatus.PLACED, "offer_expired", None, now)
        audit.record("selection.offer_expired", application, actor=None)
        signals.offer_changed.send(offer, change="expired", previous=None)
        fill_places(application.call_id, [offer.offering_id], now)
        expired += 1
    return expired


def _on_withdrawn(application, **_):
    """A student withdrawing frees the place they hold; it goes down the upgrade chain."""
    offer = holding_offer(application.id)
    if offer is None:
        return
    now = utcnow()
    if _answer(offer.id, HOLDING, OfferStatus.WITHDRAWN, now):
        release_place(offer.offering_id)
        fill_places(application.call_id, [offer.offering_id], now)


def init_app(app):
    application_signals.withdrawn.connect(_on_withdrawn)
