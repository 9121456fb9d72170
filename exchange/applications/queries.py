"""Read models of the student's side: one application on one page, and the home list."""

import functools
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, lazyload, selectinload

from ..accounts.models import CEFR, DegreeLevel, StudentProfile, Unit, User
from ..calls.labels import call_time as format_in_zone
from ..calls.models import CallOffering
from ..catalogue.models import Agreement, AgreementType, Partner, agreement_units
from ..extensions import db
from . import review
from .models import (
    EDITABLE,
    Application,
    ApplicationChoice,
    ApplicationEvent,
    ApplicationStatus,
)


def load_application(application_id):
    """The application with everything its page shows: the application with its call,
    student, profile, unit, languages and choices (a handful of joined rows), then its
    documents and timeline; its steps when the page asks for them. The call's offerings are
    not among them: only an application its student may still edit shows them
    (`call_offerings`)."""
    statement = _application_statement(review.load_options())
    return (
        db.session.execute(statement, {"application_id": application_id})
        .unique()
        .scalar_one_or_none()
    )


@functools.cache
def _application_statement(review_options):
    """Built once (per set of the review's loader options, which approvals registers once)."""
    offering = joinedload(CallOffering.agreement).joinedload(Agreement.partner)
    # Only names are shown of the people on the timeline: their roles and units load when
    # asked for, not eagerly (as User's relationships otherwise do).
    names_only = (lazyload(User.role_rows), lazyload(User.memberships))
    return (
        db.select(Application)
        .where(Application.id == sa.bindparam("application_id"))
        .options(
            joinedload(Application.call),
            # The student's roles and units: the viewing student's own came with the login;
            # nobody else's page shows them.
            joinedload(Application.student).options(
                *names_only,
                joinedload(User.profile).joinedload(StudentProfile.language_results),
            ),
            joinedload(Application.unit),
            joinedload(Application.languages),
            joinedload(Application.choices)
            .joinedload(ApplicationChoice.offering)
            .options(offering),
            selectinload(Application.documents),
            selectinload(Application.events)
            .joinedload(ApplicationEvent.actor)
            .options(*names_only),
            # The steps load when asked for (what a submitted application waits for, its
            # review), with what the review reads of them as approvals says: a draft's page
            # needs none.
            *review_options,
        )
    )


@dataclass(slots=True)
class UnitCode:
    id: int
    code: str


@dataclass(slots=True)
class Offering:
    """An offering of the call as the draft's page shows it, with what eligibility reads of
    its agreement (`catalogue.eligibility.reasons` and `calls.labels.offering_terms` take it
    for the agreement): plain values, no ORM objects."""

    id: int
    places: int
    partner: str
    country: str
    type: AgreementType
    months_per_mobility: int
    all_units: bool
    degree_levels: list[DegreeLevel]
    min_gpa: Decimal | None
    min_gpa_scale: Decimal
    language: str | None
    language_level: CEFR | None
    # Plain values (no enums: theirs is a Python-level hash) that tell the offerings apart
    # by their terms and by their requirements (with `units`), for formatting each once.
    terms_key: tuple = ()
    requirements_key: tuple = ()
    units: list[UnitCode] = field(default_factory=list)

    @property
    def verdict_key(self):
        return (self.requirements_key, *(u.id for u in self.units))


# In the order of their columns (bachelor, master, doctoral) in the statement.
_LEVELS = (DegreeLevel.BACHELOR, DegreeLevel.MASTER, DegreeLevel.DOCTORAL)


def _offerings_statement():
    a = Agreement
    # A unit-restricted agreement's units come as extra rows (one per unit), not as a
    # statement per agreement.
    units = sa.and_(agreement_units.c.agreement_id == a.id, a.all_units.is_(False))
    return (
        sa.select(
            CallOffering.id,
            CallOffering.places,
            Partner.name,
            Partner.country,
            a.type,
            a.months_per_mobility,
            a.all_units,
            a.bachelor,
            a.master,
            a.doctoral,
            a.min_gpa,
            a.min_gpa_scale,
            a.language,
            a.language_level,
            Unit.id.label("unit_id"),
            Unit.code.label("unit_code"),
            sa.type_coerce(a.type, sa.String).label("type_key"),
            sa.type_coerce(a.language_level, sa.String).label("level_key"),
        )
        .join(a, a.id == CallOffering.agreement_id)
        .join(Partner, Partner.id == a.partner_id)
        .outerjoin(agreement_units, units)
        .outerjoin(Unit, Unit.id == agreement_units.c.unit_id)
        .where(CallOffering.call_id == sa.bindparam("call_id"))
        .order_by(CallOffering.id, Unit.code)
    )


_OFFERINGS = _offerings_statement()


def call_offerings(call_id) -> list[Offering]:
    """The call's offerings with their partners and requirements, for choosing: one
    statement, rows shaped in Python (a call may offer hundreds: the columns are unpacked,
    not looked up by name)."""
    shaped: dict[int, Offering] = {}
    for row in db.session.execute(_OFFERINGS, {"call_id": call_id}):
        oid, places, name, country, kind, months, all_units, *levels = row[:10]
        min_gpa, min_gpa_scale, language, level, unit_id, unit_code, kind_key, level_key = row[10:]
        offering = shaped.get(oid)
        if offering is None:
            offering = shaped[oid] = Offering(
                oid,
                places,
                name,
                country,
                kind,
                months,
                all_units,
                [lvl for lvl, on in zip(_LEVELS, levels, strict=True) if on],
                min_gpa,
                min_gpa_scale,
                language,
                level,
                (kind_key, months),
                (all_units, *levels, min_gpa, min_gpa_scale, language, level_key),
            )
        if unit_id is not None:
            offering.units.append(UnitCode(unit_id, unit_code))
    return list(shaped.values())


@dataclass
class NextStep:
    text: str
    due: datetime | None = None
    zone: str | None = None
    # The due date is the student's own deadline (not, say, an approver's time limit).
    yours: bool = False

    @property
    def due_text(self):
        return format_in_zone(self.due, self.zone) if self.due else ""


def waiting_for(application, for_student=True) -> NextStep:
    """What the application is waiting for now: in the student's words for the student, naming
    the student for anyone else (an advisor must not read "You: make the requested changes")."""
    call = application.call
    status = application.status
    name = None if for_student else application.student.name
    if status in EDITABLE and not call.accepts_applications():
        return NextStep(_l("The deadline has passed: this application can no longer be submitted."))
    if status is ApplicationStatus.DRAFT:
        return NextStep(
            _l("You: complete and submit it before the deadline.")
            if for_student
            else _l("%(student)s: complete and submit it before the deadline.", student=name),
            call.closes_at,
            call.timezone,
            yours=True,
        )
    if status is ApplicationStatus.RETURNED:
        return NextStep(
            _l("You: make the requested changes and submit again before the deadline.")
            if for_student
            else _l(
                "%(student)s: make the requested changes and submit again before the deadline.",
                student=name,
            ),
            call.closes_at,
            call.timezone,
            yours=True,
        )
    if status in (ApplicationStatus.SUBMITTED, ApplicationStatus.IN_REVIEW):
        name, due = _waiting_step(application)
        if name:
            return NextStep(_l("A decision at the step “%(step)s”.", step=name), due, call.timezone)
        return NextStep(
            _l("Review by your unit and the international office."), call.decision_at, call.timezone
        )
    if status is ApplicationStatus.APPROVED:
        return NextStep(
            _l("Allocation of places by the international office."), call.decision_at, call.timezone
        )
    if status is ApplicationStatus.PLACED:
        return NextStep(
            _l("You: accept or decline the place offered.")
            if for_student
            else _l("%(student)s: accept or decline the place offered.", student=name)
        )
    if status in (ApplicationStatus.ACCEPTED, ApplicationStatus.NOMINATED):
        return NextStep(
            _l("Nomination to and decision of the host university."),
            call.nomination_deadline,
            call.timezone,
        )
    return NextStep(_l("Nothing: this application is finished."))


def _waiting_step(application):
    """The name and due time of the step the application waits for ("" when none): from the
    statement that loaded it when it asked (`load_application`), else from its steps."""
    if application.waiting_step_name is not None:
        return application.waiting_step_name, application.waiting_step_due
    step = next((st for st in application.steps if st.status.value == "waiting"), None)
    return ("", None) if step is None else (step.name, step.due_at)


def student_applications(student_id):
    """The student's applications with their call, newest first (one statement)."""
    return db.session.scalars(
        db.select(Application)
        .where(Application.student_id == student_id)
        .options(joinedload(Application.call), selectinload(Application.steps))
        .order_by(Application.created_at.desc(), Application.id.desc())
    ).all()


def is_editable(application):
    return application.status in EDITABLE
