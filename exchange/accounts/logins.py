"""Login sessions the server can revoke, and the one statement that loads the user of each
request (Flask-Login's user loader, registered in init_app)."""

import secrets
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, g, request
from sqlalchemy.orm import joinedload

from ..core.database import utcnow
from ..extensions import db, login_manager
from .models import LoginSession, StudentProfile, User, hash_token

LAST_SEEN_EVERY = timedelta(minutes=5)

# Values a package above accounts wants with every request's user (the unread count of the
# navigation's badge): name -> a function of the user id column that returns a scalar subquery.
# They ride in the login statement, and load_user puts each in `g` under its name.
_extra_columns: dict[str, Callable[[sa.ColumnElement], sa.ScalarSelect]] = {}


def add_login_column(name: str, build: Callable[[sa.ColumnElement], sa.ScalarSelect]) -> None:
    """Load `build(user id column)` with the user of every request, into `g.<name>`."""
    _extra_columns[name] = build
    _statements.clear()


def init_app(app):
    login_manager.user_loader(load_user)


def load_user(token):
    """Flask-Login stores the login-session token; a revoked or expired one loads nobody.

    One statement per request reads the login session, its user with roles, units and
    student profile, and the extra columns (the unread notifications). Nothing of it is kept
    between requests: a change to the user shows on their next page."""
    names = tuple(_extra_columns)
    row = (
        db.session.execute(_login_statement(names), {"token_hash": hash_token(token)})
        .unique()
        .one_or_none()
    )
    if row is None:
        return None
    user, login_id, revoked_at, expires_at, last_seen_at, *extras = row
    for name, value in zip(names, extras, strict=True):
        setattr(g, name, value)
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


_statements: dict[tuple, sa.Select] = {}


def _login_statement(names):
    """The login lookup, built once per process (and again when a column is added)."""
    if names not in _statements:
        extras = (
            _extra_columns[name](LoginSession.user_id).correlate(LoginSession) for name in names
        )
        _statements[names] = (
            sa.select(
                User,
                LoginSession.id,
                LoginSession.revoked_at,
                LoginSession.expires_at,
                LoginSession.last_seen_at,
                *extras,
            )
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(LoginSession.token_hash == sa.bindparam("token_hash"))
            .options(
                joinedload(User.role_rows),
                joinedload(User.memberships),
                joinedload(User.profile).joinedload(StudentProfile.language_results),
            )
        )
    return _statements[names]


def start_login_session(user, remember):
    """Create the server-side record of a new login and return its token."""
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
    stmt = (
        db.update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if keep_token:
        stmt = stmt.where(LoginSession.token_hash != hash_token(keep_token))
    db.session.execute(stmt)


def revoke_current_session(token):
    db.session.execute(
        db.update(LoginSession)
        .where(LoginSession.token_hash == hash_token(token))
        .values(revoked_at=utcnow())
    )
