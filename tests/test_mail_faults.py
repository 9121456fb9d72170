"""Mail under faults (issue 12): a worker killed after the server accepted a mail, a server whose
answer to DATA comes after the client's timeout, a server too slow for the claim, and the
settings that say when a dead worker's mail is sent again."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
import sqlalchemy as sa

from config import config_for, mail_timing
from exchange.core.database import utcnow
from exchange.extensions import db
from exchange.mail.delivery import deliver, relay, stale_claim_age
from exchange.mail.models import MailStatus, OutboxMail
from exchange.mail.operations import queue_mail
from worker.celery_app import celery_settings

from .conftest import login
from .factories import UserFactory, admin
from .helpers import wait_for
from .smtp import SMTPServer

ROOT = Path(__file__).resolve().parent.parent


def message_ids(server):
    return [message_from_bytes(m.content)["Message-ID"] for m in server.messages]


def smtp_config(app, server, **settings):
    app.config.update(
        MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, **settings
    )


@pytest.fixture
def restore_config(app):
    saved = dict(app.config)
    yield
    app.config.clear()
    app.config.update(saved)


def worker_process(app, smtp, mail_timeout):
    """A real `celery -A worker worker` process on the test's database and queue."""
    cfg = app.config
    env = dict(
        os.environ,
        EXCHANGE_ENV="development",
        EXCHANGE_INSTANCE_DIR=cfg["INSTANCE_DIR"],
        SECRET_KEY="worker-test",
        DATABASE_URL=cfg["SQLALCHEMY_DATABASE_URI"],
        BROKER_URL=cfg["BROKER_URL"],
        BROKER_FOLDER=cfg["BROKER_FOLDER"],
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp.port),
        MAIL_TIMEOUT=str(mail_timeout),
    )
    queue = app.extensions["celery"].conf.task_default_queue
    command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool", "solo"]
    return subprocess.Popen(
        [*command, "-Q", queue, "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process, kill=False):
    if process.poll() is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- 12 + 13: a worker killed while the server is slow to answer QUIT ------------------------


@pytest.mark.committed(MAIL_DISPATCH="celery", MAIL_BACKEND="smtp", MAIL_TIMEOUT=2)
def test_worker_killed_while_the_server_is_slow_to_answer_quit_delivers_once(committed_app):
    """SIGKILL the worker after the server's 250 to the end of DATA, while it waits for the
    answer to QUIT. The mail was recorded as sent at the 250: after the stale-claim age has
    really passed and the relay has run, a new worker sends the other mails and nothing twice,
    and every copy carries the Message-ID stored when the mail was queued."""
    app = committed_app
    with SMTPServer() as smtp, app.app_context():
        smtp.handler.quit_delay = 60
        users = [UserFactory(email=f"quit{i}@example.edu") for i in range(3)]
        mails = [
            queue_mail(u, "password_reset", {"link": "https://x/r", "hours": 2}) for u in users
        ]
        queued_ids = {m.to_address: m.message_id for m in mails}
        db.session.commit()  # hands the three mails to the broker
        assert all(queued_ids.values()) and len(set(queued_ids.values())) == 3

        first = worker_process(app, smtp, mail_timeout=30)
        try:
            assert wait_for(smtp.handler.quit_received.is_set, timeout=60), "no QUIT came"
            assert len(smtp.messages) == 1  # accepted; the worker now waits for 221
        finally:
            stop(first, kill=True)
        taken = smtp.messages[0].rcpt_tos[0]
        db.session.remove()
        row = db.session.scalars(sa.select(OutboxMail).where(OutboxMail.to_address == taken)).one()
        assert row.status is MailStatus.SENT  # committed before QUIT
        smtp.handler.quit_delay = 0

        # The relay runs only once a claim of the dead worker would really be stale.
        time.sleep(stale_claim_age().total_seconds() + 1)
        db.session.remove()
        relay()
        second = worker_process(app, smtp, mail_timeout=2)
        try:
            assert wait_for(lambda: len(smtp.messages) >= 3, timeout=90)
            time.sleep(3)  # a second copy would arrive now
            db.session.remove()
            relay()  # and nothing is left for the relay to send again
            time.sleep(3)
        finally:
            stop(second)

        received = sorted(r for m in smtp.messages for r in m.rcpt_tos)
        assert received == sorted(queued_ids)  # each once
        for envelope in smtp.messages:
            msg = message_from_bytes(envelope.content)
            assert msg["Message-ID"] == queued_ids[envelope.rcpt_tos[0]]
        db.session.remove()
        rows = db.session.scalars(sa.select(OutboxMail)).all()
        assert {r.status for r in rows} == {MailStatus.SENT}
        assert {r.to_address: r.message_id for r in rows} == queued_ids
        db.session.remove()


@pytest.mark.committed(
    MAIL_DISPATCH="celery", MAIL_BACKEND="smtp", MAIL_TIMEOUT=2, MAIL_AMBIGUOUS_RETRY_SECONDS=900
)
def test_worker_killed_before_the_answer_to_data_leaves_a_possibly_delivered_mail(
    committed_app,
):
    """SIGKILL the worker once the server has stored the message but before it answers the
    end of DATA. When the relay takes the stale claim back, it cannot know whether the server
    kept the mail: it marks it possibly delivered and leaves it for the longer pause."""
    app = committed_app
    with SMTPServer() as smtp, app.app_context():
        smtp.handler.data_reply_delay = 60
        user = UserFactory(email="data@example.edu")
        mail = queue_mail(user, "password_reset", {"link": "https://x/r", "hours": 2})
        mail_id, queued_id = mail.id, mail.message_id
        db.session.commit()

        worker = worker_process(app, smtp, mail_timeout=30)
        try:
            assert wait_for(lambda: len(smtp.messages) == 1, timeout=60), "nothing was sent"
        finally:
            stop(worker, kill=True)
        time.sleep(stale_claim_age().total_seconds() + 1)
        db.session.remove()
        killed_at = utcnow()
        assert relay() == 0  # not sent again at once

        db.session.remove()
        row = db.session.get(OutboxMail, mail_id)
        assert row.status is MailStatus.PENDING and row.possibly_delivered_at is not None
        assert row.next_attempt_at >= killed_at + timedelta(seconds=900)
        assert message_ids(smtp) == [queued_id] == [row.message_id]
        db.session.remove()


def test_slow_quit_does_not_hold_back_or_undo_delivery(app, ctx, restore_config):
    user = UserFactory()
    with SMTPServer() as server:
        smtp_config(app, server, MAIL_TIMEOUT=1)
        server.handler.quit_delay = 3  # QUIT answered after the client's timeout
        mail = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
        db.session.commit()
        assert deliver(mail.id).state == "sent"
    assert mail.status is MailStatus.SENT and mail.possibly_delivered_at is None
    assert message_ids(server) == [mail.message_id]


# --- 12 + 13: the server's answer to DATA comes after the client's timeout ---------------------


def test_answer_to_data_after_the_timeout_is_possibly_delivered_and_retried_later(
    app, ctx, dispatched, restore_config
):
    user = UserFactory()
    with SMTPServer() as server:
        smtp_config(app, server, MAIL_TIMEOUT=1, MAIL_AMBIGUOUS_RETRY_SECONDS=900)
        server.handler.data_reply_delay = 3  # stored, but "250" comes after the timeout
        mail = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
        queued_id = mail.message_id
        db.session.commit()
        dispatched.clear()

        before = utcnow()
        outcome = deliver(mail.id)
        assert (outcome.state, outcome.retry_in) == ("retry", 900)  # not the 30 s of a 451
        assert mail.status is MailStatus.PENDING and mail.possibly_delivered_at >= before
        assert mail.next_attempt_at >= before + timedelta(seconds=900)
        assert len(server.messages) == 1  # the server did keep it

        assert deliver(mail.id).state == "skipped"  # a duplicate task sends nothing yet
        assert relay() == 0 and dispatched == []  # nor does the relay

        client = app.test_client()
        login(client, admin().email)
        html = client.get("/admin/mail").get_data(as_text=True)
        assert "Possibly delivered" in html

        server.handler.data_reply_delay = 0
        mail.next_attempt_at = utcnow() - timedelta(seconds=1)  # the longer pause is over
        db.session.commit()
        assert deliver(mail.id).state == "sent"
    assert mail.status is MailStatus.SENT and mail.attempts == 2
    # Two copies reached the server, both with the Message-ID fixed at enqueue: receivers can
    # drop the second.
    assert message_ids(server) == [queued_id, queued_id]
    assert mail.message_id == queued_id


def test_a_refusal_is_not_a_possible_delivery(app, ctx, restore_config):
    user = UserFactory()
    with SMTPServer() as server:
        smtp_config(app, server, MAIL_TIMEOUT=2, MAIL_AMBIGUOUS_RETRY_SECONDS=900)
        server.handler.refuse_next = 1
        mail = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
        db.session.commit()
        outcome = deliver(mail.id)
    assert (outcome.state, outcome.retry_in) == ("retry", app.config["MAIL_RETRY_BASE_SECONDS"])
    assert mail.possibly_delivered_at is None


def test_a_server_too_slow_for_the_claim_is_given_up_before_the_claim_goes_stale(
    app, ctx, restore_config
):
    """Every step answers within MAIL_TIMEOUT, but the whole conversation would outlast the
    claim: the worker hangs up before the relay may give the mail to another worker."""
    user = UserFactory()
    with SMTPServer() as server:
        smtp_config(app, server, MAIL_TIMEOUT=2, MAIL_STALE_CLAIM_SECONDS=4)
        server.handler.rcpt_delay = 1.5
        server.handler.data_reply_delay = 1.5
        mail = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
        db.session.commit()
        started = time.monotonic()
        outcome = deliver(mail.id)
        elapsed = time.monotonic() - started
    assert outcome.state == "retry"
    assert elapsed < 4 - 1  # ended a MAIL_TIMEOUT before the claim could go stale
    assert "deadline" in mail.last_error and mail.possibly_delivered_at is not None


# --- 13: the Message-ID is fixed when the mail is queued -------------------------------------


def test_message_id_is_fixed_at_enqueue_and_sent_as_is(app, ctx, sent_mail):
    user = UserFactory()
    app.config["MAIL_DEFAULT_SENDER"] = "Office <exchange@uni.example.edu>"
    try:
        first = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
        second = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
    finally:
        app.config["MAIL_DEFAULT_SENDER"] = "Exchange <exchange@localhost>"
    assert first.message_id.endswith("@uni.example.edu>") and first.message_id.startswith("<")
    assert first.message_id != second.message_id
    db.session.commit()
    assert deliver(first.id).state == "sent"
    assert sent_mail[0]["Message-ID"] == first.message_id


# --- 14: relay interval and stale-claim age are settings --------------------------------------


def settings(**overrides):
    """The testing configuration as create_app() finalizes it."""
    cls = config_for("testing")
    values = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    return cls.finalize(values | {"BROKER_URL": "redis://127.0.0.1:1/0"} | overrides)


def test_relay_and_stale_claim_settings_follow_the_smtp_timeout():
    derived = settings(MAIL_TIMEOUT=10)
    assert (derived["MAIL_RELAY_SECONDS"], derived["MAIL_STALE_CLAIM_SECONDS"]) == (20, 50)
    schedule = celery_settings(derived)["beat_schedule"]
    assert schedule["relay-outbox"]["schedule"] == timedelta(seconds=20)

    chosen = settings(MAIL_TIMEOUT=10, MAIL_RELAY_SECONDS=45, MAIL_STALE_CLAIM_SECONDS=90)
    assert (chosen["MAIL_RELAY_SECONDS"], chosen["MAIL_STALE_CLAIM_SECONDS"]) == (45, 90)
    schedule = celery_settings(chosen)["beat_schedule"]
    assert schedule["relay-outbox"]["schedule"] == timedelta(seconds=45)

    # The default 30 s timeout: a dead worker's mail goes again within 3.5 minutes, not 12.
    defaults = mail_timing({"MAIL_TIMEOUT": 30})
    assert (defaults["MAIL_RELAY_SECONDS"], defaults["MAIL_STALE_CLAIM_SECONDS"]) == (60, 150)
    with pytest.raises(RuntimeError, match="MAIL_STALE_CLAIM_SECONDS"):
        mail_timing({"MAIL_TIMEOUT": 30, "MAIL_STALE_CLAIM_SECONDS": 45})


def test_relay_takes_back_claims_older_than_the_setting_only(app, ctx, dispatched, restore_config):
    app.config["MAIL_STALE_CLAIM_SECONDS"] = 60
    user = UserFactory()
    young = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
    old = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
    now = utcnow()
    for mail, age in ((young, 50), (old, 70)):
        mail.status = MailStatus.SENDING
        mail.claimed_at = now - timedelta(seconds=age)
    db.session.commit()
    dispatched.clear()
    assert relay() == 1
    assert dispatched == [old.id]
    assert stale_claim_age() == timedelta(seconds=60)
    assert young.status is MailStatus.SENDING and old.status is MailStatus.PENDING


def test_admin_mail_page_shows_how_long_a_claimed_mail_has_waited(app, ctx, restore_config):
    app.config["MAIL_STALE_CLAIM_SECONDS"] = 120
    user = UserFactory()
    waiting = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
    abandoned = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
    now = utcnow()
    waiting.status = abandoned.status = MailStatus.SENDING
    waiting.claimed_at = now - timedelta(seconds=65)
    abandoned.claimed_at = now - timedelta(minutes=20)
    db.session.commit()
    client = app.test_client()
    login(client, admin().email)
    html = client.get("/admin/mail?status=sending").get_data(as_text=True)
    assert "Claimed by a worker 1 minute ago; taken back if not sent after 2 minutes." in html
    assert "Claimed by a worker 20 minutes ago; the worker seems to have stopped" in html
