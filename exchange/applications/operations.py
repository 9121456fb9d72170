"""State changes on applications. Each checks who may act and in which status, validates,
writes the timeline entry and the audit event; the caller commits."""

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from ..accounts.models import CEFR, Role, UnitFunction
from ..calls.labels import call_time as format_in_zone
from ..calls.labels import offering_name
from ..calls.models import Call, CallOffering, DocumentKind
from ..catalogue import reference
from ..catalogue.eligibility import StudentFacts, reasons
from ..catalogue.models import CEFR_RANK
from ..core import audit, uploads
from ..core.database import utcnow
from ..core.errors import DomainError, NotAllowed
from ..core.validation import ValidationFailed, clean_text, gpa_on_scale
from ..extensions import db
from ..students import profiles
from . import signals
from .labels import DOCUMENT_LABELS
from .models import (
    EDITABLE,
    WITHDRAWABLE,
    Application,
    ApplicationChoice,
    ApplicationEvent,
    ApplicationLanguage,
    ApplicationStatus,
    Document,
)

STATEMENT_LIMIT = 5000
TEST_NAME_LIMIT = 64  # ApplicationLanguage.test_name
ACCEPTED_TYPES = ("application/pdf", "image/png", "image/jpeg")
STAFF_ROLES = Role.STAFF


def _transition(application, to_status, *, actor, action, comment=None, internal=False):
    """Move the application to `to_status` and write its timeline entry."""
    before = application.status
    now = utcnow()
    application.status = to_status
    application.status_changed_at = now
    application.events.append(
        ApplicationEvent(
            at=now,
            actor_id=getattr(actor, "id", None),
            action=action,
            from_status=before,
            to_status=to_status,
            comment=comment,
            internal=internal,
        )
    )
    audit.record(
        f"application.{action}",
        application,
        actor=actor,
        details={
            "status": [before.value, to_status.value],
            **({"comment": comment} if comment else {}),
        },
    )


def _require_owner(application, actor):
    if application.student_id != actor.id:
        raise NotAllowed(_l("Only the student can change their application."))


def _require_editable(application):
    if application.status not in EDITABLE:
        raise DomainError(_l("This application has been submitted and can no longer be changed."))


def deadline_text(call: Call) -> str:
    return format_in_zone(call.closes_at, call.timezone)


def _require_open(call: Call, now=None):
    now = now or utcnow()
    if now < call.opens_at:
        raise DomainError(
            _l("This call opens on %(when)s.", when=format_in_zone(call.opens_at, call.timezone))
        )
    if not call.accepts_applications(now):
        raise DomainError(
            _l(
                "The deadline of this call passed on %(when)s; applications are closed.",
                when=deadline_text(call),
            )
        )


def application_of(call_id, student_id):
    return db.session.scalar(
        db.select(Application).where(
            Application.call_id == call_id, Application.student_id == student_id
        )
    )


def start_application(call: Call, student, *, now=None):
    """The student's application to `call`: the existing one, or a new draft prefilled from
    their profile. Returns (application, created)."""
    if not student.has_role(Role.STUDENT):
        raise NotAllowed(_l("Only students can apply."))
    existing = application_of(call.id, student.id)
    if existing is not None:
        return existing, False
    _require_open(call, now)
    profile = student.profile
    member_units = sorted(student.unit_ids(UnitFunction.MEMBER)) or sorted(student.unit_ids())
    application = Application(
        call=call,
        student=student,
        unit_id=member_units[0] if member_units else None,
        status=ApplicationStatus.DRAFT,
        statement="",
        gpa=profile.gpa if profile else None,
        gpa_scale=profile.gpa_scale if profile else Decimal("4.00"),
    )
    best: dict[str, tuple[CEFR, str | None]] = {}
    for result in profile.language_results if profile else []:
        held = best.get(result.language)
        if held is None or CEFR_RANK[result.level] > CEFR_RANK[held[0]]:
            best[result.language] = (result.level, result.test_name)
    application.languages = [
        ApplicationLanguage(language=code, level=level, test_name=test or "")
        for code, (level, test) in sorted(best.items())
    ]
    db.session.add(application)
    application.events.append(
        ApplicationEvent(actor_id=student.id, action="created", to_status=ApplicationStatus.DRAFT)
    )
    db.session.flush()
    audit.record("application.created", application, actor=student, details={"call_id": call.id})
    return application, True


@dataclass
class Details:
    statement: str
    gpa: str | None
    gpa_scale: str | None
    # (ISO 639-1 code, CEFR level[, test name]); blank rows are ignored
    languages: list[tuple[str, ...]]


def save_details(application, details: Details, *, actor):
    """The statement, GPA and language results the student confirms for this application.
    Every problem is reported, field by field in the order of the form."""
    _require_owner(application, actor)
    _require_editable(application)
    problems: list = []
    statement = _statement(details, problems)
    gpa_and_scale = gpa_on_scale(details.gpa, details.gpa_scale, problems)
    languages = _language_results(details, problems)
    if problems or gpa_and_scale is None:
        raise ValidationFailed(problems)
    before = _details_state(application)
    application.statement = statement
    application.gpa, application.gpa_scale = gpa_and_scale
    kept = {row.language: row for row in application.languages}
    application.languages = [
        _language_row(kept.get(code), code, level, test)
        for code, (level, test) in sorted(languages.items())
    ]
    after = _details_state(application)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        audit.record("application.details_saved", application, actor=actor, details=changes)
    return bool(changes)


def _statement(details, problems):
    statement = clean_text(details.statement).replace("\r\n", "\n")
    if len(statement) > STATEMENT_LIMIT:
        problems.append(
            ("statement", _l("The statement is longer than %(n)d characters.", n=STATEMENT_LIMIT))
        )
    return statement


def _language_results(details, problems):
    """{language: (level, test name)} of the rows given, each language once."""
    languages = {}
    for row in details.languages:
        code, level, test = (*row, "")[:3]  # the test name is optional
        result = _language_result(code, level, test, problems)
        if result is None:
            continue
        language, level, test = result
        if language in languages:
            problems.append(
                (
                    "languages",
                    _l("%(lang)s is listed twice.", lang=reference.language_name(language)),
                )
            )
            continue
        languages[language] = (level, test)
    return languages


def _language_result(code, level, test, problems):
    """(language, CEFR level, test name) of one row; None when blank or with a problem."""
    code, level = (code or "").strip(), (level or "").strip().upper()
    test = clean_text(test or "", TEST_NAME_LIMIT)
    if not code and not level:
        if test:
            problems.append(
                ("languages", _l("Choose the language and level of “%(test)s”.", test=test))
            )
        return None
    language = reference.normalise_language(code)
    if language is None:
        problems.append(
            ("languages", _l("“%(value)s” is not a language code.", value=clean_text(code, 20)))
        )
        return None
    if level not in CEFR.__members__:
        problems.append(
            ("languages", _l("Choose a CEFR level (A1 to C2) for %(lang)s.", lang=language))
        )
        return None
    return language, CEFR[level], test


def _language_row(row, code, level, test):
    if row is None:
        return ApplicationLanguage(language=code, level=level, test_name=test)
    row.level = level
    row.test_name = test
    return row


def _details_state(application):
    return {
        "statement_length": len(application.statement or ""),
        "gpa": None if application.gpa is None else f"{application.gpa:f}",
        "gpa_scale": f"{application.gpa_scale:f}",
        "languages": " ".join(
            f"{r.language}:{r.level.value}" + (f":{r.test_name}" if r.test_name else "")
            for r in application.languages
        ),
    }


def facts_for(application) -> StudentFacts:
    """Eligibility is judged on what the student confirmed in the application."""
    student = application.student
    profile = student.profile
    return StudentFacts(
        unit_ids=frozenset(student.unit_ids()),
        degree_level=profile.degree_level if profile else None,
        gpa=application.gpa,
        gpa_scale=application.gpa_scale,
        languages={row.language: CEFR_RANK[row.level] for row in application.languages},
    )


def set_choices(application, offering_ids: list[int], *, actor):
    """Rank the offerings in the given order (first = most wanted)."""
    _require_owner(application, actor)
    _require_editable(application)
    call = application.call
    if len(offering_ids) > call.max_choices:
        raise DomainError(
            _l("You can rank at most %(n)d choices in this call.", n=call.max_choices), "choices"
        )
    if len(set(offering_ids)) != len(offering_ids):
        raise DomainError(_l("Each partner can be chosen only once."), "choices")
    offerings = {o.id: o for o in call.offerings}
    facts = facts_for(application)
    for offering_id in offering_ids:
        offering = offerings.get(offering_id)
        if offering is None:
            raise DomainError(_l("That choice is not offered in this call."), "choices")
        why = reasons(offering.agreement, facts)
        if why:
            raise DomainError(
                _l(
                    "You cannot choose %(partner)s: %(why)s",
                    partner=offering_name(offering),
                    why=" ".join(str(w) for w in why),
                ),
                "choices",
            )
    before = [c.offering_id for c in application.choices]
    if before == offering_ids:
        return False
    # Ranks are unique per application: clear the old rows before writing the new order.
    application.choices.clear()
    db.session.flush()
    application.choices.extend(
        ApplicationChoice(rank=rank, offering_id=offering_id)
        for rank, offering_id in enumerate(offering_ids, start=1)
    )
    audit.record(
        "application.choices_saved",
        application,
        actor=actor,
        details={"choices": [before, offering_ids]},
    )
    return True


def move_choice(application, offering_id: int, step: int, *, actor):
    """Move one choice up (step -1) or down (+1) in the ranking."""
    order = [c.offering_id for c in application.choices]
    if offering_id not in order:
        raise DomainError(_l("That choice is not in your application."), "choices")
    i = order.index(offering_id)
    j = i + step
    if not 0 <= j < len(order):
        return False
    order[i], order[j] = order[j], order[i]
    return set_choices(application, order, actor=actor)


def upload_document(application, kind: DocumentKind, stream, filename, *, actor):
    _require_owner(application, actor)
    _require_editable(application)
    stored = uploads.store(stream, "applications", ACCEPTED_TYPES)
    document = Document(
        application=application,
        kind=kind,
        original_name=uploads.safe_filename(filename, "document"),
        stored_name=stored.stored_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by_id=actor.id,
    )
    db.session.add(document)
    db.session.flush()
    audit.record(
        "application.document_uploaded",
        application,
        actor=actor,
        details={
            "document_id": document.id,
            "kind": kind.value,
            "name": document.original_name,
            "sha256": stored.sha256,
            "size": stored.size,
        },
    )
    return document


def can_delete(document) -> bool:
    """A document that was part of a submission stays: reviewers may have relied on it."""
    application = document.application
    if application.status not in EDITABLE:
        return False
    return application.submitted_at is None or document.uploaded_at > application.submitted_at


def delete_document(document, *, actor):
    application = document.application
    _require_owner(application, actor)
    if not can_delete(document):
        raise DomainError(
            _l("Documents of a submitted application cannot be deleted; upload a new one instead.")
        )
    uploads.delete_after_commit(uploads.path_of("applications", document.stored_name))
    audit.record(
        "application.document_deleted",
        application,
        actor=actor,
        details={"document_id": document.id, "name": document.original_name},
    )
    db.session.delete(document)


@dataclass
class ChecklistItem:
    key: str
    label: str
    done: bool


def checklist(application) -> list[ChecklistItem]:
    """What the student must still provide before they can submit."""
    items = [
        ChecklistItem("choices", _l("At least one ranked choice"), bool(application.choices)),
        ChecklistItem(
            "statement",
            _l("A statement of motivation"),
            bool((application.statement or "").strip()),
        ),
        ChecklistItem("gpa", _l("Your GPA"), application.gpa is not None),
    ]
    have = {d.kind for d in application.documents}
    for kind in application.call.required_kinds:
        items.append(ChecklistItem(f"document:{kind.value}", DOCUMENT_LABELS[kind], kind in have))
    return items


def _locked(application):
    """Re-read the application with a row lock, so that two submits of the same application
    (two tabs, a double click) are decided one after the other."""
    db.session.flush()
    # OF: the row of `applications` only, not those of the tables joined for eager loads.
    db.session.refresh(application, with_for_update={"of": Application})
    return application


def submit_application(application, *, actor, now=None):
    _require_owner(application, actor)
    _locked(application)
    if application.status not in EDITABLE:
        raise DomainError(_l("This application has already been submitted."))
    _require_open(application.call, now)
    missing = [item.label for item in checklist(application) if not item.done]
    if missing:
        raise DomainError(_l("Still missing: %(items)s.", items=", ".join(str(m) for m in missing)))
    facts = facts_for(application)
    for choice in application.choices:
        why = reasons(choice.offering.agreement, facts)
        if why:
            raise DomainError(
                _l(
                    "You no longer meet the requirements of %(partner)s: %(why)s",
                    partner=offering_name(choice.offering),
                    why=" ".join(str(w) for w in why),
                )
            )
    resubmission = application.status is ApplicationStatus.RETURNED
    application.submitted_at = utcnow()
    application.profile_snapshot = profiles.snapshot(application.student)
    _transition(
        application,
        ApplicationStatus.SUBMITTED,
        actor=actor,
        action="resubmitted" if resubmission else "submitted",
    )
    signals.submitted.send(application, actor=actor)  # approvals starts the chain
    return application


def withdraw_application(application, reason, *, actor):
    _require_owner(application, actor)
    _locked(application)
    if application.status not in WITHDRAWABLE:
        raise DomainError(_l("This application can no longer be withdrawn."))
    reason = clean_text(reason, 1000)
    if not reason:
        raise DomainError(_l("Give a reason for withdrawing."), "reason")
    # Approvals cancels the open steps (and tells those it was waiting on) first.
    signals.withdrawn.send(application, actor=actor, reason=reason)
    _transition(
        application, ApplicationStatus.WITHDRAWN, actor=actor, action="withdrawn", comment=reason
    )


def can_review(user, application) -> bool:
    """Advisors and deans of the application's unit."""
    return application.unit_id is not None and application.unit_id in user.unit_ids(
        UnitFunction.ADVISOR, UnitFunction.DEAN
    )


def can_view(user, application) -> bool:
    """The owner, the international office, the reviewers of the student's unit and the
    approvers of any of its steps (also as a substitute)."""
    if not user.is_authenticated:
        return False
    if application.student_id == user.id or user.has_role(*STAFF_ROLES):
        return True
    if user.has_role(Role.ADVISOR) and can_review(user, application):
        return True
    return any(allowed for _receiver, allowed in signals.viewer_check.send(application, user=user))


def offerings_of(call_id):
    return db.session.scalars(db.select(CallOffering).where(CallOffering.call_id == call_id)).all()
