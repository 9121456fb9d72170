"""Security baseline: response headers, login sessions that the server can revoke, and the
role checks used by views."""

import functools
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, current_app, request
from flask_login import current_user, login_required

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
    if response.mimetype == "text/html":
        # Pages carry personal data: never keep them in shared caches or after logout.
        headers.setdefault("Cache-Control", "no-store")
    return response


def load_user(token):
    """Flask-Login stores the login-session token; a revoked or expired one loads nobody.

    One statement per request loads the session, the user with roles, units and student
    profile, and the versions of the in-process caches (see core.cache). On PostgreSQL it runs
    outside a transaction (core.database): a page that needs nothing else from the database
    costs one round trip."""
    from ..accounts.models import LoginSession, hash_token
    from .cache import VersionedCache

    statement, cache_names = _login_statement(VersionedCache.names())
    row = db.session.execute(statement, {"token_hash": hash_token(token)}).unique().first()
    if row is None:
        return None
    user, login_id, revoked_at, expires_at, last_seen_at, *versions = row
    VersionedCache.remember_versions(dict(zip(cache_names, versions, strict=True)))
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
def _login_statement(cache_names):
    """The login lookup, built once per process (building it and its eager-loading options
    cost more than running it). The login session is read as plain columns: nothing needs it
    as an object, and each entity in a row costs time to load."""
    from sqlalchemy.orm import joinedload

    from ..accounts.models import LoginSession, StudentProfile, User
    from .cache import VersionedCache

    versions = VersionedCache.version_columns()
    statement = (
        db.select(
            User,
            LoginSession.id,
            LoginSession.revoked_at,
            LoginSession.expires_at,
            LoginSession.last_seen_at,
            *(versions[name] for name in cache_names),
        )
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == sa.bindparam("token_hash"))
        .options(
            joinedload(User.role_rows),
            joinedload(User.memberships),
            joinedload(User.profile).joinedload(StudentProfile.language_results),
        )
    )
    return statement, cache_names


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
