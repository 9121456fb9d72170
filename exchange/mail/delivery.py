"""Sending one outbox mail, exactly once as far as the outbox can tell, and the relay that
re-dispatches mails whose task was lost."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from time import monotonic

from flask import current_app

from ..core.database import utcnow
from ..extensions import db
from . import backends, dispatch
from .models import MailStatus, OutboxMail

log = logging.getLogger(__name__)


def stale_claim_age():
    """A claim this old belongs to a worker that died: its worker gave up on the server a
    MAIL_TIMEOUT before (see `deliver`), so the relay may give the mail to another."""
    return timedelta(seconds=current_app.config["MAIL_STALE_CLAIM_SECONDS"])


@dataclass
class Outcome:
    state: str  # sent | retry | failed | skipped
    retry_in: int | None = None


def _claim(mail_id):
    """Take the mail for this worker; a second worker (or a duplicate task) gets nothing."""
    now = utcnow()
    result = db.session.execute(
        db.update(OutboxMail)
        .where(
            OutboxMail.id == mail_id,
            OutboxMail.status == MailStatus.PENDING,
            OutboxMail.next_attempt_at <= now,
        )
        .values(status=MailStatus.SENDING, claimed_at=now, attempts=OutboxMail.attempts + 1)
    )
    db.session.commit()
    return result.rowcount == 1


def deliver(mail_id):
    cfg = current_app.config
    # Done with the server (or given up) before the relay may take the claim back.
    deadline = monotonic() + cfg["MAIL_STALE_CLAIM_SECONDS"] - cfg["MAIL_TIMEOUT"]
    if not _claim(mail_id):
        return Outcome("skipped")
    mail = db.session.get(OutboxMail, mail_id)
    msg = backends.build_message(mail)
    db.session.commit()  # no transaction stays open while the server is talked to
    try:
        backends.send(
            msg,
            accepted=lambda: _mark_sent(mail),
            deadline=deadline,
            before_message=lambda: _mark_message_started(mail),
        )
    except backends.AmbiguousMailError as exc:
        return _defer(mail, str(exc), possibly_delivered=True)
    except backends.TemporaryMailError as exc:
        return _defer(mail, str(exc))
    except backends.PermanentMailError as exc:
        mail.status = MailStatus.FAILED
        mail.last_error = str(exc)
        db.session.commit()
        log.warning("mail %s refused permanently: %s", mail_id, exc)
        return Outcome("failed")
    return Outcome("sent")


def _mark_message_started(mail):
    """Record that the message itself is going out: should this worker die before the server's
    answer, the relay treats the attempt as possibly delivered."""
    mail.message_started_at = utcnow()
    db.session.commit()


def _mark_sent(mail):
    """Record "accepted by the server" in its own short transaction, as soon as the server
    answered the message: a worker killed later (while the server is slow to answer QUIT)
    leaves nothing that could be sent a second time."""
    mail.status = MailStatus.SENT
    mail.sent_at = utcnow()
    mail.last_error = None
    db.session.commit()


def _defer(mail, error, possibly_delivered=False):
    cfg = current_app.config
    mail.last_error = error
    delay = min(cfg["MAIL_RETRY_BASE_SECONDS"] * 2 ** (mail.attempts - 1), 1800)
    if possibly_delivered:
        # The server may have kept the message: a copy sent soon after would likely arrive
        # as a duplicate, so the next attempt waits longer.
        mail.possibly_delivered_at = utcnow()
        delay = max(delay, cfg["MAIL_AMBIGUOUS_RETRY_SECONDS"])
    if mail.attempts >= cfg["MAIL_MAX_ATTEMPTS"]:
        mail.status = MailStatus.FAILED
        db.session.commit()
        log.warning("mail %s failed after %s attempts: %s", mail.id, mail.attempts, error)
        return Outcome("failed")
    mail.status = MailStatus.PENDING
    mail.next_attempt_at = utcnow() + timedelta(seconds=delay)
    db.session.commit()
    return Outcome("retry", retry_in=delay)


def relay(limit=500):
    """Re-dispatch pending mails that are due (their task was lost or never published) and
    release claims of workers that died mid-send. Returns how many were dispatched."""
    now = utcnow()
    stale = (
        OutboxMail.status == MailStatus.SENDING,
        OutboxMail.claimed_at < now - stale_claim_age(),
    )
    # A worker that died after its message began to go out may have delivered it: as after an
    # answer that never came, the next attempt waits longer.
    pause = timedelta(seconds=current_app.config["MAIL_AMBIGUOUS_RETRY_SECONDS"])
    db.session.execute(
        db.update(OutboxMail)
        .where(*stale, OutboxMail.message_started_at >= OutboxMail.claimed_at)
        .values(
            status=MailStatus.PENDING,
            possibly_delivered_at=OutboxMail.message_started_at,
            next_attempt_at=now + pause,
            last_error="the worker stopped while the server was taking the message",
        )
    )
    db.session.execute(db.update(OutboxMail).where(*stale).values(status=MailStatus.PENDING))
    ids = db.session.scalars(
        db.select(OutboxMail.id)
        .where(OutboxMail.status == MailStatus.PENDING, OutboxMail.next_attempt_at <= now)
        .order_by(OutboxMail.id)
        .limit(limit)
    ).all()
    db.session.commit()
    if ids:
        dispatch.hand_over(ids)
    return len(ids)


def resend(mail):
    """Put a failed mail back in the queue (admin action)."""
    mail.status = MailStatus.PENDING
    mail.attempts = 0
    mail.next_attempt_at = utcnow()
    dispatch.queue(mail.id)
