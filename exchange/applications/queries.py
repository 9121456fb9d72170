"""Read models of the student's side: one application on one page, and the home list."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, lazyload, selectinload

from ..accounts.models import StudentProfile, User
from ..approvals.models import ApplicationStep
from ..calls.labels import call_time as format_in_zone
from ..calls.models import CallOffering
from ..catalogue.models import Agreement
from ..extensions import db
from .models import (
    EDITABLE,
    Application,
    ApplicationChoice,
    ApplicationEvent,
    ApplicationStatus,
)


def load_application(application_id):
    """The application with everything its page shows, in four statements: the application
    with its call, student, profile, unit, languages and choices (a handful of joined rows),
    then its documents, timeline and steps. The call's offerings are not among them: only an
    application its student may still edit shows them (`call_offerings`)."""
    offering = joinedload(CallOffering.agreement).joinedload(Agreement.partner)
    # Only names are shown of the people on the timeline and the steps: their roles and units
    # load when asked for, not eagerly (as User's relationships otherwise do).
    names_only = (lazyload(User.role_rows), lazyload(User.memberships))
    return (
        db.session.execute(
            db.select(Application)
            .where(Application.id == application_id)
            .options(
                joinedload(Application.call),
                # The student's roles and units: the viewing student's own came with the
                # login; nobody else's page shows them.
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
                selectinload(Application.steps).options(
                    *(
                        joinedload(person).options(*names_only)
                        for person in (
                            ApplicationStep.decided_by,
                            ApplicationStep.on_behalf_of,
                            ApplicationStep.approver,
                        )
                    )
                ),
            )
        )
        .unique()
        .scalar_one_or_none()
    )


def call_offerings(call_id):
    """The call's offerings with their agreements and partners, for choosing (one statement)."""
    return db.session.scalars(
        db.select(CallOffering)
        .where(CallOffering.call_id == call_id)
        .options(joinedload(CallOffering.agreement).joinedload(Agreement.partner))
        .order_by(CallOffering.id)
    ).all()


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
        step = next((st for st in application.steps if st.status.value == "waiting"), None)
        if step is not None:
            return NextStep(
                _l("A decision at the step “%(step)s”.", step=step.name), step.due_at, call.timezone
            )
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
