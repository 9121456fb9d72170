"""Import of the registrar's roster: `plan_roster` reads and checks every row and decides,
for each, create / update / unchanged (matching on the student number, then the e-mail);
`apply_roster` writes the plan. A file with any problem writes nothing; applying the same file
twice changes nothing the second time. Students missing from the roster are reported, never
deleted; the caller may deactivate them. The caller commits."""

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from ..accounts import operations as accounts
from ..accounts.models import (
    Role,
    StudentProfile,
    Unit,
    UnitFunction,
    UnitMembership,
    User,
    UserRole,
)
from ..core import audit
from ..core.database import utcnow
from ..core.errors import DomainError, NotAllowed
from ..core.validation import parse_decimal
from ..extensions import db
from . import profiles
from .tables import Issue, Plan, Planned, read_table

ALIASES = {
    "student_number": "student_number",
    "学号": "student_number",
    "name": "name",
    "姓名": "name",
    "email": "email",
    "e_mail": "email",
    "邮箱": "email",
    "电子邮箱": "email",
    "unit": "unit",
    "unit_code": "unit",
    "学院代码": "unit",
    "degree_level": "degree_level",
    "学历层次": "degree_level",
    "programme": "programme",
    "program": "programme",
    "专业": "programme",
    "year_of_study": "year_of_study",
    "年级": "year_of_study",
    "gpa": "gpa",
    "绩点": "gpa",
    "gpa_scale": "gpa_scale",
    "绩点满分": "gpa_scale",
}
COLUMNS = (
    "student_number",
    "name",
    "email",
    "unit",
    "degree_level",
    "programme",
    "year_of_study",
    "gpa",
    "gpa_scale",
)
REQUIRED = ("student_number", "name", "email", "unit")
IN_CHUNK = 900  # SQLite allows 999 bound parameters per statement
FLUSH_EVERY = 500


@dataclass
class Missing:
    user_id: int
    student_number: str
    name: str
    email: str


@dataclass
class RosterPlan(Plan):
    missing: list[Missing] = field(default_factory=list)
    deactivated: int = 0


def _chunks(values, size=IN_CHUNK):
    values = sorted(values)
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _problem(result, line, name, message):
    result.problems.append(Issue(line, name, message))


# --- checking rows ---------------------------------------------------------------------------


def _check(line, row, units, result):
    """The row's values, or None when it has a problem (each one is reported)."""
    values, ok = {}, True

    def bad(name, message):
        nonlocal ok
        ok = False
        _problem(result, line, name, message)

    for name in REQUIRED:
        if not row.get(name, "").strip():
            bad(name, _("The %(name)s is empty.", name=name))
    number = row.get("student_number", "").strip()
    if len(number) > 32:
        bad("student_number", _("The student number is longer than 32 characters."))
    values["student_number"] = number
    values["name"] = row.get("name", "").strip()[:200]
    email = row.get("email", "").strip()
    if email and ("@" not in email or len(email) > 254 or " " in email):
        bad("email", _("“%(value)s” is not an e-mail address.", value=email[:60]))
    values["email"] = email
    code = row.get("unit", "").strip().upper()
    if code:
        if code not in units:
            bad("unit", _("Unknown unit code “%(code)s”.", code=code[:32]))
        values["unit"] = code
    given = {
        name
        for name in ("degree_level", "programme", "year_of_study", "gpa", "gpa_scale")
        if row.get(name, "").strip()
    }
    if "degree_level" in given:
        level = profiles.parse_degree(row["degree_level"])
        if level is None:
            bad(
                "degree_level",
                _(
                    "“%(value)s” is not a degree level (bachelor, master, doctoral or "
                    "本科, 硕士, 博士).",
                    value=row["degree_level"][:32],
                ),
            )
        values["degree_level"] = level
    if "programme" in given:
        values["programme"] = row["programme"].strip()[:200]
    if "year_of_study" in given:
        text = row["year_of_study"].strip()
        if not (text.isdigit() and 1 <= int(text) <= 12):
            bad("year_of_study", _("The year of study is a number from 1 to 12."))
        else:
            values["year_of_study"] = int(text)
    scale = None
    if "gpa_scale" in given:
        try:
            scale = parse_decimal(row["gpa_scale"])
        except ValueError:
            bad(
                "gpa_scale",
                _("The GPA scale “%(value)s” is not a number.", value=row["gpa_scale"][:20]),
            )
        else:
            if not Decimal("0") < scale <= Decimal("100"):
                bad("gpa_scale", _("The GPA scale must be between 0 and 100."))
            values["gpa_scale"] = scale
    if "gpa" in given:
        try:
            gpa = parse_decimal(row["gpa"])
        except ValueError:
            bad("gpa", _("The GPA “%(value)s” is not a number.", value=row["gpa"][:20]))
        else:
            limit = scale if scale is not None else Decimal("4.00")
            if gpa < 0:
                bad("gpa", _("The GPA cannot be negative."))
            elif gpa > limit:
                bad(
                    "gpa",
                    _(
                        "The GPA %(gpa)s is above its scale %(scale)s.",
                        gpa=f"{gpa:f}",
                        scale=f"{limit:f}",
                    ),
                )
            values["gpa"] = gpa
            values.setdefault("gpa_scale", Decimal("4.00"))
    values["given"] = given | {"student_number", "unit"}
    return values if ok else None


def _wanted(values, before):
    after = dict(before)
    after.update(name=values["name"], email=values["email"])
    for name in ("student_number", "unit", "programme", "year_of_study"):
        if name in values:
            after[name] = values[name]
    if "degree_level" in values:
        after["degree_level"] = values["degree_level"].value
    if "gpa" in values:
        after["gpa"] = f"{values['gpa']:f}"
        after["gpa_scale"] = f"{values['gpa_scale']:f}"
    return after


# --- planning --------------------------------------------------------------------------------


def plan_roster(content: bytes, filename: str, progress=None) -> RosterPlan:
    """Read and check the roster, match it against the accounts. Writes nothing."""
    table = read_table(content, filename, ALIASES, REQUIRED)
    result = RosterPlan(total=len(table.rows), problems=list(table.problems))
    if any(p.line in (None, 1) for p in table.problems):
        return result
    units = {u.code: u for u in db.session.scalars(sa.select(Unit))}
    rows, seen_numbers, seen_emails = [], {}, {}
    for line, row in table.rows:
        values = _check(line, row, units, result)
        if progress:
            progress(1)
        if values is None:
            continue
        number, key = values["student_number"], User.email_key_for(values["email"])
        if number in seen_numbers:
            _problem(
                result,
                line,
                "student_number",
                _(
                    "The student number %(number)s is also on line %(other)d.",
                    number=number,
                    other=seen_numbers[number],
                ),
            )
            continue
        if key in seen_emails:
            _problem(
                result,
                line,
                "email",
                _(
                    "The e-mail %(email)s is also on line %(other)d.",
                    email=values["email"],
                    other=seen_emails[key],
                ),
            )
            continue
        seen_numbers[number], seen_emails[key] = line, line
        rows.append((line, values))
    by_number, by_email = _existing(seen_numbers, seen_emails)
    for line, values in rows:
        key = User.email_key_for(values["email"])
        user = by_number.get(values["student_number"])
        other = by_email.get(key)
        if user is None and other is not None:
            number = other.student_number
            if number and number != values["student_number"]:
                _problem(
                    result,
                    line,
                    "email",
                    _(
                        "The e-mail %(email)s belongs to the student with number %(number)s.",
                        email=values["email"],
                        number=number,
                    ),
                )
                continue
            user = other
        elif user is not None and other is not None and other.id != user.id:
            _problem(
                result,
                line,
                "email",
                _("The e-mail %(email)s is used by another account.", email=values["email"]),
            )
            continue
        if user is not None and (user.roles - {Role.STUDENT} or Role.STUDENT not in user.roles):
            _problem(
                result,
                line,
                "email",
                _(
                    "The e-mail %(email)s is used by a staff account; a student needs an "
                    "address of their own.",
                    email=values["email"],
                ),
            )
            continue
        if user is None:
            after = _wanted(values, dict.fromkeys(_state_keys()))
            changes = {k: [None, v] for k, v in after.items() if v is not None}
            result.items.append(Planned(line, "create", values, None, changes))
            continue
        before = _account_state(user)
        after = _wanted(values, before)
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        action = "update" if changes or not values["given"] <= user.registrar else "unchanged"
        # An update loads its account when it is applied: the plan keeps only its id.
        result.items.append(Planned(line, action, values, user.id, changes))
    result.missing = _missing(seen_numbers)
    return result


def _state_keys():
    return (
        "name",
        "email",
        "student_number",
        "unit",
        "degree_level",
        "programme",
        "year_of_study",
        "gpa",
        "gpa_scale",
    )


@dataclass
class Account:
    """What planning needs of an existing account, read as plain rows (no ORM objects: a
    re-run of a 50,000-student roster would otherwise hold them all)."""

    id: int
    email: str
    email_key: str
    name: str
    student_number: str | None = None
    state: dict = field(default_factory=dict)
    registrar: set = field(default_factory=set)
    roles: set = field(default_factory=set)
    units: list = field(default_factory=list)  # (code, function) pairs


_PROFILE_COLUMNS = (
    User.id,
    User.email,
    User.email_key,
    User.name,
    StudentProfile.student_number,
    StudentProfile.degree_level,
    StudentProfile.programme,
    StudentProfile.year_of_study,
    StudentProfile.gpa,
    StudentProfile.gpa_scale,
    StudentProfile.registrar_fields,
)


def _accounts(where):
    """Accounts matching `where`, with roles and units: three statements."""
    found = {}
    stmt = (
        sa.select(*_PROFILE_COLUMNS)
        .outerjoin(StudentProfile, StudentProfile.user_id == User.id)
        .where(where)
    )
    for row in db.session.execute(stmt):
        account = Account(row.id, row.email, row.email_key, row.name, row.student_number)
        account.registrar = set((row.registrar_fields or "").split())
        account.state = {
            "degree_level": row.degree_level.value if row.degree_level else None,
            "programme": row.programme,
            "year_of_study": row.year_of_study,
            "gpa": None if row.gpa is None else f"{row.gpa:f}",
            "gpa_scale": None if row.gpa is None else f"{row.gpa_scale:f}",
        }
        found[row.id] = account
    if found:
        ids = sorted(found)
        for user_id, role in db.session.execute(
            sa.select(UserRole.user_id, UserRole.role).where(UserRole.user_id.in_(ids))
        ):
            found[user_id].roles.add(role)
        for user_id, code, function in db.session.execute(
            sa.select(UnitMembership.user_id, Unit.code, UnitMembership.function)
            .join(Unit, Unit.id == UnitMembership.unit_id)
            .where(UnitMembership.user_id.in_(ids))
            .order_by(UnitMembership.user_id, Unit.code)
        ):
            found[user_id].units.append((code, function))
    return found.values()


def _account_state(account):
    members = [code for code, fn in account.units if fn is UnitFunction.MEMBER]
    unit = members[0] if members else (account.units[0][0] if account.units else None)
    return {
        "name": account.name,
        "email": account.email,
        "student_number": account.student_number,
        "unit": unit,
        **account.state,
    }


def _existing(numbers, emails):
    """The accounts the file names, by student number and by e-mail key: a fixed number of
    statements per chunk of rows."""
    by_number, by_email = {}, {}
    for chunk in _chunks(numbers):
        for account in _accounts(StudentProfile.student_number.in_(chunk)):
            by_number[account.student_number] = account
    for chunk in _chunks(emails):
        for account in _accounts(User.email_key.in_(chunk)):
            by_email[account.email_key] = account
    return by_number, by_email


def _missing(numbers):
    """Active students the roster set before whom this roster does not name."""
    rows = db.session.execute(
        sa.select(StudentProfile.user_id, StudentProfile.student_number, User.name, User.email)
        .join(User, User.id == StudentProfile.user_id)
        .where(
            User.active.is_(True),
            StudentProfile.roster_imported_at.is_not(None),
            StudentProfile.student_number.is_not(None),
        )
        .order_by(StudentProfile.student_number)
    )
    return [Missing(*row) for row in rows if row.student_number not in numbers]


# --- applying --------------------------------------------------------------------------------


def apply_roster(plan: RosterPlan, *, actor, deactivate_missing=False, progress=None):
    """Write the plan: create and invite the new students (no invitation with single sign-on),
    update the others. Refuses a plan with problems. The caller commits."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise NotAllowed(_("Only an admin can import the roster."))
    if plan.problems:
        raise DomainError(_("The roster has problems; nothing was imported."))
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
    audit.record(
        "students.roster_imported",
        actor=actor,
        object_type="Roster",
        details={
            "rows": plan.total,
            "created": plan.created,
            "updated": plan.updated,
            "unchanged": plan.unchanged,
            "missing": len(plan.missing),
            "deactivated": plan.deactivated,
        },
    )
    plan.applied = True
    return plan


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
    accounts.create_user and the existing invitation for each."""
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
        if invite:
            accounts.invite_user(user, actor=actor)
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
