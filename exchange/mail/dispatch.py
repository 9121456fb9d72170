"""Hand queued mails to the worker only after the transaction that wrote them commits
(core.deferred). A rollback forgets them; a broker that is down leaves them pending for the
outbox relay."""

from ..core import deferred

KEY = "outbox_mail_ids"
TASK = "exchange.mail.send"  # named, not imported: the worker's task module is not ours


def queue(mail_id):
    """Send the mail to the worker once the current transaction commits."""
    deferred.queue(KEY, mail_id)


def hand_over(ids):
    deferred.send_by_name(
        ids,
        lambda mail_id: (TASK, [mail_id]),
        setting="MAIL_DISPATCH",
        recorded="dispatched_mail_ids",  # tests: what would have been sent to the broker
        unsent="broker unavailable; mail %s left for the outbox relay",
    )


deferred.on_commit(KEY, hand_over)


def init_app(app):
    app.config.setdefault("MAIL_DISPATCH", "celery")
