"""Publishing a call's committed allocation (issue 15, item 4): the office publishes the last
committed run once, optionally with an objection window; within it each applicant may file
one objection, which the office answers once; when the window ends the result is final
(`finalise_due`, run by the beat, exactly once). Each operation checks who may act,
validates, writes its audit event and sends its signal; the caller commits."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..applications.models import Application
from ..calls.models import Call, CallStatus
from ..core import audit
from ..core.audit import register_labels
from ..core.database import utcnow
from ..core.errors import DomainError, NotAllowed
from ..core.validation import clean_text
from ..extensions import db
from . import offers, signals
from .models import (
    AllocationOutcome,
    AllocationRun,
    Objection,
    ObjectionStatus,
    Publication,
    RunKind,
)
from .operations import require_office

WINDOW_LIMIT = 60  # days
REASON_LIMIT = 4000
ACTIONS = {
    "selection.published": _l("Selection result published"),
    "selection.list_shown": _l("Published list shown to the applicants"),
    "selection.list_hidden": _l("Published list hidden from the applicants"),
    "selection.objection_filed": _l("Objection filed"),
    "selection.objection_answered": _l("Objection answered"),
    "selection.final": _l("Selection result final"),
}


def init_app(app):
    register_labels(actions=ACTIONS)


def publication_of(call_id: int) -> Publication | None:
    return db.session.scalar(sa.select(Publication).where(Publication.call_id == call_id))


def last_committed_run(call_id: int) -> AllocationRun | None:
    return db.session.scalar(
        sa.select(AllocationRun)
        .where(AllocationRun.call_id == call_id, AllocationRun.kind == RunKind.COMMITTED)
        .order_by(AllocationRun.id.desc())
        .limit(1)
    )


def _window_days(days) -> int | None:
    if days in (None, "", 0):
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= WINDOW_LIMIT:
        raise DomainError(
            _l("The objection window is from 1 to %(limit)d days, or none.", limit=WINDOW_LIMIT),
            field="window_days",
        )
    return days


def _insert_once(row, message) -> None:
    """Insert `row` in a savepoint: a unique constraint met by a concurrent request (a double
    click) becomes `message`, and the caller's transaction stays usable."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        raise DomainError(message) from None


# --- publishing -------------------------------------------------------------------------------


def publish(
    call: Call,
    *,
    actor: User | None,
    window_days: int | None = None,
    show_list: bool = False,
    now: datetime | None = None,
) -> Publication:
    """Publish the call's last committed allocation: every applicant is notified of their
    outcome (through the `published` signal, in this transaction)."""
    require_office(actor)
    days = _window_days(window_days)
    if publication_of(call.id) is not None or call.status is CallStatus.PUBLISHED:
        raise DomainError(_l("The result of this call is already published."))
    run = last_committed_run(call.id)
    if run is None or call.status is not CallStatus.ALLOCATING:
        raise DomainError(_l("Commit the allocation before publishing it."))
    now = now or utcnow()
    publication = Publication(
        call_id=call.id,
        run_id=run.id,
        published_by_id=getattr(actor, "id", None),
        published_at=now,
        window_days=days,
        window_ends_at=now + timedelta(days=days) if days else None,
        final_at=None if days else now,
        list_shown=bool(show_list),
    )
    # A second publication at the same moment meets the unique call here, before any mail.
    _insert_once(publication, _l("The result of this call is already published."))
    call.status = CallStatus.PUBLISHED
    # Each placement becomes an offer when the students are told, so its days to answer
    # count from the notice, not from the office's commit.
    offers.open_offers(call, now)
    audit.record(
        "selection.published",
        call,
        actor=actor,
        details={"run": run.id, "window_days": days, "list_shown": bool(show_list)},
    )
    signals.published.send(publication)
    return publication


def show_list(publication: Publication, shown: bool, *, actor: User | None) -> Publication:
    """Show the ranked list (names masked) to every applicant of the call, or hide it."""
    require_office(actor)
    if publication.list_shown != shown:
        publication.list_shown = shown
        audit.record(
            "selection.list_shown" if shown else "selection.list_hidden",
            publication.call,
            actor=actor,
        )
    return publication


# --- objections -------------------------------------------------------------------------------


def outcome_in(publication: Publication, application_id: int) -> AllocationOutcome | None:
    return db.session.scalar(
        sa.select(AllocationOutcome).where(
            AllocationOutcome.run_id == publication.run_id,
            AllocationOutcome.application_id == application_id,
        )
    )


def objection_of(publication: Publication, application_id: int) -> Objection | None:
    return db.session.scalar(
        sa.select(Objection).where(
            Objection.publication_id == publication.id,
            Objection.application_id == application_id,
        )
    )


def file_objection(
    application: Application, reason: str, *, actor: User, now: datetime | None = None
) -> Objection:
    """The student's one objection to their published result, within the window."""
    if application.student_id != actor.id:
        raise NotAllowed(_l("Only the student who applied can object to this result."))
    publication = publication_of(application.call_id)
    if publication is None or outcome_in(publication, application.id) is None:
        raise DomainError(_l("There is no published result of this application to object to."))
    now = now or utcnow()
    if not publication.window_open(now):
        raise DomainError(_l("The objection window of this result is closed."))
    reason = clean_text(reason, REASON_LIMIT)
    if not reason:
        raise DomainError(_l("Say why you object to the result."), field="reason")
    if objection_of(publication, application.id) is not None:
        raise DomainError(_l("You have already filed an objection to this result."))
    objection = Objection(
        publication_id=publication.id,
        application_id=application.id,
        reason=reason,
        filed_by_id=actor.id,
        filed_at=now,
    )
    _insert_once(objection, _l("You have already filed an objection to this result."))
    audit.record("selection.objection_filed", application, actor=actor)
    return objection


def answer_objection(
    objection: Objection,
    status: ObjectionStatus,
    answer: str,
    *,
    actor: User | None,
    now: datetime | None = None,
) -> Objection:
    """The office's one answer: upheld or dismissed, with the text the student reads."""
    require_office(actor)
    if status is ObjectionStatus.OPEN:
        raise DomainError(_l("Uphold or dismiss the objection."), field="status")
    answer = clean_text(answer, REASON_LIMIT)
    if not answer:
        raise DomainError(_l("Write the answer the student will read."), field="answer")
    now = now or utcnow()
    # Conditional: of two answers at once, one finds the objection still open.
    done = db.session.execute(
        sa.update(Objection)
        .where(Objection.id == objection.id, Objection.status == ObjectionStatus.OPEN)
        .values(
            status=status,
            answer=answer,
            answered_by_id=getattr(actor, "id", None),
            answered_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise DomainError(_l("This objection has already been answered."))
    db.session.refresh(objection)
    audit.record(
        "selection.objection_answered",
        objection.application,
        actor=actor,
        details={"status": status.value},
    )
    signals.objection_answered.send(objection)
    return objection


# --- the end of the window ----------------------------------------------------------------------


def finalise(publication: Publication, now: datetime) -> bool:
    """Record that the publication's result is final, once: a conditional update lets one of
    two beats (or a beat and a page) through. Returns whether this call did it."""
    if publication.final_at is not None or not publication.is_final(now):
        return False
    done = db.session.execute(
        sa.update(Publication)
        .where(Publication.id == publication.id, Publication.final_at.is_(None))
        .values(final_at=publication.window_ends_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(publication)
    if not done:
        return False
    audit.record("selection.final", publication.call, actor=None)
    signals.finalised.send(publication)
    return True


def finalise_due(now: datetime) -> int:
    """Every publication whose window has ended and is not final yet (the beat's work)."""
    due = db.session.scalars(
        sa.select(Publication)
        .where(Publication.final_at.is_(None), Publication.window_ends_at <= now)
        .order_by(Publication.id)
    ).all()
    return sum(finalise(p, now) for p in due)
