"""`flask --app wsgi users ...` and `flask --app wsgi seed demo`."""

import sys
from decimal import Decimal

import click
from flask import current_app
from flask.cli import AppGroup

from .accounts import operations as ops
from .accounts.models import (
    CEFR,
    DegreeLevel,
    LanguageResult,
    Role,
    StudentProfile,
    Unit,
    UnitFunction,
    UnitKind,
)
from .calls.demo import seed_demo_calls
from .catalogue.demo import seed_demo_catalogue
from .chains.demo import seed_demo_chain
from .core.errors import DomainError
from .extensions import db
from .selection.demo import seed_demo_selection

users_cli = AppGroup("users", help="Manage user accounts.")
seed_cli = AppGroup("seed", help="Load data.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="Repeat for several roles.",
)
@click.option("--unit", "unit_codes", multiple=True, help="Unit code; repeat for several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email, name, roles, unit_codes, password_stdin):
    """Create an account (without --password-stdin, an invitation mail is sent)."""
    units = []
    for code in unit_codes:
        unit = db.session.scalar(db.select(Unit).where(Unit.code == code.upper()))
        if unit is None:
            raise click.ClickException(f"no unit with code {code!r}")
        units.append(unit)
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        user = ops.create_user(
            email, name, [Role(r) for r in roles], password=password, units=units
        )
        if password is None:
            ops.invite_user(user, actor=None)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(f"created user {user.id} <{user.email}> roles={','.join(sorted(roles))}")


DEMO_PASSWORD = "exchange-demo"
DEMO_UNITS = [
    ("CS", "School of Computer Science", "计算机学院", UnitKind.SCHOOL, 2400),
    ("ECON", "School of Economics and Management", "经济与管理学院", UnitKind.SCHOOL, 3100),
    ("MED", "College of Medicine", "医学院", UnitKind.COLLEGE, 1800),
    (
        "KLQI",
        "Key Laboratory of Quantum Information",
        "量子信息重点实验室",
        UnitKind.KEY_LABORATORY,
        120,
    ),
]
DEMO_USERS = [
    ("student@example.edu", "Li Wei", [Role.STUDENT], ["CS"]),
    ("advisor@example.edu", "Zhang Min", [Role.ADVISOR], ["CS"]),
    ("coordinator@example.edu", "Chen Jing", [Role.COORDINATOR], []),
    ("admin@example.edu", "Wang Fang", [Role.ADMIN], []),
]


@seed_cli.command("demo")
def seed_demo():
    """Load demo units and one user per role (idempotent; never run in production)."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("demo data is never loaded in production")
    units = {}
    for code, name, native, kind, students in DEMO_UNITS:
        unit = db.session.scalar(db.select(Unit).where(Unit.code == code))
        if unit is None:
            unit = ops.save_unit(
                None,
                code=code,
                name=name,
                name_native=native,
                kind=kind,
                student_count=students,
                active=True,
                actor=None,
            )
        units[code] = unit
    created = 0
    for email, name, roles, codes in DEMO_USERS:
        if ops.find_user_by_email(email) is not None:
            continue
        fn = UnitFunction.ADVISOR if Role.ADVISOR in roles else UnitFunction.MEMBER
        user = ops.create_user(
            email, name, roles, password=DEMO_PASSWORD, units=[units[c] for c in codes], function=fn
        )
        if Role.STUDENT in roles:
            user.profile = StudentProfile(
                student_number="2023010001",
                degree_level=DegreeLevel.BACHELOR,
                programme="Computer Science and Technology",
                gpa=Decimal("3.62"),
                gpa_scale=Decimal("4.00"),
                language_results=[
                    LanguageResult(language="en", level=CEFR.B2, test_name="IELTS", score="6.5")
                ],
            )
        created += 1

    partners = seed_demo_catalogue()

    seed_demo_calls(seed_demo_chain())
    # A closed call whose approved applicants wait for the allocation.
    seed_demo_selection([units[code] for code, *_rest in DEMO_UNITS], DEMO_PASSWORD)
    db.session.commit()
    click.echo(
        f"demo data ready: {len(units)} units, {created} new users, {partners} new partners "
        f"(password {DEMO_PASSWORD!r} for the demo logins)"
    )
