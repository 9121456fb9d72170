"""Security baseline: response headers, safe redirects and the role checks used by views.
The login sessions and the user loader are accounts' (accounts/logins.py)."""

import functools
from urllib.parse import urlsplit

from flask import abort, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.urls import iri_to_uri

from ..extensions import login_manager

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app):
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.login_message = _l("Please log in to see this page.")
    app.after_request(set_security_headers)


def set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config["HSTS"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if not _static_asset() and "no-store" not in headers.get("Cache-Control", ""):
        # Pages, exports and downloads carry personal data: never keep them in shared caches
        # or after logout. send_file's own "no-cache" would still let them be stored.
        headers["Cache-Control"] = "no-store"
    return response


# What browsers (WHATWG URL standard) and Python's urlsplit silently drop from a URL.
_URL_STRIP = "".join(chr(c) for c in range(0x21))
_URL_REMOVE = str.maketrans("", "", "\t\n\r")


def safe_redirect_target(target):
    """The Location to send for a redirect target taken from input, or None when it could
    lead off this site.

    The check runs on the URL that will actually be sent and followed, not on the raw input:
    Werkzeug passes a Location through `iri_to_uri`, which (like every browser) drops tabs
    and newlines, and browsers read a backslash as a slash. So "/<tab>/evil.com" or "/\\evil.com"
    would become "//evil.com", another host. Only a path on this site passes."""
    if not target or not isinstance(target, str):
        return None
    cleaned = target.strip(_URL_STRIP).translate(_URL_REMOVE).replace("\\", "/")
    if (
        any(ord(c) < 0x20 or ord(c) == 0x7F for c in cleaned)
        or not cleaned.startswith("/")
        or cleaned.startswith("//")
    ):
        return None
    try:
        location = iri_to_uri(cleaned)
    except ValueError:
        return None
    parts = urlsplit(location)
    if (
        parts.scheme
        or parts.netloc
        or not location.startswith("/")
        or location.startswith("//")
        or location != location.strip(_URL_STRIP).translate(_URL_REMOVE)
    ):
        return None
    return location


def _static_asset():
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def roles_required(*roles):
    """Allow the view to users holding any of `roles`; others get 403."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator
