"""A closed demo call, ready to allocate, for `flask --app wsgi seed demo` (never in
production): 44 students of several units and degree levels, every application approved,
three ranked choices each, and more applicants than places on the popular partners."""

import random
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from ..accounts import passwords
from ..accounts.models import (
    CEFR,
    DegreeLevel,
    LanguageResult,
    Role,
    StudentProfile,
    Unit,
    UnitMembership,
    User,
    UserRole,
)
from ..accounts.operations import find_user_by_email
from ..applications.models import (
    Application,
    ApplicationChoice,
    ApplicationEvent,
    ApplicationLanguage,
    ApplicationStatus,
)
from ..calls.models import Call, CallOffering, CallStatus, Term
from ..catalogue.academic import current_academic_year
from ..catalogue.academic import label as year_label
from ..catalogue.demo import PARTNERS
from ..catalogue.models import Agreement, Partner
from ..core import audit
from ..core.database import utcnow
from ..extensions import db
from . import operations as ops
from .models import CriterionKind

STUDENTS = 44
# Places of the first demo agreements in this call: the first ones are wanted by many.
PLACES = (2, 1, 3, 2, 0, 4, 2, 3)
GIVEN = ("Wei", "Min", "Jing", "Fang", "Lei", "Na", "Yang", "Xin", "Hao", "Yu", "Ting")
FAMILY = ("Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu")
LEVELS = (CEFR.B1, CEFR.B2, CEFR.B2, CEFR.C1, CEFR.C2)
DEGREES = (DegreeLevel.BACHELOR, DegreeLevel.BACHELOR, DegreeLevel.MASTER, DegreeLevel.DOCTORAL)


def demo_title(now=None) -> str:
    year = current_academic_year(now or utcnow()) + 1
    return f"Exchange programme {year_label(year)}: early call (closed, ready to allocate)"


def seed_demo_selection(units: list[Unit], password: str, now=None) -> int:
    """Create the closed call with its students and approved applications unless it exists.
    Returns the number of calls created."""
    now = now or utcnow()
    title = demo_title(now)
    if db.session.scalar(sa.select(Call.id).where(Call.title == title)) is not None:
        return 0
    offerings = _offerings(_call(title, now))
    if not offerings:
        return 1
    rng = random.Random(2027)
    password_hash = passwords.hash_password(password)  # once: argon2 is slow on purpose
    for number in range(1, STUDENTS + 1):
        student = _student(number, units[number % len(units)], password_hash, rng)
        _application(offerings, student, now - timedelta(days=30, minutes=-number * 37), rng)
    ops.set_criteria(
        offerings[0].call,
        [
            ops.CriterionData(CriterionKind.GPA, "GPA", Decimal("70")),
            ops.CriterionData(CriterionKind.LANGUAGE, "English", Decimal("30"), language="en"),
        ],
        actor=None,
    )
    return 1


def _call(title: str, now) -> Call:
    call = Call(
        title=title,
        academic_year=current_academic_year(now) + 1,
        term=Term.AUTUMN,
        description="A closed round whose applications are all approved: run the allocation.",
        timezone="Asia/Shanghai",
        opens_at=now - timedelta(days=45),
        closes_at=now - timedelta(days=15),
        max_choices=3,
        required_documents="transcript",
        status=CallStatus.CLOSED,
    )
    db.session.add(call)
    db.session.flush()
    audit.record("call.created", call, details={"title": title})
    return call


def _offerings(call: Call) -> list[CallOffering]:
    demo_hosts = [hei for _n, _nn, _c, _city, hei, _l, _a in PARTNERS]
    agreements = db.session.scalars(
        sa.select(Agreement)
        .join(Partner, Partner.id == Agreement.partner_id)
        .where(Partner.hei_id.in_(demo_hosts))
        .order_by(Partner.name_key, Agreement.id)
    ).all()
    offerings = [
        CallOffering(call_id=call.id, agreement_id=agreement.id, places=places, call=call)
        for agreement, places in zip(agreements, PLACES, strict=False)
    ]
    db.session.add_all(offerings)
    db.session.flush()
    return offerings


def _student(number: int, unit: Unit, password_hash: str, rng: random.Random) -> User:
    email = f"applicant{number:02d}@example.edu"
    existing = find_user_by_email(email)
    if existing is not None:
        return existing
    name = f"{FAMILY[number % len(FAMILY)]} {GIVEN[(number * 7) % len(GIVEN)]}"
    user = User(email=email, name=name, password_hash=password_hash)
    user.role_rows = [UserRole(role=Role.STUDENT)]
    user.profile = StudentProfile(
        student_number=f"2023{number:06d}",
        degree_level=DEGREES[number % len(DEGREES)],
        programme="Exchange demo programme",
        gpa=Decimal(rng.randint(250, 400)) / 100,
        gpa_scale=Decimal("4.00"),
        language_results=[
            LanguageResult(language="en", level=rng.choice(LEVELS), test_name="IELTS")
        ],
    )
    user.memberships = [UnitMembership(unit=unit)]
    db.session.add(user)
    db.session.flush()
    return user


def _application(offerings, student: User, submitted, rng: random.Random) -> None:
    # The first offerings are the popular ones: most students rank two of them first.
    popular, others = offerings[:3], offerings[3:]
    ranked = rng.sample(popular, 2) + rng.sample(others, 1)
    profile = student.profile
    application = Application(
        call_id=ranked[0].call_id,
        student_id=student.id,
        unit_id=student.memberships[0].unit_id if student.memberships else None,
        status=ApplicationStatus.APPROVED,
        statement="I would like to spend a semester abroad.",
        gpa=profile.gpa,
        gpa_scale=profile.gpa_scale,
        submitted_at=submitted,
        status_changed_at=submitted + timedelta(days=5),
    )
    application.choices = [
        ApplicationChoice(rank=rank, offering_id=o.id) for rank, o in enumerate(ranked, 1)
    ]
    application.languages = [
        ApplicationLanguage(language=r.language, level=r.level, test_name=r.test_name)
        for r in profile.language_results
    ]
    application.events = [
        ApplicationEvent(
            at=submitted,
            actor_id=student.id,
            action="submitted",
            from_status=ApplicationStatus.DRAFT,
            to_status=ApplicationStatus.SUBMITTED,
        ),
        ApplicationEvent(
            at=submitted + timedelta(days=5),
            action="approved",
            from_status=ApplicationStatus.SUBMITTED,
            to_status=ApplicationStatus.APPROVED,
        ),
    ]
    db.session.add(application)
