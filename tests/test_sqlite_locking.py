"""SQLite, the embedded database: web requests and the worker write at the same time, and
neither waits in vain nor fails on the other's lock ("database is locked")."""

import threading
import time

import pytest
import sqlalchemy as sa

from exchange.accounts.models import LoginSession, User
from exchange.core import heartbeat
from exchange.extensions import db

from .conftest import csrf_token, make_app, migrate_to_head
from .factories import UserFactory

WEB_THREADS, LOGINS = 4, 4
WORKER_THREADS, BEATS = 2, 12


@pytest.fixture
def sqlite_app(app, tmp_path, run_id):
    """An app on a committed SQLite file of its own, whatever database the run uses."""
    from worker.celery_app import init_celery

    file_app = make_app(
        f"sqlite:///{tmp_path / 'locking.db'}",
        tmp_path,
        run_id,
        LOGIN_LIMIT_PER_ADDRESS="1000 per minute",
        LOGIN_LIMIT_PER_ACCOUNT="1000 per minute",
    )
    migrate_to_head(file_app)
    try:
        yield file_app
    finally:
        with file_app.app_context():
            db.session.remove()
            db.engine.dispose()
        init_celery(app)  # tasks run against the session app again
        app.extensions["celery"].conf.task_default_queue = f"exchange-test-{run_id}"


def _worker_writes(app, barrier, errors):
    """What the beat's tasks do: read, then write, holding the write lock for a moment."""
    try:
        with app.app_context():
            barrier.wait()
            for i in range(BEATS):
                db.session.scalar(sa.select(sa.func.count()).select_from(User))
                heartbeat.beat(f"worker-{threading.get_ident()}-{i % 3}")
                db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession))
                db.session.execute(sa.update(User).values(locale=User.locale))
                time.sleep(0.03)  # a digest rendering its mails inside the transaction
                db.session.commit()
            db.session.remove()
    except Exception as exc:  # noqa: BLE001 - every failure is the test's finding
        errors.append(f"worker: {exc!r}")


def _web_logins(app, email, barrier, errors):
    try:
        client = app.test_client()
        token = csrf_token(client)
        barrier.wait()
        for _ in range(LOGINS):
            resp = client.post(
                "/login",
                data={"email": email, "password": "correct horse battery", "csrf_token": token},
            )
            if resp.status_code != 302 or "/login" in resp.headers.get("Location", ""):
                errors.append(f"login {email}: {resp.status_code}")
            client.post("/logout", data={"csrf_token": csrf_token(client, "/home")})
            token = csrf_token(client)
    except Exception as exc:  # noqa: BLE001
        errors.append(f"web {email}: {exc!r}")


@pytest.mark.committed
def test_logins_and_worker_writes_at_once_on_sqlite(sqlite_app):
    app = sqlite_app
    with app.app_context():
        emails = [UserFactory().email for _ in range(WEB_THREADS)]
        db.session.commit()
        db.session.remove()
    errors = []
    barrier = threading.Barrier(WEB_THREADS + WORKER_THREADS)
    threads = [
        threading.Thread(target=_web_logins, args=(app, email, barrier, errors)) for email in emails
    ] + [
        threading.Thread(target=_worker_writes, args=(app, barrier, errors))
        for _ in range(WORKER_THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    with app.app_context():
        logins = db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession))
        assert logins == WEB_THREADS * LOGINS


def test_a_lock_held_too_long_answers_503_not_500(tmp_path):
    from sqlite3 import OperationalError as SQLiteError

    from sqlalchemy.exc import OperationalError

    from exchange import create_app

    app = create_app("development", SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_DIR=str(tmp_path))

    @app.get("/locked")
    def locked():
        raise OperationalError("UPDATE users", {}, SQLiteError("database is locked"))

    @app.get("/broken")
    def broken():
        raise OperationalError("UPDATE users", {}, SQLiteError("disk I/O error"))

    client = app.test_client()
    resp = client.get("/locked")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"
    assert "Wait a moment and try again" in resp.get_data(as_text=True)
    assert client.get("/broken").status_code == 500
