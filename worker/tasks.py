"""Celery tasks. Each one is a thin shell around an exchange operation.

The exchange imports inside the tasks are on purpose: the exchange package imports
worker.celery_app at its top (create_app binds Celery), so the worker reaches exchange only
when a task runs, and the two packages never import each other while they load."""

from celery.utils.log import get_task_logger

from .celery_app import celery

log = get_task_logger(__name__)


@celery.task(name="exchange.mail.send", bind=True, max_retries=None)
def send_mail(self, mail_id: int):
    from exchange.mail.delivery import deliver

    outcome = deliver(mail_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


@celery.task(name="exchange.mail.relay")
def relay_outbox():
    from exchange.mail.delivery import relay

    return relay()


@celery.task(name="exchange.worker.heartbeat")
def heartbeat():
    from exchange.core.heartbeat import beat

    beat()


@celery.task(name="exchange.calls.advance")
def advance_calls():
    """Open and close calls whose times have come (every minute on the beat)."""
    from exchange.calls.scheduling import advance_calls as advance
    from exchange.core.database import utcnow
    from exchange.extensions import db

    counts = advance(utcnow())
    db.session.commit()
    return counts


@celery.task(name="exchange.notifications.reminders")
def send_reminders():
    """Deadline reminders and escalations that are due now (every five minutes)."""
    from exchange.core.database import utcnow
    from exchange.extensions import db
    from exchange.notifications.reminders import run_reminders

    counts = run_reminders(utcnow())
    db.session.commit()
    return counts


@celery.task(name="exchange.selection.offers")
def run_offers():
    """Expire offers past their deadline (the upgrade chain fills their places) and remind
    students of offers about to expire (every five minutes)."""
    from exchange.core.database import utcnow
    from exchange.extensions import db
    from exchange.notifications.offer_notices import offer_reminders
    from exchange.selection.offers import expire_offers

    now = utcnow()
    counts = {"expired": expire_offers(now), "reminded": offer_reminders(now)}
    db.session.commit()
    return counts


@celery.task(name="exchange.notifications.digests")
def send_digests():
    """Daily and weekly digests that are due now (every fifteen minutes)."""
    from exchange.core.database import utcnow
    from exchange.extensions import db
    from exchange.notifications.digests import send_digests as send

    counts = send(utcnow())
    db.session.commit()
    return counts


@celery.task(name="exchange.selection.finalise_publications")
def finalise_publications():
    """Make final the published results whose objection window has ended (every five
    minutes); each is recorded and notified once however many beats run."""
    from exchange.core.database import utcnow
    from exchange.extensions import db
    from exchange.selection.publication import finalise_due

    count = finalise_due(utcnow())
    db.session.commit()
    return count


@celery.task(name="exchange.accounts.handle_reset_request")
def handle_reset_request(request_id: int):
    """The reset link asked for on the forgot-password form (the request only records it)."""
    from exchange.accounts.operations import handle_reset_request as handle
    from exchange.extensions import db

    handle(request_id)
    db.session.commit()


@celery.task(name="exchange.accounts.relay_reset_requests")
def relay_reset_requests():
    """Answer the forgot-password requests whose task was lost (every minute on the beat)."""
    from exchange.accounts.operations import relay_reset_requests as relay

    return relay()


@celery.task(name="exchange.accounts.issue_password_reset")
def issue_password_reset(email: str):
    """Tasks sent before reset requests were kept in their table (kept for an upgrade)."""
    from exchange.accounts.operations import issue_password_reset as issue
    from exchange.extensions import db

    issue(email)
    db.session.commit()


@celery.task(name="exchange.catalogue.check_import")
def check_import(token: str, mode: str, filename: str):
    """Check a large partner file kept by the upload page; its page shows the progress."""
    from exchange.catalogue.import_jobs import check_in_worker

    check_in_worker(token, mode, filename)


@celery.task(name="exchange.catalogue.run_import")
def run_import(token: str, mode: str, filename: str, actor_id: int):
    """Import a large partner file after its preview was confirmed."""
    from exchange.catalogue.import_jobs import run_in_worker

    run_in_worker(token, mode, filename, actor_id)
