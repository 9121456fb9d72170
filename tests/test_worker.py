"""A real Celery worker takes tasks from the real broker (Redis in CI, else the filesystem
transport) and delivers mail to a real SMTP server."""

import time

import pytest
import sqlalchemy as sa
from celery.contrib.testing.worker import start_worker

from exchange.extensions import db
from exchange.mail.models import MailStatus, OutboxMail

from .conftest import csrf_token
from .factories import UserFactory
from .helpers import wait_for
from .smtp import SMTPServer


@pytest.mark.committed(
    MAIL_DISPATCH="celery", TASK_DISPATCH="celery", MAIL_BACKEND="smtp", MAIL_TIMEOUT=5
)
def test_password_reset_mail_goes_through_the_worker_to_smtp(committed_app):
    app = committed_app
    celery = app.extensions["celery"]
    with SMTPServer() as smtp, app.app_context():
        app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = "127.0.0.1", smtp.port
        user = UserFactory(email="worker-test@example.edu")
        user_id = user.id
        db.session.remove()

        with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            client = app.test_client()
            token = csrf_token(client, "/password/forgot")
            resp = client.post(
                "/password/forgot", data={"email": "worker-test@example.edu", "csrf_token": token}
            )
            assert resp.status_code == 302
            assert wait_for(lambda: len(smtp.messages) >= 1), "the worker delivered nothing"
            time.sleep(0.5)  # a duplicate would arrive now

        assert len(smtp.messages) == 1
        assert smtp.messages[0].rcpt_tos == ["worker-test@example.edu"]
        assert b"/password/reset/" in smtp.messages[0].content
        db.session.remove()
        mail = db.session.scalars(
            sa.select(OutboxMail).where(OutboxMail.recipient_id == user_id)
        ).one()
        assert mail.status is MailStatus.SENT and mail.attempts == 1


@pytest.mark.committed(MAIL_DISPATCH="celery")
def test_heartbeat_task_runs_on_the_worker(committed_app):
    from exchange.core.heartbeat import last_beat
    from worker.tasks import heartbeat

    app = committed_app
    with (
        app.app_context(),
        start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False),
    ):
        assert last_beat() is None
        db.session.remove()
        heartbeat.delay()

        def beaten():
            db.session.remove()
            return last_beat() is not None

        assert wait_for(beaten)
        resp = app.test_client().get("/healthz")
        assert resp.get_json()["worker_last_heartbeat"] is not None


@pytest.mark.committed(
    MAIL_DISPATCH="celery", TASK_DISPATCH="celery", MAIL_BACKEND="smtp", MAIL_TIMEOUT=5
)
def test_a_reset_asked_while_the_broker_is_down_is_mailed_once_the_worker_runs(
    committed_app, monkeypatch
):
    from worker.tasks import relay_reset_requests

    app = committed_app
    celery = app.extensions["celery"]
    with SMTPServer() as smtp, app.app_context():
        app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = "127.0.0.1", smtp.port
        UserFactory(email="broker-down@example.edu")
        db.session.remove()

        def broker_down(*args, **kwargs):
            raise ConnectionError("broker down")

        with monkeypatch.context() as patch:
            patch.setattr(celery, "send_task", broker_down)
            client = app.test_client()
            token = csrf_token(client, "/password/forgot")
            resp = client.post(
                "/password/forgot", data={"email": "broker-down@example.edu", "csrf_token": token}
            )
            assert resp.status_code == 302

        with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            relay_reset_requests.delay()  # what the beat sends each minute
            assert wait_for(lambda: len(smtp.messages) >= 1), "the worker delivered nothing"
            relay_reset_requests.delay()
            time.sleep(1)  # a duplicate would arrive now

        assert len(smtp.messages) == 1
        assert smtp.messages[0].rcpt_tos == ["broker-down@example.edu"]
        assert b"/password/reset/" in smtp.messages[0].content
