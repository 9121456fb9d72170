import enum
import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.database import UTCDateTime, enum_column, utcnow
from ..extensions import db


class Role(enum.Enum):
    STUDENT = "student"
    ADVISOR = "advisor"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    STAFF: ClassVar[tuple["Role", ...]]
    APPROVERS: ClassVar[tuple["Role", ...]]


# Groups of roles the features check, set after the class so that they are not members.
Role.STAFF = (Role.COORDINATOR, Role.ADMIN)  # the exchange office
Role.APPROVERS = (Role.ADVISOR, Role.COORDINATOR, Role.ADMIN)  # who may decide steps


class UnitKind(enum.Enum):
    SCHOOL = "school"
    COLLEGE = "college"
    KEY_LABORATORY = "key_laboratory"
    DEPARTMENT = "department"


class UnitFunction(enum.Enum):
    """What a member does in a unit: students belong to one, staff may advise or lead it."""

    MEMBER = "member"
    ADVISOR = "advisor"
    DEAN = "dean"


class DegreeLevel(enum.Enum):
    BACHELOR = "bachelor"  # EQF 6
    MASTER = "master"  # EQF 7
    DOCTORAL = "doctoral"  # EQF 8

    @property
    def eqf(self):
        return {"bachelor": 6, "master": 7, "doctoral": 8}[self.value]


class CEFR(enum.Enum):
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


class MailPreference(enum.Enum):
    """How a user wants their notifications by e-mail (essential mails always come at once)."""

    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"


def _email_key(email: str) -> str:
    return email.strip().lower()


class Unit(db.Model):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    name_native: Mapped[str | None] = mapped_column(sa.String(200))
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    student_count: Mapped[int | None] = mapped_column(doc="Enrolled students, for indicators")
    # The unit it belongs to (a key laboratory of a school), when it belongs to one.
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self):
        return f"<Unit {self.code}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    # Lower-cased copy: the unique key, so Alice@X and alice@x are the same account.
    email_key: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    mail_preference: Mapped[MailPreference] = mapped_column(
        enum_column(MailPreference),
        default=MailPreference.IMMEDIATE,
        server_default=MailPreference.IMMEDIATE.value,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    role_rows: Mapped[list["UserRole"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    memberships: Mapped[list["UnitMembership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    profile: Mapped["StudentProfile | None"] = relationship(
        back_populates="user", cascade="all, delete-orphan", uselist=False
    )

    # Set when loaded through a login session; Flask-Login stores it instead of the user id,
    # so revoking the session row invalidates the session and remember cookies.
    login_token = None  # type: str | None

    def __init__(self, **kwargs):
        email = kwargs.get("email")
        if email is not None:
            kwargs["email"] = email.strip()
            kwargs["email_key"] = _email_key(email)
        super().__init__(**kwargs)

    @staticmethod
    def email_key_for(email: str) -> str:
        return _email_key(email)

    def set_email(self, email: str):
        self.email = email.strip()
        self.email_key = _email_key(email)

    # Flask-Login
    @property
    def is_active(self):
        return self.active

    def get_id(self):
        return self.login_token

    @property
    def roles(self) -> set[Role]:
        return {row.role for row in self.role_rows}

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))

    @property
    def units(self) -> list[Unit]:
        return [m.unit for m in self.memberships]

    def unit_ids(self, *functions: UnitFunction) -> set[int]:
        return {m.unit_id for m in self.memberships if not functions or m.function in functions}

    @property
    def primary_role(self) -> Role:
        for role in (Role.ADMIN, Role.COORDINATOR, Role.ADVISOR, Role.STUDENT):
            if role in self.roles:
                return role
        return Role.STUDENT

    def __repr__(self):
        return f"<User {self.email}>"


class UserRole(db.Model):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(enum_column(Role), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class UnitMembership(db.Model):
    __tablename__ = "unit_memberships"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), primary_key=True, index=True)
    function: Mapped[UnitFunction] = mapped_column(
        enum_column(UnitFunction), default=UnitFunction.MEMBER
    )

    user: Mapped[User] = relationship(back_populates="memberships")
    unit: Mapped[Unit] = relationship(lazy="joined")


class StudentProfile(db.Model):
    __tablename__ = "student_profiles"
    __table_args__ = (
        sa.CheckConstraint("gpa IS NULL OR (gpa >= 0 AND gpa <= gpa_scale)", name="gpa_in_scale"),
        sa.CheckConstraint("gpa_scale > 0", name="gpa_scale_positive"),
    )

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    student_number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    degree_level: Mapped[DegreeLevel | None] = mapped_column(enum_column(DegreeLevel))
    programme: Mapped[str | None] = mapped_column(sa.String(200))
    gpa: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    gpa_scale: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("4.00"))
    year_of_study: Mapped[int | None]
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    emergency_contact: Mapped[str | None] = mapped_column(sa.String(200))
    emergency_phone: Mapped[str | None] = mapped_column(sa.String(40))
    nationality: Mapped[str | None] = mapped_column(sa.String(2), doc="ISO 3166 alpha-2")
    date_of_birth: Mapped[date | None] = mapped_column(sa.Date)
    # The fields the registrar's roster set (space-separated names): read-only for the student.
    registrar_fields: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    roster_imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="profile")
    language_results: Mapped[list["LanguageResult"]] = relationship(
        back_populates="profile", cascade="all, delete-orphan", order_by="LanguageResult.language"
    )


class LanguageResult(db.Model):
    __tablename__ = "language_results"
    __table_args__ = (sa.UniqueConstraint("user_id", "language", "test_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("student_profiles.user_id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(sa.String(8), doc="ISO 639-1 code")
    level: Mapped[CEFR] = mapped_column(enum_column(CEFR))
    test_name: Mapped[str] = mapped_column(sa.String(64), default="")
    score: Mapped[str | None] = mapped_column(sa.String(32))
    taken_on: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The certificate, judged by its content (core.uploads), stored under a random name.
    certificate_name: Mapped[str | None] = mapped_column(sa.String(255))
    certificate_stored_name: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    certificate_type: Mapped[str | None] = mapped_column(sa.String(64))
    certificate_size: Mapped[int | None]
    certificate_sha256: Mapped[str | None] = mapped_column(sa.String(64))

    profile: Mapped[StudentProfile] = relationship(back_populates="language_results")


def hash_token(token: str) -> str:
    """Login and reset tokens are kept hashed: a copy of the database holds no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


class LoginSession(db.Model):
    """One row per login. The browser holds the token; logout or a password change revokes it."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))

    user: Mapped[User] = relationship()


class PasswordResetToken(db.Model):
    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class PasswordResetRequest(db.Model):
    """A forgot-password request waiting for the worker. Written in the request's transaction
    for every address alike, and deleted by the worker in the transaction that answers it:
    a task lost on the way (broker down) leaves it here for the relay."""

    __tablename__ = "password_reset_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
