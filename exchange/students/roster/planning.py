"""Planning a roster import: each row checked (rows.py), then matched against the accounts
by student number, then by e-mail, read as plain rows in a fixed number of statements per
chunk. Writes nothing."""

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from ...accounts.models import (
    Role,
    StudentProfile,
    Unit,
    UnitFunction,
    UnitMembership,
    User,
    UserRole,
)
from ...extensions import db
from ..tables import Issue, Plan, Planned, planned, start_plan
from .rows import ALIASES, COLUMNS, REQUIRED, check_row

IN_CHUNK = 900  # SQLite allows 999 bound parameters per statement


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


def _problem(plan, line, name, message):
    """Add the problem to the plan; False, for the caller to return."""
    plan.problems.append(Issue(line, name, message))
    return False


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
    table, plan = start_plan(content, filename, ALIASES, REQUIRED, RosterPlan)
    if table is None:
        return plan
    rows, numbers, emails = _unique_rows(table, plan, progress)
    by_number, by_email = _existing(numbers, emails)
    for line, values in rows:
        _plan_row(line, values, by_number, by_email, plan)
    plan.missing = _missing(numbers)
    return plan


def _unique_rows(table, plan, progress):
    """The rows without a problem, each student number and e-mail once: (rows, {number:
    line}, {e-mail key: line})."""
    units = {u.code: u for u in db.session.scalars(sa.select(Unit))}
    rows, numbers, emails = [], {}, {}
    for line, row in table.rows:
        values = check_row(line, row, units, plan)
        if progress:
            progress(1)
        if values is None:
            continue
        number, key = values["student_number"], User.email_key_for(values["email"])
        if number in numbers:
            _problem(
                plan,
                line,
                "student_number",
                _(
                    "The student number %(number)s is also on line %(other)d.",
                    number=number,
                    other=numbers[number],
                ),
            )
        elif key in emails:
            _problem(
                plan,
                line,
                "email",
                _(
                    "The e-mail %(email)s is also on line %(other)d.",
                    email=values["email"],
                    other=emails[key],
                ),
            )
        else:
            numbers[number], emails[key] = line, line
            rows.append((line, values))
    return rows, numbers, emails


def _plan_row(line, values, by_number, by_email, plan):
    """Create, update or leave alone the row's student, unless the row's e-mail belongs to
    another student or to a staff account."""
    user = _account_of(line, values, by_number, by_email, plan)
    if user is False:
        return
    if user is None:
        before = dict.fromkeys(COLUMNS)
        plan.items.append(planned(line, values, None, before, _wanted(values, before)))
        return
    before = _account_state(user)
    after = _wanted(values, before)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    action = "update" if changes or not values["given"] <= user.registrar else "unchanged"
    # An update loads its account when it is applied: the plan keeps only its id.
    plan.items.append(Planned(line, action, values, user.id, changes))


def _account_of(line, values, by_number, by_email, plan):
    """The row's existing account (None: a new student), or False with a problem."""
    email = values["email"]
    user = by_number.get(values["student_number"])
    other = by_email.get(User.email_key_for(email))
    if user is None and other is not None:
        number = other.student_number
        if number and number != values["student_number"]:
            message = _(
                "The e-mail %(email)s belongs to the student with number %(number)s.",
                email=email,
                number=number,
            )
            return _problem(plan, line, "email", message)
        user = other
    elif user is not None and other is not None and other.id != user.id:
        message = _("The e-mail %(email)s is used by another account.", email=email)
        return _problem(plan, line, "email", message)
    if user is not None and (user.roles - {Role.STUDENT} or Role.STUDENT not in user.roles):
        message = _(
            "The e-mail %(email)s is used by a staff account; a student needs an "
            "address of their own.",
            email=email,
        )
        return _problem(plan, line, "email", message)
    return user


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
