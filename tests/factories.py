"""factory_boy factories for the models tests need."""

from datetime import timedelta
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory

from exchange.accounts import passwords
from exchange.accounts.models import (
    CEFR,
    DegreeLevel,
    LanguageResult,
    Role,
    StudentProfile,
    Unit,
    UnitFunction,
    UnitKind,
    UnitMembership,
    User,
    UserRole,
)
from exchange.applications.models import Application, ApplicationChoice, ApplicationStatus
from exchange.calls.models import Call, CallOffering, CallStatus, Term
from exchange.catalogue.models import Agreement, AgreementStatus, AgreementType, Partner
from exchange.core.database import utcnow
from exchange.extensions import db

PASSWORD = "correct horse battery"
_HASH = passwords.hash_password(PASSWORD)  # hashing is slow on purpose; do it once


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - resolved at call time
        sqlalchemy_session_persistence = "commit"


class UnitFactory(Base):
    class Meta:
        model = Unit

    code = factory.Sequence(lambda n: f"U{n:03d}")
    name = factory.Sequence(lambda n: f"School number {n}")
    kind = UnitKind.SCHOOL
    student_count = 1000


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.edu")
    name = factory.Faker("name")
    password_hash = _HASH

    @classmethod
    def _create(cls, model_class, *args, roles=(Role.STUDENT,), units=(), function=None, **kwargs):
        user = model_class(*args, **kwargs)
        user.role_rows = [UserRole(role=r) for r in roles]
        fn = function or (UnitFunction.ADVISOR if Role.ADVISOR in roles else UnitFunction.MEMBER)
        user.memberships = [UnitMembership(unit=u, function=fn) for u in units]
        db.session.add(user)
        db.session.commit()
        return user


def student(unit=None, **kwargs):
    user = UserFactory(roles=(Role.STUDENT,), units=[unit] if unit else [], **kwargs)
    user.profile = StudentProfile(
        student_number=f"S{user.id:08d}",
        degree_level=DegreeLevel.BACHELOR,
        programme="Physics",
        gpa=Decimal("3.40"),
        gpa_scale=Decimal("4.00"),
        language_results=[LanguageResult(language="en", level=CEFR.B2, test_name="IELTS")],
    )
    db.session.commit()
    return user


def advisor(unit, **kwargs):
    return UserFactory(roles=(Role.ADVISOR,), units=[unit], **kwargs)


def coordinator(**kwargs):
    return UserFactory(roles=(Role.COORDINATOR,), **kwargs)


def admin(**kwargs):
    return UserFactory(roles=(Role.ADMIN,), **kwargs)


class PartnerFactory(Base):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"University of Testing {n:04d}")
    name_key = factory.LazyAttribute(lambda o: o.name.lower())
    country = "DE"
    city = "Berlin"
    hei_id = factory.Sequence(lambda n: f"uni{n}.example.de")
    domains = factory.LazyAttribute(lambda o: o.hei_id)
    languages = "de en"
    search_text = factory.LazyAttribute(
        lambda o: " ".join(x for x in (o.name, o.city, o.hei_id) if x).lower()
    )


class AgreementFactory(Base):
    class Meta:
        model = Agreement

    partner = factory.SubFactory(PartnerFactory)
    type = AgreementType.BILATERAL
    status = AgreementStatus.ACTIVE
    first_academic_year = 2024
    last_academic_year = 2030
    places_per_year = 2
    months_per_mobility = 5
    subject_areas = "0613"


class CallFactory(Base):
    """An open call: opened yesterday, closes in ten days, a transcript required."""

    class Meta:
        model = Call

    title = factory.Sequence(lambda n: f"Exchange call {n}")
    academic_year = 2027
    term = Term.FULL_YEAR
    timezone = "Europe/Berlin"
    opens_at = factory.LazyFunction(lambda: utcnow() - timedelta(days=1))
    closes_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=10))
    max_choices = 3
    required_documents = "transcript"
    status = CallStatus.OPEN


class OfferingFactory(Base):
    class Meta:
        model = CallOffering

    call = factory.SubFactory(CallFactory)
    agreement = factory.SubFactory(AgreementFactory)
    places = 2


class ApplicationFactory(Base):
    """A draft by a fresh student; `choices=[offering, ...]` ranks them in that order."""

    class Meta:
        model = Application

    call = factory.SubFactory(CallFactory)
    student = factory.LazyFunction(lambda: student())
    status = ApplicationStatus.DRAFT
    statement = "I want to study abroad."
    gpa = Decimal("3.40")
    gpa_scale = Decimal("4.00")

    @classmethod
    def _create(cls, model_class, *args, choices=(), **kwargs):
        application = model_class(*args, **kwargs)
        if application.unit_id is None and application.student.memberships:
            application.unit_id = application.student.memberships[0].unit_id
        application.choices = [
            ApplicationChoice(rank=rank, offering=offering)
            for rank, offering in enumerate(choices, start=1)
        ]
        if application.status is not ApplicationStatus.DRAFT and not application.submitted_at:
            application.submitted_at = utcnow()
        db.session.add(application)
        db.session.commit()
        return application
