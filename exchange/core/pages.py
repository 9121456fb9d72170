"""Whole rendered pages kept in process, for the read-heavy lists (the catalogue, the office's
list of a call's applications, the approver's queue).

A page is kept under everything it shows: the URL with its query string, the user (whose
roles, units and profile decide what they may see), language and time zone, the navigation
badges, and the version of every cache (core.cache). The versions are bumped by the commit of
any write to the tables behind the pages, and they arrive with the login statement, so a kept
page costs no statement of its own and is never older than the data it was rendered from.
What changes with time alone is handled by an expiry: a view names the moment its page stops
being true (`valid_until`, e.g. when "waiting 2 days" becomes "3 days"), and no page is kept
longer than PAGE_CACHE_SECONDS in any case.

The per-session CSRF token is not kept: pages are rendered with a placeholder in its place,
which is replaced by the current token when the page is served. Pages showing flashed messages
are neither served from nor put into the cache.
"""

import functools
import secrets
import threading
import time
from collections import OrderedDict
from datetime import datetime

from flask import current_app, g, make_response, request, session
from flask.globals import request_ctx
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .cache import LRUCache, VersionedCache

# Random per process, so that no stored text can carry the placeholder into a page.
_PLACEHOLDER = f"csrf-{secrets.token_hex(12)}"


class PageCache:
    """Least recently used pages within a budget of characters."""

    def __init__(self):
        self._pages = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key, now):
        with self._lock:
            entry = self._pages.get(key)
            if entry is None:
                return None
            body, expires = entry
            if expires <= now:
                self._drop(key)
                return None
            self._pages.move_to_end(key)
            return body

    def put(self, key, body, expires, budget):
        if len(body) > budget // 4:
            return
        with self._lock:
            if key in self._pages:
                self._drop(key)
            self._pages[key] = (body, expires)
            self._size += len(body)
            while self._size > budget:
                self._drop(next(iter(self._pages)))

    def _drop(self, key):
        body, _expires = self._pages.pop(key)
        self._size -= len(body)

    def clear(self):
        with self._lock:
            self._pages.clear()
            self._size = 0


pages = PageCache()
VersionedCache.dependants.append(pages)


def valid_until(moment: datetime | None):
    """Called by a view while it renders: its page stops being true at `moment`."""
    if moment is None:
        return
    stamp = moment.timestamp()
    current = g.get("page_valid_until")
    g.page_valid_until = stamp if current is None else min(current, stamp)


def _badges():
    """The navigation's counts, as the page shows them (see base.html)."""
    from ..approvals.views import approvals_waiting
    from ..notifications.views import unread_notifications

    return unread_notifications(), approvals_waiting()


def _key():
    """What the page shows depends on. The user's own settings (language, time zone, roles,
    units, profile) are in the users' tables, whose writes move the casework version: the
    user's id and the versions stand for them. The browser's languages count only for a user
    who chose none."""
    user = current_user
    browser = None
    if user.locale not in current_app.config["LANGUAGES"]:
        browser = request.headers.get("Accept-Language")
    return (
        request.endpoint,
        request.full_path,
        user.id,
        browser,
        _badges(),
        VersionedCache.all_versions(),
    )


_signed_tokens = LRUCache(maxsize=4096)
VersionedCache.dependants.append(_signed_tokens)


def _csrf_token():
    """The session's CSRF token, signed once per session and process rather than per page:
    with no time limit (WTF_CSRF_TIME_LIMIT = None) a signed token is good for as long as its
    session."""
    raw = session.get("csrf_token")
    if raw is None or current_app.config["WTF_CSRF_TIME_LIMIT"] is not None:
        return generate_csrf()
    token = _signed_tokens.get(raw)
    if token is None:
        token = generate_csrf()
        _signed_tokens.put(raw, token)
    g.csrf_token = token
    return token


def _cacheable():
    app = current_app
    return (
        app.config["PAGE_CACHE_MB"] > 0
        and not app.jinja_env.auto_reload  # development: edited templates show at once
        and request.method == "GET"
        and current_user.is_authenticated
        and "_flashes" not in session
    )


def cached_page(view):
    """Serve the view's page from the cache when it is known; put it there when it is not.
    Goes inside the access decorators (they run on every request)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not _cacheable():
            return view(*args, **kwargs)
        key = _key()
        now = time.time()
        body = pages.get(key, now)
        if body is not None:
            return body.replace(_PLACEHOLDER, _csrf_token())
        g.csrf_token = _PLACEHOLDER  # what Flask-WTF hands out while rendering
        g.page_valid_until = None
        try:
            response = make_response(view(*args, **kwargs))
        finally:
            g.pop("csrf_token", None)
        token = _csrf_token()
        if response.direct_passthrough:
            return response
        body = response.get_data(as_text=True)
        if (
            response.status_code == 200
            and response.mimetype == "text/html"
            and "_flashes" not in session
            and not request_ctx.flashes
        ):
            expires = now + current_app.config["PAGE_CACHE_SECONDS"]
            if g.page_valid_until is not None:
                expires = min(expires, g.page_valid_until)
            budget = current_app.config["PAGE_CACHE_MB"] * 1024 * 1024
            pages.put(key, body, expires, budget)
        response.set_data(body.replace(_PLACEHOLDER, token))
        return response

    return wrapped
