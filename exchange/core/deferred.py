"""Work handed to the worker after the transaction that asked for it commits; a rollback
forgets it. Tasks are named, not imported: core knows no feature.

Each queue is a list in the session's info under its own key, with the function that hands
it over after the commit (`on_commit`): `defer` queues a task by name here, and the mail
outbox queues its mails' ids (mail.dispatch). With TASK_DISPATCH = "record" (tests) the
tasks are kept in app.extensions["deferred_tasks"] instead of being sent; a test runs them
as the worker would."""

import logging
from collections.abc import Callable

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db

log = logging.getLogger(__name__)
KEY = "deferred_tasks"
_HAND_OVER: dict[str, Callable[[list], None]] = {}  # key -> hand_over(items) after the commit


def on_commit(key, hand_over):
    """Call `hand_over(items)` with what was queued under `key` once the transaction commits."""
    _HAND_OVER[key] = hand_over


def queue(key, item):
    """Add `item` to the queue `key` of the current transaction."""
    db.session.info.setdefault(key, []).append(item)


def defer(task_name, *args):
    """Send `task_name(*args)` to the worker once the current transaction commits."""
    queue(KEY, (task_name, list(args)))


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    for key, hand_over in _HAND_OVER.items():
        items = session.info.pop(key, None)
        if items:
            hand_over(items)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session):
    for key in _HAND_OVER:
        session.info.pop(key, None)


def send_by_name(items, task_of, *, setting, recorded, unsent):
    """Send the task `task_of(item)` = (name, args) of each item to the worker. With
    app.config[setting] == "record" (tests) keep the items in app.extensions[recorded]
    instead. A broker that is down is logged (`unsent` % item), never raised: the caller's
    transaction has committed."""
    app = current_app._get_current_object()
    if app.config.get(setting, "celery") == "record":
        app.extensions.setdefault(recorded, []).extend(items)
        return
    celery = app.extensions["celery"]
    for item in items:
        name, args = task_of(item)
        try:
            celery.send_task(name, args=args)
        except Exception:
            log.warning(unsent, item)


def hand_over(tasks):
    send_by_name(
        tasks,
        tuple,
        setting="TASK_DISPATCH",
        recorded=KEY,
        unsent="broker unavailable; task %s was not sent",  # the user can ask again
    )


on_commit(KEY, hand_over)
