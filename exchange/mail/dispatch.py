"""Hand queued mails to the worker only after the transaction that wrote them commits.

A rollback forgets them; a broker that is down leaves them pending for the outbox relay.
"""

import logging

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
KEY = "outbox_mail_ids"


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    ids = session.info.pop(KEY, None)
    if ids:
        hand_over(ids)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session):
    session.info.pop(KEY, None)


def hand_over(ids):
    app = current_app._get_current_object()
    if app.config.get("MAIL_DISPATCH") == "record":
        # Tests: keep what would have been sent to the broker.
        app.extensions.setdefault("dispatched_mail_ids", []).extend(ids)
        return
    celery = app.extensions["celery"]
    for mail_id in ids:
        try:
            # Named, not imported: the worker's task module is not the application's business.
            celery.send_task("exchange.mail.send", args=[mail_id])
        except Exception:  # the relay will pick it up; the user's action has committed
            log.warning("broker unavailable; mail %s left for the outbox relay", mail_id)


def init_app(app):
    app.config.setdefault("MAIL_DISPATCH", "celery")
