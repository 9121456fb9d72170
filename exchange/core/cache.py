"""An in-process cache for read-mostly data that is invalidated by a version number.

Each cached value is stored under (version, key). The version is a counter in the database that
a write bumps in the same transaction (see `bump_on_write`), so every worker process sees a
change at its next request: there is no stale read and no cross-process invalidation to get
wrong. Old versions simply age out of the LRU.
"""

import threading
from collections import OrderedDict

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..extensions import db


class CacheVersion(db.Model):
    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


class LRUCache:
    """A small thread-safe least-recently-used map, for values that are computed from their key
    alone (so nothing can make them stale)."""

    def __init__(self, maxsize=2048):
        self.maxsize = maxsize
        self._data = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def get_or_set(self, key, compute):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def clear(self):
        with self._lock:
            self._data.clear()


class VersionedCache:
    instances = []
    # Other process-local caches kept under these versions (core.pages), emptied with them.
    dependants = []

    def __init__(self, name, maxsize=2048):
        VersionedCache.instances.append(self)
        self.name = name
        self._lru = LRUCache(maxsize)

    def version(self):
        """The current version, read once per request."""
        cache_key = f"_cache_version_{self.name}"
        if has_request_context() and cache_key in g:
            return g.get(cache_key)
        value = db.session.scalar(
            sa.select(CacheVersion.version).where(CacheVersion.name == self.name)
        )
        value = value or 0
        if has_request_context():
            setattr(g, cache_key, value)
        return value

    @classmethod
    def names(cls):
        return tuple(cache.name for cache in cls.instances)

    @classmethod
    def version_columns(cls):
        """Scalar subqueries of every cache's version, to ride along in another statement."""
        return {
            cache.name: sa.select(CacheVersion.version)
            .where(CacheVersion.name == cache.name)
            .scalar_subquery()
            for cache in cls.instances
        }

    @staticmethod
    def remember_versions(versions):
        if has_request_context():
            for name, value in versions.items():
                setattr(g, f"_cache_version_{name}", value or 0)

    def get_or_set(self, key, compute, version=None):
        version = self.version() if version is None else version
        return self._lru.get_or_set((version, key), compute)

    def clear(self):
        self._lru.clear()

    @classmethod
    def clear_all(cls):
        """Tests roll versions back; production never does, so only tests call this."""
        for cache in (*cls.instances, *cls.dependants):
            cache.clear()

    @classmethod
    def all_versions(cls):
        return tuple(cache.version() for cache in cls.instances)


# Which caches a write to each table makes stale: table name -> cache names.
_WATCHED: dict[str, set[str]] = {}
# Attributes whose change alone makes nothing stale: table name -> attribute names.
_IGNORED: dict[str, set[str]] = {}
_WRITTEN = "written_caches"


def bump_on_write(cache_name, *model_classes, ignoring=()):
    """Bump `cache_name`'s version when a transaction that wrote one of `model_classes`
    commits, whether the write was an ORM flush or an INSERT/UPDATE/DELETE statement run
    through the session.

    The bump is the last statement before COMMIT: its row lock is held for the commit alone,
    and as its holder asks for no other lock it cannot take part in a deadlock. A reader that
    sees the new version sees the data it stands for (same transaction); a reader that saw the
    old version and then newer data keeps that data under the old version, which the next
    request no longer asks for."""
    for model in model_classes:
        _WATCHED.setdefault(model.__table__.name, set()).add(cache_name)
    for attribute in ignoring:  # bookkeeping no cached page shows, e.g. User.last_login_at
        _IGNORED.setdefault(attribute.class_.__table__.name, set()).add(attribute.key)


def _note(session, table_name):
    names = _WATCHED.get(table_name)
    if names:
        session.info.setdefault(_WRITTEN, set()).update(names)


@event.listens_for(Session, "before_flush")
def _note_flush(session, _flush_context, _instances):
    for obj in (*session.new, *session.deleted):
        _note(session, getattr(obj, "__tablename__", None))
    for obj in session.dirty:
        table = getattr(obj, "__tablename__", None)
        ignored = _IGNORED.get(table)
        if ignored and _changed(obj) <= ignored:
            continue
        _note(session, table)


def _changed(obj):
    return {a.key for a in sa.inspect(obj).attrs if a.history.has_changes()}


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state):
    if state.is_insert or state.is_update or state.is_delete:
        _note(state.session, state.statement.table.name)


@event.listens_for(Session, "before_commit")
def _bump_written(session):
    if session.in_nested_transaction():
        return  # a SAVEPOINT: the transaction around it commits (and bumps) later, or not
    if session.new or session.dirty or session.deleted:
        session.flush()  # pending objects are flushed after this hook: note them now
    names = session.info.pop(_WRITTEN, None)
    for name in sorted(names or ()):  # one order for everyone
        session.execute(_upsert(session, name))


@event.listens_for(Session, "after_transaction_end")
def _forget_written(session, transaction):
    if transaction.parent is None:  # rolled back (a commit has taken the names already)
        session.info.pop(_WRITTEN, None)


def _upsert(session, name):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(CacheVersion).values(name=name, version=1)
    return stmt.on_conflict_do_update(
        index_elements=[CacheVersion.name], set_={"version": CacheVersion.version + 1}
    )
