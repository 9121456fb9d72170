"""State changes on accounts. Each checks its rules, writes its audit event and queues its mail
in the caller's transaction; the caller commits."""

import logging
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..core import audit
from ..core.database import utcnow
from ..core.deferred import defer
from ..core.errors import DomainError
from ..extensions import db
from ..mail.operations import external_url, queue_mail, queue_mails
from . import passwords
from .logins import revoke_current_session, revoke_login_sessions, start_login_session
from .models import (
    MailPreference,
    PasswordResetRequest,
    PasswordResetToken,
    Role,
    Unit,
    UnitFunction,
    UnitMembership,
    User,
    UserRole,
    hash_token,
)


def find_user_by_email(email):
    return db.session.scalar(db.select(User).where(User.email_key == User.email_key_for(email)))


def check_password_rules(password, user=None):
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise DomainError(
            _l("The password must have at least %(n)s characters.", n=minimum), "password"
        )
    if len(password) > 1024:
        raise DomainError(_l("The password is too long."), "password")
    if user is not None and password.strip().lower() in {user.email_key, user.name.lower()}:
        raise DomainError(_l("The password must not be your e-mail or name."), "password")


def create_user(email, name, roles, *, password=None, units=(), function=None, actor=None):
    """Create an account. Roles are `Role` members; units are `Unit` rows."""
    email = (email or "").strip()
    if not email or "@" not in email:
        raise DomainError(_l("Enter a valid e-mail address."), "email")
    if find_user_by_email(email) is not None:
        raise DomainError(_l("An account with this e-mail already exists."), "email")
    if not name or not name.strip():
        raise DomainError(_l("Enter a name."), "name")
    if not roles:
        raise DomainError(_l("Choose at least one role."), "roles")
    user = User(email=email, name=name.strip())
    if password is not None:
        check_password_rules(password, user)
        user.password_hash = passwords.hash_password(password)
    user.role_rows = [UserRole(role=role) for role in sorted(set(roles), key=lambda r: r.value)]
    default_function = UnitFunction.ADVISOR if Role.ADVISOR in roles else UnitFunction.MEMBER
    user.memberships = [
        UnitMembership(unit=unit, function=function or default_function) for unit in units
    ]
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.created",
        user,
        actor=actor,
        details={"roles": sorted(r.value for r in roles), "units": [u.code for u in units]},
    )
    return user


def set_roles(user, roles, *, actor):
    old = user.roles
    new = set(roles)
    if not new:
        raise DomainError(_l("Choose at least one role."), "roles")
    if actor is not None and actor.id == user.id and Role.ADMIN in old and Role.ADMIN not in new:
        raise DomainError(_l("You cannot remove your own admin role."), "roles")
    if old == new:
        return False
    user.role_rows = [r for r in user.role_rows if r.role in new] + [
        UserRole(role=role) for role in sorted(new - old, key=lambda r: r.value)
    ]
    audit.record(
        "user.roles_changed",
        user,
        actor=actor,
        details={"from": sorted(r.value for r in old), "to": sorted(r.value for r in new)},
    )
    return True


def set_units(user, unit_functions, *, actor):
    """Replace the user's unit memberships with `unit_functions` ({Unit: UnitFunction})."""
    old = {m.unit.code: m.function.value for m in user.memberships}
    new = {unit.code: fn.value for unit, fn in unit_functions.items()}
    if old == new:
        return False
    keep = {m.unit_id: m for m in user.memberships}
    memberships = []
    for unit, fn in unit_functions.items():
        membership = keep.get(unit.id) or UnitMembership(unit=unit)
        membership.function = fn
        memberships.append(membership)
    user.memberships = memberships
    audit.record("user.units_changed", user, actor=actor, details={"from": old, "to": new})
    return True


def set_active(user, active, *, actor):
    if actor is not None and actor.id == user.id and not active:
        raise DomainError(_l("You cannot deactivate your own account."))
    if user.active == active:
        return False
    user.active = active
    if not active:
        revoke_login_sessions(user)
    audit.record("user.activated" if active else "user.deactivated", user, actor=actor)
    return True


def update_details(user, *, name, email, actor):
    changes = {}
    if email.strip().lower() != user.email_key:
        other = find_user_by_email(email)
        if other is not None and other.id != user.id:
            raise DomainError(_l("An account with this e-mail already exists."), "email")
        changes["email"] = [user.email, email.strip()]
        user.set_email(email)
    if name.strip() != user.name:
        changes["name"] = [user.name, name.strip()]
        user.name = name.strip()
    if changes:
        audit.record("user.updated", user, actor=actor, details=changes)
    return bool(changes)


def update_preferences(user, *, locale, timezone, mail_preference=None):
    user.locale = locale or None
    user.timezone = timezone or None
    if mail_preference in {p.value for p in MailPreference}:
        user.mail_preference = MailPreference(mail_preference)


# --- logging in and out -------------------------------------------------------------------


def authenticate(email, password):
    """Return the user for valid credentials, or None. Records the attempt either way."""
    user = find_user_by_email(email or "")
    ok = passwords.verify_password(user.password_hash if user else None, password or "")
    if not ok or not user.active:
        audit.record(
            "auth.login_failed",
            user,
            actor=None,
            object_type="User",
            details={"email": (email or "")[:254], "reason": "inactive" if ok else "credentials"},
        )
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def log_in(user, remember):
    token = start_login_session(user, remember)
    user.last_login_at = utcnow()
    audit.record("auth.login", user, actor=user, details={"remember": bool(remember)})
    return token


def log_out(user, token):
    revoke_current_session(token)
    audit.record("auth.logout", user, actor=user)


def change_password(user, current, new, *, keep_token):
    if not passwords.verify_password(user.password_hash, current):
        raise DomainError(_l("The current password is not correct."), "current_password")
    check_password_rules(new, user)
    user.password_hash = passwords.hash_password(new)
    # Other browsers logged in as this user are logged out; this one stays.
    revoke_login_sessions(user, keep_token=keep_token)
    audit.record("auth.password_changed", user, actor=user)


RESET_REQUEST_TASK = "exchange.accounts.handle_reset_request"  # worker/tasks.py
log = logging.getLogger(__name__)


def request_password_reset(email):
    """The request's part of a password reset: one audit row and one pending request, handed
    to the worker after commit. It does the same work whether or not the account exists, so
    neither the answer nor its timing tells which addresses have accounts (the caller shows
    the same message either way). The pending row outlives a broker that is down: the relay
    (relay_reset_requests, on the beat) answers it then."""
    email = (email or "").strip()[:254]
    audit.record("auth.reset_requested", details={"email": email})
    pending = PasswordResetRequest(email=email)
    db.session.add(pending)
    db.session.flush()
    defer(RESET_REQUEST_TASK, pending.id)


def handle_reset_request(request_id):
    """The worker's part for one pending request: claim it (delete it; a request that another
    worker or the relay claimed first is gone) and answer it in the same transaction, so it is
    answered once, or stays pending if this transaction fails. Returns the token, or None."""
    email = db.session.scalar(
        db.select(PasswordResetRequest.email).where(PasswordResetRequest.id == request_id)
    )
    if email is None:
        return None
    claimed = db.session.execute(
        db.delete(PasswordResetRequest).where(PasswordResetRequest.id == request_id)
    )
    if claimed.rowcount != 1:
        return None
    return issue_password_reset(email)


def relay_reset_requests(limit=500):
    """Answer the pending requests whose task was lost (the beat runs this each minute); each
    commits on its own. Returns how many were answered here."""
    ids = db.session.scalars(
        db.select(PasswordResetRequest.id).order_by(PasswordResetRequest.id).limit(limit)
    ).all()
    answered = 0
    for request_id in ids:
        try:
            handle_reset_request(request_id)
            db.session.commit()
            answered += 1
        except Exception:  # one that fails stays pending; the others go on
            db.session.rollback()
            log.exception("password reset request %s failed", request_id)
    return answered


def issue_password_reset(email, *, now=None):
    """The worker's part: mail a reset link when the account exists and is active, and its
    hourly allowance (PASSWORD_RESETS_PER_HOUR) is not used up. Returns the token, or None."""
    user = find_user_by_email(email or "")
    if user is None or not user.active:
        audit.record("auth.reset_requested_unknown", details={"email": (email or "")[:254]})
        return None
    now = now or utcnow()
    recent = db.session.scalar(
        db.select(db.func.count(PasswordResetToken.id)).where(
            PasswordResetToken.user_id == user.id,
            PasswordResetToken.created_at > now - timedelta(hours=1),
        )
    )
    if recent >= current_app.config["PASSWORD_RESETS_PER_HOUR"]:
        # Rotating addresses must not flood a mailbox; the newest link sent still works.
        audit.record("auth.reset_throttled", user, actor=None)
        return None
    token = _issue_reset_token(user, "password_reset", current_app.config["PASSWORD_RESET_HOURS"])
    audit.record("auth.reset_sent", user, actor=None)
    return token


INVITATION_HOURS = 72


def invite_user(user, *, actor):
    """Mail a new account a link to choose its password (valid three days)."""
    token = _issue_reset_token(user, "account_invitation", INVITATION_HOURS)
    audit.record("user.invited", user, actor=actor)
    return token


def invite_new_users(users, *, actor):
    """invite_user for accounts created in this transaction, in a few statements for all:
    they hold no older link to retire, and the mail is rendered once per language."""
    tokens = [secrets.token_urlsafe(32) for _user in users]
    expires_at = utcnow() + timedelta(hours=INVITATION_HOURS)
    resets = [
        PasswordResetToken(token_hash=hash_token(token), user_id=user.id, expires_at=expires_at)
        for user, token in zip(users, tokens, strict=True)
    ]
    db.session.add_all(resets)
    db.session.flush()
    links = [{"link": external_url("auth.reset_password", token=token)} for token in tokens]
    queue_mails("account_invitation", users, links, {"hours": INVITATION_HOURS}, objs=resets)
    for user in users:
        audit.record("user.invited", user, actor=actor)
    return tokens


def _issue_reset_token(user, template, hours):
    token = secrets.token_urlsafe(32)
    # Only the newest link works: an older one, perhaps in a mailbox read by someone else,
    # stops working when a new one is sent.
    db.session.execute(
        db.update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    reset = PasswordResetToken(
        token_hash=hash_token(token), user_id=user.id, expires_at=utcnow() + timedelta(hours=hours)
    )
    db.session.add(reset)
    db.session.flush()
    queue_mail(
        user,
        template,
        {"link": external_url("auth.reset_password", token=token), "hours": hours},
        obj=reset,
    )
    return token


def valid_reset_token(token):
    reset = db.session.scalar(
        db.select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(token))
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    if not reset.user.active:
        return None
    return reset


def reset_password(token, new_password):
    reset = valid_reset_token(token)
    if reset is None:
        raise DomainError(_l("This reset link is invalid, used or expired. Ask for a new one."))
    user = reset.user
    check_password_rules(new_password, user)
    user.password_hash = passwords.hash_password(new_password)
    now = utcnow()
    # Single use: this token and any other outstanding token of the user stop working.
    db.session.execute(
        db.update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    revoke_login_sessions(user)
    audit.record("auth.password_reset", user, actor=user)
    return user


# --- units -----------------------------------------------------------------------------------


def save_unit(unit, *, code, name, name_native, kind, student_count, active, actor):
    code = code.strip().upper()
    clash = db.session.scalar(db.select(Unit).where(Unit.code == code))
    if clash is not None and clash is not unit:
        raise DomainError(_l("Another unit already has this code."), "code")
    creating = unit is None
    if creating:
        unit = Unit()
        db.session.add(unit)
    before = {} if creating else _unit_state(unit)
    unit.code, unit.name, unit.name_native = code, name.strip(), (name_native or "").strip() or None
    unit.kind, unit.student_count, unit.active = kind, student_count, active
    db.session.flush()
    after = _unit_state(unit)
    changed = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if changed:
        audit.record(
            "unit.created" if creating else "unit.updated", unit, actor=actor, details=changed
        )
    return unit


def _unit_state(unit):
    return {
        "code": unit.code,
        "name": unit.name,
        "name_native": unit.name_native,
        "kind": unit.kind.value if unit.kind else None,
        "student_count": unit.student_count,
        "active": unit.active,
    }
