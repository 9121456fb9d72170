"""Security baseline: response headers, login sessions that the server can revoke, and the
role checks used by views."""

import functools
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app, g, request
from flask_login import current_user, login_required
from werkzeug.urls import iri_to_uri

from ..extensions import db, login_manager
from .database import utcnow

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
LAST_SEEN_EVERY = timedelta(minutes=5)


def init_app(app):
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.user_loader(load_user)
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


def load_user(token):
    """Flask-Login stores the login-session token; a revoked or expired one loads nobody.

    One statement per request reads the login session, its user with roles, units and
    student profile, and the count of unread notifications (the navigation's badge). Nothing
    of it is kept between requests: a change to the user shows on their next page."""
    from ..accounts.models import LoginSession, hash_token

    row = (
        db.session.execute(_login_statement(), {"token_hash": hash_token(token)})
        .unique()
        .one_or_none()
    )
    if row is None:
        return None
    user, login_id, revoked_at, expires_at, last_seen_at, unread = row
    g.unread_notifications = unread  # the navigation's badge (notifications.views)
    now = utcnow()
    if revoked_at is not None or expires_at <= now or not user.active:
        return None
    if now - last_seen_at > LAST_SEEN_EVERY:
        db.session.execute(
            db.update(LoginSession).where(LoginSession.id == login_id).values(last_seen_at=now)
        )
        db.session.commit()
    user.login_token = token
    return user


@functools.cache
def _login_statement():
    """The login lookup, built once per process."""
    from sqlalchemy.orm import joinedload

    from ..accounts.models import LoginSession, StudentProfile, User
    from ..notifications.models import Notification

    unread = (
        sa.select(sa.func.count(Notification.id))
        .where(Notification.user_id == LoginSession.user_id, Notification.read_at.is_(None))
        .correlate(LoginSession)
        .scalar_subquery()
    )
    return (
        sa.select(
            User,
            LoginSession.id,
            LoginSession.revoked_at,
            LoginSession.expires_at,
            LoginSession.last_seen_at,
            unread,
        )
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == sa.bindparam("token_hash"))
        .options(
            joinedload(User.role_rows),
            joinedload(User.memberships),
            joinedload(User.profile).joinedload(StudentProfile.language_results),
        )
    )


def start_login_session(user, remember):
    """Create the server-side record of a new login and return its token."""
    from ..accounts.models import LoginSession, hash_token

    token = secrets.token_urlsafe(32)
    lifetime = (
        current_app.config["REMEMBER_COOKIE_DURATION"]
        if remember
        else timedelta(hours=current_app.config["SESSION_HOURS"])
    )
    db.session.add(
        LoginSession(
            token_hash=hash_token(token),
            user_id=user.id,
            expires_at=utcnow() + lifetime,
            ip=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:255],
        )
    )
    user.login_token = token
    return token


def revoke_login_sessions(user, *, keep_token=None):
    """End every login of `user` (except the one holding `keep_token`)."""
    from ..accounts.models import LoginSession, hash_token

    stmt = (
        db.update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if keep_token:
        stmt = stmt.where(LoginSession.token_hash != hash_token(keep_token))
    db.session.execute(stmt)


def revoke_current_session(token):
    from ..accounts.models import LoginSession, hash_token

    db.session.execute(
        db.update(LoginSession)
        .where(LoginSession.token_hash == hash_token(token))
        .values(revoked_at=utcnow())
    )


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
