"""Test set-up: one throw-away database per run (PostgreSQL when TEST_DATABASE_URL is set,
else a SQLite file), brought to head by the Alembic migrations; one rolled-back transaction per
test; the broker is Redis when TEST_REDIS_URL is set, else kombu's filesystem transport.

With EXCHANGE_REQUIRE_SERVICES=1 (CI), a missing PostgreSQL or Redis stops the run with an
error instead of quietly falling back to SQLite and the filesystem broker.
"""

import os
import re
import tempfile
import uuid
from pathlib import Path

import flask_babel
import pytest
import sqlalchemy as sa
from flask import g
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session, sessionmaker

from exchange import create_app
from exchange.extensions import db, limiter

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
REQUIRE_SERVICES = os.environ.get("EXCHANGE_REQUIRE_SERVICES") == "1"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_report_header(config):
    db_kind = "PostgreSQL" if TEST_DATABASE_URL else "SQLite"
    broker = "Redis" if TEST_REDIS_URL else "filesystem"
    return f"exchange: database={db_kind} broker={broker} require_services={REQUIRE_SERVICES}"


def pytest_sessionstart(session):
    if not REQUIRE_SERVICES:
        return
    problems = []
    if not TEST_DATABASE_URL.startswith("postgresql"):
        problems.append("TEST_DATABASE_URL must name a PostgreSQL server")
    else:
        try:
            engine = sa.create_engine(TEST_DATABASE_URL)
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
        except Exception as exc:
            problems.append(f"PostgreSQL at TEST_DATABASE_URL does not answer: {exc}")
    if not TEST_REDIS_URL.startswith("redis"):
        problems.append("TEST_REDIS_URL must name a Redis server")
    else:
        import redis

        try:
            redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            problems.append(f"Redis at TEST_REDIS_URL does not answer: {exc}")
    if problems:
        pytest.exit("required services missing: " + "; ".join(problems), returncode=3)


# --- databases -------------------------------------------------------------------------------


class ScratchDatabases:
    """Creates and drops throw-away databases on the configured server."""

    def __init__(self, tmp_dir):
        self.tmp_dir = Path(tmp_dir)
        self.created = []

    def create(self):
        name = f"exchange_test_{uuid.uuid4().hex[:12]}"
        if TEST_DATABASE_URL.startswith("postgresql"):
            admin = sa.create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = sa.engine.make_url(TEST_DATABASE_URL).set(database=name)
            url = url.render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{self.tmp_dir / (name + '.db')}"
        self.created.append((name, url))
        return url

    def drop_all(self):
        if not TEST_DATABASE_URL.startswith("postgresql"):
            return
        admin = sa.create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name, _url in self.created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def scratch_databases(tmp_path_factory):
    dbs = ScratchDatabases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def run_id():
    return uuid.uuid4().hex[:8]


def make_app(database_url, tmp_dir, run_id, **overrides):
    tmp_dir = Path(tmp_dir)
    settings = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_DIR": str(tmp_dir / "instance"),
        "MAIL_OUTBOX_DIR": str(tmp_dir / "outbox"),
        "BROKER_URL": TEST_REDIS_URL or "filesystem://",
        # One folder per run: Celery keeps its producer pool across apps, so every app of a
        # run must publish where the worker reads.
        "BROKER_FOLDER": str(Path(tempfile.gettempdir()) / f"exchange-broker-{run_id}"),
    }
    settings.update(overrides)
    app = create_app("testing", **settings)

    @app.teardown_request
    def _forget_request_state(_exc):
        # Tests keep an app context pushed, and Flask reuses it for test-client requests, so
        # per-request caches in `g` (user, CSRF token, locale) would leak between them.
        for key in list(vars(g)):
            g.pop(key)
        flask_babel.refresh()

    # A queue of its own, so that a test run never takes tasks meant for anything else.
    app.extensions["celery"].conf.task_default_queue = f"exchange-test-{run_id}"
    return app


def migrate_to_head(app):
    with app.app_context():
        upgrade()
        db.session.remove()


@pytest.fixture(scope="session")
def app(scratch_databases, tmp_path_factory, run_id):
    url = scratch_databases.create()
    app = make_app(url, tmp_path_factory.mktemp("app"), run_id)
    migrate_to_head(app)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _rollback(request, app):
    """Each test runs in a transaction that is rolled back; code under test may commit (it
    commits a SAVEPOINT). Tests marked `committed` get their own database instead."""
    if request.node.get_closest_marker("committed"):
        yield
        return
    with app.app_context():
        conn = db.engine.connect()
        outer = conn.begin()
        saved = db.session
        db.session = scoped_session(
            sessionmaker(bind=conn, join_transaction_mode="create_savepoint")
        )
        app.extensions["dispatched_mail_ids"] = []
        app.extensions["mail_memory"] = []
        app.extensions["deferred_tasks"] = []
        limiter.reset()
        try:
            yield
        finally:
            db.session.remove()
            db.session = saved
            outer.rollback()
            conn.close()


@pytest.fixture
def committed_app(request, scratch_databases, tmp_path, run_id, app):
    """An app on a fresh database whose data is really committed (for workers, live servers
    and concurrent transactions, which need separate connections). Overrides come from
    `@pytest.mark.committed(SETTING=value)`."""
    from worker.celery_app import init_celery

    marker = request.node.get_closest_marker("committed")
    overrides = dict(marker.kwargs) if marker else {}
    url = scratch_databases.create()
    committed = make_app(url, tmp_path, run_id, **overrides)
    migrate_to_head(committed)
    limiter.reset()
    try:
        yield committed
    finally:
        with committed.app_context():
            db.session.remove()
            db.engine.dispose()
        init_celery(app)  # tasks run against the session app again
        app.extensions["celery"].conf.task_default_queue = f"exchange-test-{run_id}"


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


# --- helpers ---------------------------------------------------------------------------------

CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(client, path="/login"):
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}: {html[:300]}"
    return match.group(1) or match.group(2)


def client_for(app, user):
    """A test client logged in as `user`."""
    client = app.test_client()
    login(client, user.email)
    client.user = user
    return client


def login(client, email, password="correct horse battery", remember=False, **kwargs):
    token = csrf_token(client)
    data = {"email": email, "password": password, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data, **kwargs)


def run_deferred(app):
    """Run the tasks that requests handed to the worker (recorded in tests), as it would."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()  # worker.tasks registers the tasks
    tasks = app.extensions.setdefault("deferred_tasks", [])
    while tasks:
        name, args = tasks.pop(0)
        celery.tasks[name].run(*args)  # the body, in this app (the worker binds its own)


@pytest.fixture
def dispatched(app):
    """Mail ids handed to the worker after commits during this test."""
    return app.extensions.setdefault("dispatched_mail_ids", [])


@pytest.fixture
def sent_mail(app):
    """Messages delivered by the memory backend during this test."""
    return app.extensions.setdefault("mail_memory", [])
