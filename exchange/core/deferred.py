"""Work handed to the worker after the transaction that asked for it commits; a rollback
forgets it. Tasks are named, not imported: core knows no feature.

With TASK_DISPATCH = "record" (tests) the tasks are kept in app.extensions["deferred_tasks"]
instead of being sent; a test runs them as the worker would."""

import logging

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db

log = logging.getLogger(__name__)
KEY = "deferred_tasks"


def defer(task_name, *args):
    """Send `task_name(*args)` to the worker once the current transaction commits."""
    db.session.info.setdefault(KEY, []).append((task_name, list(args)))


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    tasks = session.info.pop(KEY, None)
    if tasks:
        hand_over(tasks)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session):
    session.info.pop(KEY, None)


def hand_over(tasks):
    app = current_app._get_current_object()
    if app.config.get("TASK_DISPATCH", "celery") == "record":
        app.extensions.setdefault(KEY, []).extend(tasks)
        return
    celery = app.extensions["celery"]
    for name, args in tasks:
        try:
            celery.send_task(name, args=args)
        except Exception:  # the request has committed; the user can ask again
            log.warning("broker unavailable; task %s was not sent", name)
