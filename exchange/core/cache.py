"""An in-process cache for read-mostly data that is invalidated by a version number.

Each cached value is stored under (version, key). The version is a counter in the database that
a write bumps in the same transaction (see `bump_on_flush`), so every worker process sees a
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
        for cache in cls.instances:
            cache.clear()


def bump_on_flush(cache_name, *model_classes):
    """Bump `cache_name`'s version in any flush that writes one of `model_classes`."""

    @event.listens_for(Session, "before_flush")
    def _bump(session, _flush_context, _instances):
        changed = (*session.new, *session.dirty, *session.deleted)
        if not any(isinstance(obj, model_classes) for obj in changed):
            return
        if session.info.get(f"bumped_{cache_name}") is session.get_transaction():
            return  # once per transaction is enough
        updated = session.execute(
            sa.update(CacheVersion)
            .where(CacheVersion.name == cache_name)
            .values(version=CacheVersion.version + 1)
        ).rowcount
        if not updated:
            session.execute(sa.insert(CacheVersion).values(name=cache_name, version=1))
        session.info[f"bumped_{cache_name}"] = session.get_transaction()

    return _bump
