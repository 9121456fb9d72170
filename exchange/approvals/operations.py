"""Running approval chains: creating an application's steps, deciding them, substitutes.

Rules kept here: steps happen in order; nobody decides on their own application; one
decision per step, even when two approvers press the button at the same moment (a
conditional UPDATE lets exactly one through); a substitute's decision is recorded as made on
behalf of the approver they stand in for. Every decision writes the timeline entry, the audit
event and the notifications in the caller's transaction."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import cast

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..accounts.models import Role, UnitFunction, UnitMembership, User, UserRole
from ..applications import signals as application_signals
from ..applications.models import ApplicationEvent, ApplicationStatus
from ..applications.operations import can_view
from ..chains.models import ApproverRule, RestartFrom
from ..core import audit
from ..core.database import utcnow
from ..core.errors import DomainError, NotAllowed
from ..core.validation import clean_text
from ..extensions import db
from . import signals
from .models import DECIDED, ApplicationStep, Decision, StepStatus, Substitution

COMMENT_LIMIT = 2000


@dataclass(frozen=True)
class DefaultStep:
    """The chain of a call without a template: the international office decides alone."""

    name: str = "International office"
    rule: ApproverRule = ApproverRule.INTERNATIONAL_OFFICE
    unit_function: UnitFunction | None = None
    approver_id: int | None = None
    time_limit_days: int = 14
    rejection_ends: bool = True
    may_return: bool = True


RULE_FIELDS = (
    "name",
    "rule",
    "unit_function",
    "approver_id",
    "time_limit_days",
    "rejection_ends",
    "may_return",
)


def _copy_rule(source):
    return {f: getattr(source, f) for f in RULE_FIELDS}


# --- who approves ---------------------------------------------------------------------------


def _absent_for(user, today: date) -> list[int]:
    """The users `user` stands in for today."""
    return list(
        db.session.scalars(
            sa.select(Substitution.user_id)
            .where(
                Substitution.substitute_id == user.id,
                Substitution.starts_on <= today,
                Substitution.ends_on >= today,
            )
            # A fixed order: "the first" below, and the queue's "on behalf of", agree.
            .order_by(Substitution.user_id)
        )
    )


def approves_directly(user, step) -> bool:
    """Whether `user` is an approver of `step` in their own right."""
    if step.rule is ApproverRule.INTERNATIONAL_OFFICE:
        return user.has_role(Role.COORDINATOR)
    if step.rule is ApproverRule.NAMED_USER:
        return step.approver_id == user.id
    if step.unit_id is None:
        return False
    if step.rule is ApproverRule.UNIT_ADVISOR:
        return user.has_role(Role.ADVISOR) and step.unit_id in user.unit_ids(UnitFunction.ADVISOR)
    return step.unit_id in user.unit_ids(step.unit_function or UnitFunction.DEAN)


def decider_for(user, step, today=None):
    """(may decide, on behalf of whom). A direct approver acts for themselves; otherwise the
    first approver this user substitutes for today."""
    if approves_directly(user, step):
        return True, None
    for absent_id in _absent_for(user, today or utcnow().date()):
        if absent_id == step.application.student_id:
            continue  # nobody decides on their own application, not even through a substitute
        absent = db.session.get(User, absent_id)
        if absent is not None and absent.active and approves_directly(absent, step):
            return True, absent
    return False, None


def approvers_of(step) -> list[User]:
    """The people a waiting step waits on (for notifications)."""
    query = sa.select(User).where(User.active.is_(True))
    if step.rule is ApproverRule.INTERNATIONAL_OFFICE:
        query = query.join(UserRole, UserRole.user_id == User.id).where(
            UserRole.role == Role.COORDINATOR
        )
    elif step.rule is ApproverRule.NAMED_USER:
        query = query.where(User.id == step.approver_id)
    else:
        function = (
            UnitFunction.ADVISOR
            if step.rule is ApproverRule.UNIT_ADVISOR
            else step.unit_function or UnitFunction.DEAN
        )
        query = query.join(UnitMembership, UnitMembership.user_id == User.id).where(
            UnitMembership.unit_id == step.unit_id, UnitMembership.function == function
        )
        if step.rule is ApproverRule.UNIT_ADVISOR:
            query = query.join(UserRole, UserRole.user_id == User.id).where(
                UserRole.role == Role.ADVISOR
            )
    return list(db.session.scalars(query.order_by(User.id)).unique())


# --- running a chain ------------------------------------------------------------------------


def _activate(step, application, now):
    step.status = StepStatus.WAITING
    step.activated_at = now
    step.due_at = now + timedelta(days=step.time_limit_days)
    db.session.flush()
    context = {"application": application, "step": step}
    signals.step_activated.send(step, application=application, context=context)


def start_chain(application, *, actor, now=None):
    """Create the steps of a new round for a (re)submitted application and activate the
    first. Round 1 copies the call's template; later rounds copy the application's own
    earlier round, so a template edited meanwhile never changes a running chain."""
    now = now or utcnow()
    previous = [s for s in application.steps if s.round == max_round(application)]
    if not previous:
        chain = application.call.approval_chain
        sources = [
            (i, _copy_rule(t)) for i, t in enumerate(chain.steps if chain else [], start=1)
        ] or [(1, _copy_rule(DefaultStep()))]
        round_no = 1
        chain_id, version = (chain.id, chain.version) if chain else (None, None)
        restart = chain.restart_from if chain else RestartFrom.FIRST_STEP
        kept = []
    else:
        round_no = previous[0].round + 1
        chain_id, version = previous[0].chain_id, previous[0].chain_version
        returned = next((s for s in previous if s.status is StepStatus.RETURNED), None)
        restart = previous[0].restart_from
        start_at = (
            returned.position
            if returned is not None and restart is RestartFrom.RETURNING_STEP
            else 1
        )
        sources = [(s.position, _copy_rule(s)) for s in previous if s.position >= start_at]
        # Approvals before the returning step stand: copied as they were decided.
        kept = [s for s in previous if s.position < start_at]
    for old in kept:
        db.session.add(
            ApplicationStep(
                application=application,
                round=round_no,
                position=old.position,
                chain_id=old.chain_id,
                chain_version=old.chain_version,
                restart_from=restart,
                unit_id=application.unit_id,
                status=old.status,
                activated_at=old.activated_at,
                decided_at=old.decided_at,
                decided_by_id=old.decided_by_id,
                on_behalf_of_id=old.on_behalf_of_id,
                decision=old.decision,
                comment=old.comment,
                **_copy_rule(old),
            )
        )
    steps = [
        ApplicationStep(
            application=application,
            round=round_no,
            position=position,
            chain_id=chain_id,
            chain_version=version,
            restart_from=restart,
            unit_id=application.unit_id,
            status=StepStatus.PENDING,
            **rule,
        )
        for position, rule in sources
    ]
    db.session.add_all(steps)
    db.session.flush()
    _activate(steps[0], application, now)
    return steps


def max_round(application) -> int:
    return max((s.round for s in application.steps), default=0)


def current_step(application):
    return next((s for s in application.steps if s.status is StepStatus.WAITING), None)


def _next_pending(step):
    return db.session.scalar(
        sa.select(ApplicationStep)
        .where(
            ApplicationStep.application_id == step.application_id,
            ApplicationStep.round == step.round,
            ApplicationStep.position > step.position,
            ApplicationStep.status == StepStatus.PENDING,
        )
        .order_by(ApplicationStep.position)
        .limit(1)
    )


def cancel_open_steps(application):
    """The chain stops (the student withdrew): nothing waits on anyone any more."""
    for step in application.steps:
        if step.status in (StepStatus.WAITING, StepStatus.PENDING):
            step.status = StepStatus.CANCELLED


def _cancel_rest(step):
    db.session.execute(
        sa.update(ApplicationStep)
        .where(
            ApplicationStep.application_id == step.application_id,
            ApplicationStep.round == step.round,
            ApplicationStep.status == StepStatus.PENDING,
        )
        .values(status=StepStatus.CANCELLED)
        .execution_options(synchronize_session="fetch")
    )


DECISION_LABELS = {
    Decision.APPROVE: _l("approved"),
    Decision.REJECT: _l("rejected"),
    Decision.RETURN: _l("returned for changes"),
}


def decide_step(step, decision: Decision, comment, *, actor, now=None):
    """Record `actor`'s decision on `step` and move the chain on."""
    now = now or utcnow()
    application = step.application
    if application.student_id == actor.id:
        raise NotAllowed(_l("You cannot decide on your own application."))
    allowed, on_behalf = decider_for(actor, step, now.date())
    if not allowed:
        raise NotAllowed(_l("You are not an approver of this step."))
    if step.status is StepStatus.PENDING:
        raise DomainError(_l("This step is not due yet: an earlier step must be decided first."))
    comment = clean_text(comment, COMMENT_LIMIT) or None
    if decision in (Decision.REJECT, Decision.RETURN) and not comment:
        raise DomainError(_l("Give a comment when you reject or return an application."), "comment")
    if decision is Decision.RETURN and not step.may_return:
        raise DomainError(_l("This step cannot return applications for changes."))
    # The guard against two approvers at once: only an UPDATE that still finds the step
    # waiting records a decision; the loser's UPDATE matches no row.
    result = db.session.execute(
        sa.update(ApplicationStep)
        .where(ApplicationStep.id == step.id, ApplicationStep.status == StepStatus.WAITING)
        .values(
            status=DECIDED[decision],
            decision=decision,
            comment=comment,
            decided_at=now,
            decided_by_id=actor.id,
            on_behalf_of_id=on_behalf.id if on_behalf else None,
        )
        .execution_options(synchronize_session=False)
    )
    if cast(sa.CursorResult, result).rowcount != 1:  # an UPDATE's result has a rowcount
        # A new statement sees what the other transaction committed (READ COMMITTED).
        decided_by, decided = db.session.execute(
            sa.select(User.name, ApplicationStep.decision)
            .select_from(ApplicationStep)
            .outerjoin(User, User.id == ApplicationStep.decided_by_id)
            .where(ApplicationStep.id == step.id)
        ).one()
        raise DomainError(
            _l(
                "%(who)s already decided this step (%(decision)s); your decision was not recorded.",
                who=decided_by or _l("Someone else"),
                decision=DECISION_LABELS.get(decided, _l("cancelled"))
                if decided
                else _l("cancelled"),
            )
        )
    db.session.refresh(step)
    _record_decision(step, application, decision, comment, actor, on_behalf, now)
    _move_on(step, application, decision, comment, actor, now)
    return step


def _record_decision(step, application, decision, comment, actor, on_behalf, now):
    action = f"step_{DECIDED[decision].value}"
    application.events.append(
        ApplicationEvent(
            at=now,
            actor_id=actor.id,
            action=action,
            from_status=application.status,
            to_status=application.status,
            comment=_decision_line(step, comment, on_behalf),
        )
    )
    audit.record(
        f"application.{action}",
        application,
        actor=actor,
        details={
            "step": step.name,
            "round": step.round,
            "position": step.position,
            "decision": decision.value,
            **({"comment": comment} if comment else {}),
            **({"on_behalf_of": on_behalf.id} if on_behalf else {}),
        },
    )


def _decision_line(step, comment, on_behalf):
    """The timeline text: "Advisor: comment", naming who a substitute stood in for."""
    who = step.name
    if on_behalf is not None:
        who = str(_l("%(step)s (on behalf of %(name)s)", step=step.name, name=on_behalf.name))
    return f"{who}: {comment}" if comment else who


def _set_status(application, status, actor, action, comment, now):
    before = application.status
    application.status = status
    application.status_changed_at = now
    application.events.append(
        ApplicationEvent(
            at=now,
            actor_id=actor.id,
            action=action,
            from_status=before,
            to_status=status,
            comment=comment,
        )
    )
    audit.record(
        f"application.{action}",
        application,
        actor=actor,
        details={"status": [before.value, status.value]},
    )


ENDINGS = {  # decision -> (status, timeline action and outcome)
    Decision.RETURN: (ApplicationStatus.RETURNED, "returned"),
    Decision.REJECT: (ApplicationStatus.REJECTED, "rejected"),
}


def _move_on(step, application, decision, comment, actor, now):
    context = {"application": application, "step": step, "comment": comment}
    if decision is Decision.RETURN or (decision is Decision.REJECT and step.rejection_ends):
        # One event, one message: the ending says it all (no "step decided" besides it).
        status, action = ENDINGS[decision]
        _cancel_rest(step)
        _set_status(application, status, actor, action, comment, now)
        _decided(step, application, decision, action, context)
        return
    following = _next_pending(step)
    if following is not None:
        if application.status is ApplicationStatus.SUBMITTED:
            _set_status(application, ApplicationStatus.IN_REVIEW, actor, "in_review", None, now)
        _decided(step, application, decision, "decided", context)
        _activate(following, application, now)
        return
    _set_status(application, ApplicationStatus.APPROVED, actor, "approved", None, now)
    _decided(step, application, decision, "approved", context)


def _decided(step, application, decision, outcome, context):
    signals.step_decided.send(
        step, application=application, decision=decision, outcome=outcome, context=context
    )


def return_for_changes(application, comment, *, actor):
    """Return the application to the student: the decision "return" on its current step."""
    step = current_step(application)
    if step is None:
        raise DomainError(_l("Only an application under review can be returned for changes."))
    return decide_step(step, Decision.RETURN, comment, actor=actor)


@dataclass
class BatchResult:
    step_id: int
    ok: bool
    message: str = ""


def approve_many(step_ids, comment, *, actor, now=None):
    """Approve several steps with one comment. Each is its own decision in a SAVEPOINT, so
    one that someone else decided first does not undo the others."""
    results = []
    for step_id in step_ids:
        step = db.session.get(ApplicationStep, step_id)
        if step is None:
            results.append(BatchResult(step_id, False, str(_l("No such step."))))
            continue
        savepoint = db.session.begin_nested()
        try:
            decide_step(step, Decision.APPROVE, comment, actor=actor, now=now)
        except DomainError as exc:
            if savepoint.is_active:
                savepoint.rollback()
            results.append(BatchResult(step_id, False, str(exc.message)))
        else:
            savepoint.commit()
            results.append(BatchResult(step_id, True))
    return results


def add_note(application, text, *, actor):
    """An internal note: staff and approvers see it, the student never does."""
    if application.student_id == actor.id or not can_view(actor, application):
        raise NotAllowed(_l("Only staff and approvers of this application can add notes."))
    text = clean_text(text, COMMENT_LIMIT)
    if not text:
        raise DomainError(_l("Write the note first."), "note")
    application.events.append(
        ApplicationEvent(actor_id=actor.id, action="note", comment=text, internal=True)
    )
    audit.record("application.note_added", application, actor=actor, details={"length": len(text)})


SUBSTITUTE_ROLES = Role.APPROVERS
LONGEST_SUBSTITUTION = timedelta(days=366)


def name_substitute(user, substitute, starts_on: date, ends_on: date, *, actor, today=None):
    """`substitute` decides for `user` from `starts_on` to `ends_on` (both included). `today`
    is the date where the user is (the first day may not be before it)."""
    today = today or utcnow().date()
    if actor.id != user.id and not actor.has_role(Role.ADMIN):
        raise NotAllowed(_l("You can only name substitutes for yourself."))
    if substitute is not None and substitute.id == user.id:
        raise DomainError(_l("You cannot be your own substitute."), "substitute")
    if substitute is None or not substitute.active or not substitute.has_role(*SUBSTITUTE_ROLES):
        raise DomainError(
            _l("Choose an active advisor, coordinator or admin as your substitute."), "substitute"
        )
    if starts_on is None or ends_on is None:
        raise DomainError(_l("Enter the first and the last day."), "starts_on")
    if ends_on < starts_on:
        raise DomainError(_l("The last day must not be before the first day."), "ends_on")
    if starts_on < today:
        raise DomainError(_l("The first day cannot be in the past."), "starts_on")
    if ends_on - starts_on >= LONGEST_SUBSTITUTION:
        raise DomainError(_l("A substitution lasts one year at most."), "ends_on")
    overlap = db.session.scalar(
        sa.select(Substitution)
        .where(
            Substitution.user_id == user.id,
            Substitution.substitute_id == substitute.id,
            Substitution.starts_on <= ends_on,
            Substitution.ends_on >= starts_on,
        )
        .order_by(Substitution.starts_on)
        .limit(1)
    )
    if overlap is not None:
        raise DomainError(
            _l(
                "%(name)s already stands in for you from %(first)s to %(last)s. End that "
                "substitution first, or choose days outside it.",
                name=substitute.name,
                first=overlap.starts_on.isoformat(),
                last=overlap.ends_on.isoformat(),
            ),
            "starts_on",
        )
    row = Substitution(
        user_id=user.id, substitute_id=substitute.id, starts_on=starts_on, ends_on=ends_on
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "approval.substitute_named",
        row,
        actor=actor,
        details={
            "user": user.id,
            "substitute": substitute.id,
            "from": starts_on.isoformat(),
            "to": ends_on.isoformat(),
        },
    )
    return row


def end_substitution(row, *, actor, today=None):
    """End a substitution now: one under way keeps its past days (it ended yesterday), one
    that has not started is removed. The person who named it, the substitute or an admin
    may end it."""
    today = today or utcnow().date()
    if actor.id not in (row.user_id, row.substitute_id) and not actor.has_role(Role.ADMIN):
        raise NotAllowed(_l("You cannot change this substitution."))
    if row.ends_on < today:
        raise DomainError(_l("This substitution has already ended."))
    details = {"user": row.user_id, "substitute": row.substitute_id}
    if row.starts_on < today:
        details["to"] = [row.ends_on.isoformat(), (today - timedelta(days=1)).isoformat()]
        row.ends_on = today - timedelta(days=1)
        audit.record("approval.substitute_ended", row, actor=actor, details=details)
        return row
    audit.record("approval.substitute_removed", row, actor=actor, details=details)
    db.session.delete(row)
    return None


# --- what approvals does when applications change (connected by init_app) -----------------


def _on_submitted(application, *, actor, **_):
    steps = start_chain(application, actor=actor)
    signals.chain_started.send(application, steps=steps, actor=actor)


def _on_withdrawn(application, *, reason, **_):
    waiting = current_step(application)
    waiting_on = approvers_of(waiting) if waiting else []
    cancel_open_steps(application)
    signals.review_cancelled.send(application, waiting_on=waiting_on, reason=reason)


def _approver_may_view(application, *, user, **_):
    return any(decider_for(user, step)[0] for step in application.steps)


def init_app(app):
    application_signals.submitted.connect(_on_submitted)
    application_signals.withdrawn.connect(_on_withdrawn)
    application_signals.viewer_check.connect(_approver_may_view)
