"""Writing a roster plan: new students created a batch at a time (one INSERT per table per
batch) and invited, the others updated through the accounts' operations."""

from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from ...accounts import operations as accounts
from ...accounts.models import (
    Role,
    StudentProfile,
    Unit,
    UnitFunction,
    UnitMembership,
    User,
    UserRole,
)
from ...core import audit
from ...core.database import utcnow
from ...core.errors import DomainError
from ...extensions import db
from .. import profiles
from ..tables import check_applicable, record_applied
from .planning import RosterPlan

FLUSH_EVERY = 500


def apply_roster(plan: RosterPlan, *, actor, deactivate_missing=False, progress=None):
    """Write the plan: create and invite the new students (no invitation with single sign-on),
    update the others. Refuses a plan with problems. The caller commits."""
    check_applicable(plan, actor)
    invite = not current_app.config.get("SINGLE_SIGN_ON")
    units = {u.code: u for u in db.session.scalars(sa.select(Unit))}
    now = utcnow()
    batch = []
    for item in plan.items:
        if item.action == "create":
            batch.append(item)
            if len(batch) == FLUSH_EVERY:
                _create(batch, units, now, invite, actor)
                batch = []
        elif item.action == "update":
            _update(item, units, now, actor)
        if progress:
            progress(1)
    _create(batch, units, now, invite, actor)
    if deactivate_missing:
        for missing in plan.missing:
            user = db.session.get(User, missing.user_id)
            if accounts.set_active(user, False, actor=actor):
                plan.deactivated += 1
    return record_applied(
        plan,
        "students.roster_imported",
        "Roster",
        actor=actor,
        unchanged=plan.unchanged,
        missing=len(plan.missing),
        deactivated=plan.deactivated,
    )


def _profile_values(profile, values, now):
    for name in ("student_number", "programme", "year_of_study", "degree_level"):
        if name in values:
            setattr(profile, name, values[name])
    if "gpa" in values:
        profile.gpa, profile.gpa_scale = values["gpa"], values["gpa_scale"]
    owned = profiles.registrar_owned(profile) | set(values["given"])
    if "gpa" in owned:
        owned.add("gpa_scale")
    profile.registrar_fields = " ".join(sorted(owned))
    profile.roster_imported_at = now
    profile.updated_at = now


def _create(items, units, now, invite, actor):
    """Create a batch of students: one INSERT per table for the batch (the rows were checked
    by the plan, and no account with their e-mail existed), then the same audit event as
    accounts.create_user for each, and their invitations (a few statements for the batch)."""
    users = []
    for item in items:
        values = item.values
        user = User(email=values["email"], name=values["name"])
        user.role_rows = [UserRole(role=Role.STUDENT)]
        user.memberships = [
            UnitMembership(unit=units[values["unit"]], function=UnitFunction.MEMBER)
        ]
        user.profile = StudentProfile(gpa_scale=Decimal("4.00"), registrar_fields="")
        _profile_values(user.profile, values, now)
        db.session.add(user)
        users.append(user)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        raise DomainError(
            _("Accounts changed while the roster was being imported; preview it again.")
        ) from None
    for user, item in zip(users, items, strict=True):
        audit.record(
            "user.created",
            user,
            actor=actor,
            details={"roles": ["student"], "units": [item.values["unit"]], "source": "roster"},
        )
    if invite and users:
        accounts.invite_new_users(users, actor=actor)
    # The batch is written: let its objects go, so memory does not grow with the roster.
    for user in users:
        db.session.expunge(user.profile)
        for row in (*user.role_rows, *user.memberships):
            db.session.expunge(row)
        db.session.expunge(user)


def _update(item, units, now, actor):
    user, values = db.session.get(User, item.obj), item.values
    if user.name != values["name"] or user.email != values["email"]:
        accounts.update_details(user, name=values["name"], email=values["email"], actor=actor)
    unit = units[values["unit"]]
    if {m.unit_id for m in user.memberships} != {unit.id}:
        accounts.set_units(user, {unit: UnitFunction.MEMBER}, actor=actor)
    profile = profiles.profile_of(user)
    _profile_values(profile, values, now)
    if item.changes:
        audit.record("profile.imported", user, actor=actor, details=item.changes)
