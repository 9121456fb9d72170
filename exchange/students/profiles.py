"""State changes on student profiles. The student edits their own profile except the fields
the registrar's roster set; the office (coordinator, admin) may correct any field. Each change
writes its audit event; the caller commits."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from ..accounts import operations as accounts
from ..accounts.models import (
    CEFR,
    DegreeLevel,
    LanguageResult,
    Role,
    StudentProfile,
    Unit,
    UnitFunction,
)
from ..catalogue import reference
from ..core import audit, uploads
from ..core.database import utcnow
from ..core.errors import DomainError, NotAllowed
from ..core.params import whole
from ..core.validation import ValidationFailed, clean_text, gpa_on_scale
from ..extensions import db

STAFF_ROLES = Role.STAFF
CERTIFICATE_TYPES = ("application/pdf", "image/png", "image/jpeg")
# Fields the roster may set; once it has, they are the registrar's.
REGISTRAR_FIELDS = (
    "student_number",
    "unit",
    "degree_level",
    "programme",
    "year_of_study",
    "gpa",
    "gpa_scale",
)
PHONE_RE = re.compile(r"^\+?[0-9 ()\-]{5,40}$")


def profile_of(user) -> StudentProfile:
    """The user's profile, created (empty) when they have none yet."""
    if user.profile is None:
        user.profile = StudentProfile(gpa_scale=Decimal("4.00"), registrar_fields="")
    return user.profile


def registrar_owned(profile) -> set[str]:
    return set((profile.registrar_fields or "").split()) if profile else set()


def member_unit(user):
    units = [m.unit for m in user.memberships if m.function is UnitFunction.MEMBER]
    return units[0] if units else (user.units[0] if user.units else None)


# --- what is missing --------------------------------------------------------------------------


@dataclass
class Gap:
    key: str
    label: str
    student_can_fix: bool


def gaps(user) -> list[Gap]:
    """What a student's profile lacks for applying: the eligibility of every agreement needs
    the degree level and the unit; most need a GPA and a language result."""
    profile = user.profile
    out = []
    if profile is None or profile.degree_level is None:
        out.append(
            Gap(
                "degree_level",
                _l("degree level"),
                "degree_level" not in registrar_owned(profile),
            )
        )
    if not user.unit_ids():
        out.append(Gap("unit", _l("unit (recorded by the international office)"), False))
    if profile is None or profile.gpa is None:
        out.append(Gap("gpa", _l("GPA"), "gpa" not in registrar_owned(profile)))
    if profile is None or not profile.language_results:
        out.append(Gap("languages", _l("language results"), True))
    return out


# --- the snapshot an application keeps -----------------------------------------------------


def snapshot(user) -> dict:
    """The profile as plain values, kept on an application at submission and compared later."""
    profile = user.profile
    unit = member_unit(user)
    if profile is None:
        return {"unit": unit.code if unit else None}
    return {
        "student_number": profile.student_number,
        "unit": unit.code if unit else None,
        "degree_level": profile.degree_level.value if profile.degree_level else None,
        "programme": profile.programme,
        "year_of_study": profile.year_of_study,
        "gpa": None if profile.gpa is None else f"{profile.gpa:f}",
        "gpa_scale": f"{profile.gpa_scale:f}" if profile.gpa_scale is not None else None,
        "languages": sorted(
            f"{r.language}:{r.level.value}:{r.test_name or ''}" for r in profile.language_results
        ),
        "nationality": profile.nationality,
        "date_of_birth": profile.date_of_birth.isoformat() if profile.date_of_birth else None,
    }


SNAPSHOT_LABELS = {
    "student_number": _l("Student number"),
    "unit": _l("Unit"),
    "degree_level": _l("Degree level"),
    "programme": _l("Programme"),
    "year_of_study": _l("Year of study"),
    "gpa": _l("GPA"),
    "gpa_scale": _l("GPA scale"),
    "languages": _l("Language results"),
    "nationality": _l("Nationality"),
    "date_of_birth": _l("Date of birth"),
}


def snapshot_changes(application) -> dict:
    """{field label: [at submission, now]} for the fields changed since the application's last
    submission, in the order of the profile page; empty when nothing changed or it was never
    submitted."""
    before = application.profile_snapshot
    if not before:
        return {}
    now = snapshot(application.student)
    keys = [*SNAPSHOT_LABELS, *sorted((set(before) | set(now)) - set(SNAPSHOT_LABELS))]
    return {
        SNAPSHOT_LABELS.get(key, key): [before.get(key), now.get(key)]
        for key in keys
        if before.get(key) != now.get(key)
    }


# --- editing ----------------------------------------------------------------------------------


@dataclass
class ProfileData:
    """What a profile form sends, as text. None: the form did not send the field."""

    programme: str | None = None
    degree_level: str | None = None
    year_of_study: str | None = None
    gpa: str | None = None
    gpa_scale: str | None = None
    phone: str | None = None
    emergency_contact: str | None = None
    emergency_phone: str | None = None
    nationality: str | None = None
    date_of_birth: str | None = None
    student_number: str | None = None  # staff only
    unit_id: str | None = None  # staff only


def parse_degree(value):
    """bachelor/master/doctoral, in English or as the registrar writes them in Chinese."""
    text = (value or "").strip().lower()
    return DEGREE_WORDS.get(text)


DEGREE_WORDS = {
    "bachelor": DegreeLevel.BACHELOR,
    "undergraduate": DegreeLevel.BACHELOR,
    "本科": DegreeLevel.BACHELOR,
    "本科生": DegreeLevel.BACHELOR,
    "master": DegreeLevel.MASTER,
    "硕士": DegreeLevel.MASTER,
    "硕士研究生": DegreeLevel.MASTER,
    "doctoral": DegreeLevel.DOCTORAL,
    "doctorate": DegreeLevel.DOCTORAL,
    "phd": DegreeLevel.DOCTORAL,
    "博士": DegreeLevel.DOCTORAL,
    "博士研究生": DegreeLevel.DOCTORAL,
}


def _state(user):
    profile = user.profile
    unit = member_unit(user)
    return {
        "student_number": profile.student_number,
        "unit": unit.code if unit else None,
        "programme": profile.programme,
        "degree_level": profile.degree_level.value if profile.degree_level else None,
        "year_of_study": profile.year_of_study,
        "gpa": None if profile.gpa is None else f"{profile.gpa:f}",
        "gpa_scale": f"{profile.gpa_scale:f}",
        "phone": profile.phone,
        "emergency_contact": profile.emergency_contact,
        "emergency_phone": profile.emergency_phone,
        "nationality": profile.nationality,
        "date_of_birth": profile.date_of_birth.isoformat() if profile.date_of_birth else None,
    }


def _text(number):
    return None if number is None else f"{number:f}"


def update_profile(user, data: ProfileData, *, actor):
    """Save the profile. The student may change only their own, and not the registrar's
    fields (those are kept whatever the form sends); the office may change every field and
    the change is recorded as a correction. Returns whether anything changed."""
    staff = actor.has_role(*STAFF_ROLES)
    if actor.id != user.id and not staff:
        raise NotAllowed(_l("You can change only your own profile."))
    if not user.has_role(Role.STUDENT):
        raise DomainError(_l("Only students have a student profile."))
    profile = profile_of(user)
    locked = set() if staff else registrar_owned(profile)
    if not staff:
        locked |= {"student_number", "unit"}
    problems = []
    values = {}

    def given(name):
        return name not in locked and getattr(data, name) is not None

    for name, limit in (
        ("programme", 200),
        ("emergency_contact", 200),
        ("student_number", 32),
    ):
        if given(name):
            values[name] = clean_text(getattr(data, name), limit) or None
    for name in ("phone", "emergency_phone"):
        if given(name):
            text = clean_text(getattr(data, name), 40)
            if text and not PHONE_RE.match(text):
                problems.append(
                    (name, _l("Enter a telephone number, for example +86 10 1234 5678."))
                )
            values[name] = text or None
    if given("degree_level"):
        text = (data.degree_level or "").strip()
        level = parse_degree(text)
        if text and level is None:
            problems.append(("degree_level", _l("Choose bachelor, master or doctoral.")))
        values["degree_level"] = level
    if given("year_of_study"):
        text = (data.year_of_study or "").strip()
        if text and not (text.isdigit() and 1 <= int(text) <= 12):
            problems.append(("year_of_study", _l("The year of study is a number from 1 to 12.")))
        else:
            values["year_of_study"] = int(text) if text else None
    if given("gpa") or given("gpa_scale"):
        checked = gpa_on_scale(
            data.gpa if given("gpa") else _text(profile.gpa),
            data.gpa_scale if given("gpa_scale") else _text(profile.gpa_scale),
            problems,
        )
        if checked is not None:
            values["gpa"], values["gpa_scale"] = checked
    if given("nationality"):
        text = (data.nationality or "").strip()
        code = reference.normalise_country(text) if text else None
        if text and code is None:
            problems.append(("nationality", _l("Choose a country.")))
        values["nationality"] = code
    if given("date_of_birth"):
        text = (data.date_of_birth or "").strip()
        born = None
        if text:
            try:
                born = date.fromisoformat(text)
            except ValueError:
                problems.append(("date_of_birth", _l("Enter the date as YYYY-MM-DD.")))
            else:
                if not date(1900, 1, 1) <= born <= utcnow().date():
                    problems.append(("date_of_birth", _l("Enter a date of birth in the past.")))
        values["date_of_birth"] = born
    unit = None
    if given("unit_id") and (data.unit_id or "").strip():
        unit_id = whole(data.unit_id)
        unit = db.session.get(Unit, unit_id) if unit_id is not None else None
        if unit is None:
            problems.append(("unit_id", _l("Choose a unit.")))
    if "student_number" in values and values["student_number"]:
        clash = db.session.scalar(
            db.select(StudentProfile.user_id).where(
                StudentProfile.student_number == values["student_number"],
                StudentProfile.user_id != user.id,
            )
        )
        if clash is not None:
            problems.append(("student_number", _l("Another student has this student number.")))
    if problems:
        raise ValidationFailed(problems)
    before = _state(user)
    for name, value in values.items():
        setattr(profile, name, value)
    if unit is not None and unit.code != before["unit"]:
        accounts.set_units(user, {unit: UnitFunction.MEMBER}, actor=actor)
    db.session.flush()
    after = _state(user)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        profile.updated_at = utcnow()
        action = "profile.updated" if actor.id == user.id else "profile.corrected"
        audit.record(action, user, actor=actor, details=changes)
    return bool(changes)


# --- language results -------------------------------------------------------------------------


@dataclass
class LanguageData:
    language: str
    level: str
    test_name: str = ""
    score: str = ""
    taken_on: str = ""


def save_language_result(user, data: LanguageData, certificate=None, filename=None, *, actor):
    """Add a language result, or replace the one of the same language and test. The
    certificate, when given, must be a PDF, PNG or JPEG by its content."""
    if actor.id != user.id and not actor.has_role(*STAFF_ROLES):
        raise NotAllowed(_l("You can change only your own profile."))
    problems = []
    language = reference.normalise_language((data.language or "").strip())
    if language is None:
        problems.append(("language", _l("Choose a language.")))
    level = (data.level or "").strip().upper()
    if level not in CEFR.__members__:
        problems.append(("level", _l("Choose a CEFR level (A1 to C2).")))
    taken = None
    if (data.taken_on or "").strip():
        try:
            day = date.fromisoformat(data.taken_on.strip())
        except ValueError:
            problems.append(("taken_on", _l("Enter the date as YYYY-MM-DD.")))
        else:
            if day > utcnow().date():
                problems.append(("taken_on", _l("The test date cannot be in the future.")))
            taken = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if problems:
        raise ValidationFailed(problems)
    profile = profile_of(user)
    test_name = clean_text(data.test_name, 64)
    result = next(
        (r for r in profile.language_results if (r.language, r.test_name) == (language, test_name)),
        None,
    )
    stored = None
    if certificate is not None:
        stored = uploads.store(certificate, "certificates", CERTIFICATE_TYPES)
    if result is None:
        result = LanguageResult(language=language, test_name=test_name, level=CEFR[level])
        profile.language_results.append(result)
    result.level = CEFR[level]
    result.score = clean_text(data.score, 32) or None
    result.taken_on = taken
    if stored is not None:
        uploads.delete_after_commit(uploads.path_of("certificates", result.certificate_stored_name))
        result.certificate_name = uploads.safe_filename(filename, "certificate")
        result.certificate_stored_name = stored.stored_name
        result.certificate_type = stored.content_type
        result.certificate_size = stored.size
        result.certificate_sha256 = stored.sha256
    profile.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "profile.language_saved",
        user,
        actor=actor,
        details={
            "language": language,
            "level": level,
            "test": test_name,
            **({"certificate_sha256": stored.sha256} if stored else {}),
        },
    )
    return result


def delete_language_result(user, result_id, *, actor):
    if actor.id != user.id and not actor.has_role(*STAFF_ROLES):
        raise NotAllowed(_l("You can change only your own profile."))
    profile = user.profile
    result = next(
        (r for r in (profile.language_results if profile else []) if r.id == result_id), None
    )
    if result is None:
        raise DomainError(_l("That language result is not in the profile."))
    uploads.delete_after_commit(uploads.path_of("certificates", result.certificate_stored_name))
    profile.language_results.remove(result)
    profile.updated_at = utcnow()
    audit.record(
        "profile.language_deleted",
        user,
        actor=actor,
        details={"language": result.language, "test": result.test_name},
    )
