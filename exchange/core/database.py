"""Column types and engine settings shared by all models."""

import enum
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.types import TypeDecorator


def utcnow():
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime stored in UTC on every database.

    Naive datetimes are refused: they are the usual source of off-by-eight-hours bugs.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use a timezone-aware one")
        value = value.astimezone(UTC)
        # SQLite has no time zones: keep a naive UTC value there.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_cls: type[enum.Enum], **kwargs):
    """An Enum stored as its value in a VARCHAR with a CHECK constraint (no native PG enum,
    so adding a member is a plain migration on both databases)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda cls: [m.value for m in cls],
        name=kwargs.pop("name", enum_cls.__name__.lower()),
        validate_strings=True,
    )


def configure_engine(engine):
    """SQLite: foreign keys, WAL, busy timeout, and SQLAlchemy-managed transactions so that
    SAVEPOINTs work. Nothing to do on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")


@contextmanager
def outside_transaction(session):
    """Run the enclosed read-only statement without opening a transaction, if none is open yet
    (PostgreSQL with psycopg; elsewhere this does nothing).

    psycopg sends BEGIN before the first statement of a transaction, and the pool ends it with
    ROLLBACK when the request ends: two round trips, and the ROLLBACK also makes psycopg forget
    its prepared statements, so the statement is planned again each time. The login lookup that
    starts every authenticated request is one SELECT, which PostgreSQL (READ COMMITTED) runs in
    a snapshot of its own either way, so running it in autocommit reads exactly the same rows: a
    page that needs nothing else then costs one round trip, on a statement prepared once per
    connection. Whatever follows (a write, another read) opens a transaction as usual.

    Only for a plain SELECT: a write or a locking read in autocommit would end on its own.
    """
    conn = session.connection()
    driver = conn.connection.driver_connection
    if (
        conn.dialect.driver != "psycopg"
        or driver.autocommit
        or driver.isolation_level is not None  # a stricter level than the server's default
        or driver.info.transaction_status != TransactionStatus.IDLE
    ):
        yield
        return
    driver.autocommit = True
    try:
        yield
    finally:
        if not driver.closed:
            driver.autocommit = False

