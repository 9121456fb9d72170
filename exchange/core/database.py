"""Column types and engine settings shared by all models."""

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from psycopg import ServerCursor
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
    """SQLite: foreign keys, WAL, busy timeout, and SQLAlchemy-managed transactions (so that
    SAVEPOINTs work) that begin IMMEDIATE at their first write. PostgreSQL with psycopg:
    transactions begin at their first write."""
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.driver == "psycopg":
        _begin_at_first_write(engine)


def _configure_sqlite(engine):
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    _begin_immediate_at_first_write(engine)


WRITE_PENDING = "exchange_sqlite_write_not_begun"


def _begin_immediate_at_first_write(engine):
    """Plain SELECTs before a transaction's first write run on their own (in WAL mode a
    reader never waits), and the transaction starts with BEGIN IMMEDIATE right before its
    first write, or anything else that is not a plain SELECT.

    A deferred BEGIN takes a read snapshot at its first SELECT; its first write must then
    upgrade it to a write transaction, and when another connection (the worker's digest, a
    login) holds the write lock, SQLite answers SQLITE_BUSY ("database is locked") at once,
    without waiting on busy_timeout: it cannot wait, since the snapshot would be stale once
    the other writer commits. BEGIN IMMEDIATE takes the write lock before anything is read,
    so it waits on busy_timeout like any other lock and then sees the latest data. Reads
    before the first write see the latest committed rows each, as on PostgreSQL's READ
    COMMITTED (see _begin_at_first_write); reads after it are in the write's transaction."""

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.info[WRITE_PENDING] = True

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_before_writing(conn, cursor, _statement, _params, context, _many):
        if conn.info.get(WRITE_PENDING) and not _plain_read(cursor, context):
            conn.info[WRITE_PENDING] = False
            driver = conn.connection.driver_connection
            if not driver.in_transaction:
                driver.execute("BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _transaction_over(conn):
        conn.info.pop(WRITE_PENDING, None)

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record):
        record.info.pop(WRITE_PENDING, None)


READING = "exchange_reading_outside_transaction"


def _begin_at_first_write(engine):
    """Plain SELECTs that come before a transaction's first write run in autocommit, and the
    transaction (BEGIN) starts with that write, or with anything else that is not a plain
    SELECT.

    psycopg sends BEGIN before the first statement of a transaction, and the pool ends every
    request with ROLLBACK: two round trips around even a read-only page, and the ROLLBACK also
    makes psycopg drop its prepared statements, so each query is planned again on every
    request. PostgreSQL's READ COMMITTED gives each statement a snapshot of its own, inside a
    transaction or not, so these reads see exactly the same rows; writes, and the reads after
    them, are in one transaction as before. A read-only page then costs its SELECTs and nothing
    else, on statements prepared once per connection.

    "Plain" leaves out locking reads (FOR UPDATE/SHARE), server-side cursors (yield_per), which
    need a transaction, and text() statements, which are not inspected; a SAVEPOINT (the tests'
    per-test transaction) begins the transaction like a write. A SELECT calling a
    transaction-scoped function (pg_advisory_xact_lock, set_config(..., true)) would run on its
    own: use text() for such a statement. Connections with an isolation level of their own are
    left as they are.
    """

    @event.listens_for(engine, "begin")
    def _read_outside_transaction(conn):
        driver = conn.connection.driver_connection
        if (
            not driver.autocommit
            and driver.isolation_level is None
            and driver.info.transaction_status == TransactionStatus.IDLE
        ):
            driver.autocommit = True
            conn.info[READING] = True

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_before_writing(conn, cursor, _statement, _params, context, _many):
        if conn.info.get(READING) and not _plain_read(cursor, context):
            conn.info[READING] = False
            conn.connection.driver_connection.autocommit = False  # psycopg sends BEGIN now

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _transaction_over(conn):
        # The next transaction of this connection starts with a "begin" again.
        if conn.info.pop(READING, False):
            conn.connection.driver_connection.autocommit = False

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_conn, record):
        # A connection that went back to the pool mid-read (a closed session) is ready for
        # a plain transaction again, as anyone taking it from the pool expects.
        if record.info.pop(READING, False) and not dbapi_conn.closed:
            dbapi_conn.autocommit = False


def _plain_read(cursor, context):
    statement = getattr(context.compiled, "statement", None) if context else None
    return (
        isinstance(statement, sa.Select)
        and statement._for_update_arg is None  # no public accessor in SQLAlchemy
        and not isinstance(cursor, ServerCursor)
    )
