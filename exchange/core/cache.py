"""The in-process caches, and what each depends on: the one place that says so.

Pages are rendered afresh on every request, so a change is visible on the very next page. What
is kept in process is computed from its key alone (a parsed locale, a formatted time, a
rendered piece of the navigation named by everything it shows): nothing in the database can
make it stale, so nothing has to invalidate it. A cache that read tables would have to name
them in `TABLES` and be invalidated as narrowly as the data it holds (per call, per user);
tests/test_page_cache.py holds every cache to its declaration while the pages render.
"""

import threading
from collections import OrderedDict
from contextvars import ContextVar

# The cache whose value is being computed (for the test that no cache reads an undeclared
# table); None outside a computation.
computing: ContextVar[str | None] = ContextVar("computing", default=None)


class LRUCache:
    """A small thread-safe least-recently-used map, for values that are computed from their key
    alone (so nothing can make them stale)."""

    def __init__(self, name, maxsize=2048):
        self.name = name
        self.maxsize = maxsize
        self._data = OrderedDict()
        self._lock = threading.Lock()
        CACHES[name] = self

    def get_or_set(self, key, compute):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        token = computing.set(self.name)
        try:
            value = compute()
        finally:
            computing.reset(token)
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def clear(self):
        with self._lock:
            self._data.clear()


CACHES: dict[str, LRUCache] = {}

# Which tables each cache's values are read from: cache name -> table names. Every cache is
# here; none reads the database today.
TABLES: dict[str, frozenset[str]] = {
    "formatted_times": frozenset(),  # core.i18n: (value, locale, zone) -> text
    "fragments": frozenset(),  # core.fragments: the navigation, head and footer by their key
    # catalogue.views: the filter's countries, languages and subject areas per language
    "reference_options": frozenset(),
    # applications.forms: the language rows' options of the application page per language
    "language_options": frozenset(),
}
