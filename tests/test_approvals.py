"""Approving in the browser's requests and in the operations: the queue, deciding in order,
return and resubmit, substitutes, unit scope, batch approval, notes, and two approvers at the
same moment."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from exchange.accounts.models import CEFR, Role, UnitFunction, User
from exchange.applications import operations as app_ops
from exchange.applications.models import (
    ApplicationEvent,
    ApplicationLanguage,
    ApplicationStatus,
)
from exchange.approvals import operations as ops
from exchange.approvals import queue
from exchange.approvals.models import ApplicationStep, Decision, StepStatus, Substitution
from exchange.chains.models import ApproverRule, RestartFrom
from exchange.core.audit import AuditEvent
from exchange.core.database import utcnow
from exchange.core.errors import DomainError, NotAllowed
from exchange.extensions import db
from exchange.notifications.models import Notification

from .conftest import CSRF_RE, client_for
from .factories import (
    AgreementFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    UserFactory,
    advisor,
    coordinator,
    student,
)
from .helpers import current, make_call, submitted
from .statements import StatementCounter, count_statements


def latest(application):
    db.session.expire(application)
    return [s for s in application.steps if s.round == ops.max_round(application)]


@pytest.fixture
def world():
    unit_a, unit_b = UnitFactory(code="PHY"), UnitFactory(code="CHE")
    return {
        "a": unit_a,
        "b": unit_b,
        "call": make_call(),
        "advisor_a": advisor(unit_a, name="Ada Advisor"),
        "advisor_b": advisor(unit_b, name="Bob Advisor"),
        "office": coordinator(name="Olga Office"),
    }


def csrf(client, url="/account"):
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, html[:300]
    return match.group(1) or match.group(2)


# --- the chain, in the operations --------------------------------------------------------------


def test_steps_are_decided_in_order_and_the_last_approval_approves(world):
    application = submitted(world["call"], world["a"])
    first, second = latest(application)
    assert (first.status, second.status) == (StepStatus.WAITING, StepStatus.PENDING)
    with pytest.raises(DomainError, match="not due yet"):
        ops.decide_step(second, Decision.APPROVE, None, actor=world["office"])
    with pytest.raises(NotAllowed, match="not an approver"):
        ops.decide_step(first, Decision.APPROVE, None, actor=world["office"])
    with pytest.raises(NotAllowed, match="not an approver"):
        ops.decide_step(first, Decision.APPROVE, None, actor=world["advisor_b"])
    ops.decide_step(first, Decision.APPROVE, "Fine.", actor=world["advisor_a"])
    db.session.commit()
    first, second = latest(application)
    assert first.status is StepStatus.APPROVED and first.decided_by_id == world["advisor_a"].id
    assert second.status is StepStatus.WAITING
    assert application.status is ApplicationStatus.IN_REVIEW
    ops.decide_step(second, Decision.APPROVE, None, actor=world["office"])
    db.session.commit()
    assert application.status is ApplicationStatus.APPROVED
    assert [e.action for e in application.events][-3:] == ["in_review", "step_approved", "approved"]


def test_nobody_decides_on_their_own_application(world):
    """A coordinator who is also a student of the unit: not in their queue, refused, and not
    through whoever stands in for them either."""
    both = UserFactory(roles=(Role.STUDENT, Role.COORDINATOR), units=[world["a"]])
    call = make_call([("International office", ApproverRule.INTERNATIONAL_OFFICE, {})])
    application = submitted(call, user=both)
    step = current(application)
    with pytest.raises(NotAllowed, match="your own application"):
        ops.decide_step(step, Decision.APPROVE, None, actor=both)
    today = utcnow().date()
    assert step.id not in {r.step_id for r in queue.queue_for(both, today=today).rows}
    stand_in = UserFactory(roles=(Role.ADVISOR,), units=[world["b"]])
    db.session.add(
        Substitution(user_id=both.id, substitute_id=stand_in.id, starts_on=today, ends_on=today)
    )
    db.session.commit()
    assert ops.decider_for(stand_in, step, today) == (False, None)
    assert queue.count_waiting(stand_in, today) == 0
    with pytest.raises(NotAllowed):
        ops.decide_step(step, Decision.APPROVE, None, actor=stand_in)
    # another coordinator may
    assert step.id in {r.step_id for r in queue.queue_for(world["office"], today=today).rows}


def test_one_decision_per_step(world):
    second_advisor = advisor(world["a"], name="Amy Second")
    application = submitted(world["call"], world["a"])
    step = current(application)
    ops.decide_step(step, Decision.APPROVE, None, actor=world["advisor_a"])
    db.session.commit()
    with pytest.raises(DomainError, match="Ada Advisor already decided this step"):
        ops.decide_step(step, Decision.REJECT, "No.", actor=second_advisor)
    assert db.session.get(ApplicationStep, step.id).decided_by_id == world["advisor_a"].id


@pytest.mark.parametrize("decision", [Decision.REJECT, Decision.RETURN])
def test_reject_and_return_need_a_comment(world, decision):
    application = submitted(world["call"], world["a"])
    step = current(application)
    for blank in (None, "", "   \n "):
        with pytest.raises(DomainError, match="Give a comment") as exc:
            ops.decide_step(step, decision, blank, actor=world["advisor_a"])
        assert exc.value.field == "comment"
    assert current(application).id == step.id


@pytest.mark.parametrize(
    "restart, first_round_2",
    [
        (RestartFrom.FIRST_STEP, StepStatus.WAITING),
        (RestartFrom.RETURNING_STEP, StepStatus.APPROVED),
    ],
)
def test_return_resubmit_restarts_the_chain(world, restart, first_round_2):
    call = make_call(restart=restart)
    application = submitted(call, world["a"])
    ops.decide_step(current(application), Decision.APPROVE, None, actor=world["advisor_a"])
    db.session.commit()
    ops.decide_step(
        current(application), Decision.RETURN, "Add a C1 certificate.", actor=world["office"]
    )
    db.session.commit()
    assert application.status is ApplicationStatus.RETURNED
    assert [s.status for s in latest(application)] == [StepStatus.APPROVED, StepStatus.RETURNED]
    assert queue.count_waiting(world["office"], utcnow().date()) == 0
    app_ops.submit_application(application, actor=application.student)
    db.session.commit()
    first, second = latest(application)
    assert first.round == second.round == 2
    assert application.status is ApplicationStatus.SUBMITTED
    assert first.status is first_round_2
    if restart is RestartFrom.FIRST_STEP:
        assert second.status is StepStatus.PENDING
        ops.decide_step(first, Decision.APPROVE, None, actor=world["advisor_a"])
    else:
        assert first.decided_by_id == world["advisor_a"].id  # the earlier approval stands
        assert second.status is StepStatus.WAITING
    db.session.commit()
    ops.decide_step(current(application), Decision.APPROVE, None, actor=world["office"])
    db.session.commit()
    assert application.status is ApplicationStatus.APPROVED
    # the first round is kept as it was decided
    assert [s.status for s in application.steps if s.round == 1] == [
        StepStatus.APPROVED,
        StepStatus.RETURNED,
    ]


def test_a_rejection_that_does_not_end_the_chain_goes_on(world):
    call = make_call(
        [
            ("Unit advisor", ApproverRule.UNIT_ADVISOR, {"rejection_ends": False}),
            ("International office", ApproverRule.INTERNATIONAL_OFFICE, {}),
        ]
    )
    application = submitted(call, world["a"])
    ops.decide_step(current(application), Decision.REJECT, "Weak grades.", actor=world["advisor_a"])
    db.session.commit()
    first, second = latest(application)
    assert first.status is StepStatus.REJECTED and second.status is StepStatus.WAITING
    assert application.status is ApplicationStatus.IN_REVIEW
    ops.decide_step(second, Decision.APPROVE, None, actor=world["office"])
    db.session.commit()
    assert application.status is ApplicationStatus.APPROVED


def test_a_rejection_ends_the_chain_by_default(world):
    application = submitted(world["call"], world["a"])
    ops.decide_step(current(application), Decision.REJECT, "Too late.", actor=world["advisor_a"])
    db.session.commit()
    assert application.status is ApplicationStatus.REJECTED
    assert [s.status for s in latest(application)] == [StepStatus.REJECTED, StepStatus.CANCELLED]
    assert queue.count_waiting(world["office"], utcnow().date()) == 0


def test_each_decision_writes_audit_and_notification_in_its_transaction(world):
    application = submitted(world["call"], world["a"])
    step = current(application)
    counted = (
        lambda: db.session.query(AuditEvent).filter_by(action="application.step_returned").count(),
        lambda: (
            db.session.query(Notification)
            .filter_by(user_id=application.student_id, kind="application.returned")
            .count()
        ),
    )
    ops.decide_step(step, Decision.RETURN, "Sign it.", actor=world["advisor_a"])
    db.session.rollback()  # the decision is undone: nothing of it remains
    assert [c() for c in counted] == [0, 0]
    assert current(application).status is StepStatus.WAITING
    ops.decide_step(current(application), Decision.RETURN, "Sign it.", actor=world["advisor_a"])
    db.session.commit()
    assert [c() for c in counted] == [1, 1]
    audit = db.session.query(AuditEvent).filter_by(action="application.step_returned").one()
    assert audit.actor_id == world["advisor_a"].id
    assert audit.details["comment"] == "Sign it." and audit.details["decision"] == "return"
    kinds = set(
        db.session.scalars(
            sa.select(Notification.kind).where(Notification.user_id == application.student_id)
        )
    )
    assert kinds == {"application.submitted", "application.returned"}  # one event, one message


# --- substitutes ---------------------------------------------------------------------------------


def test_a_substitute_decides_on_behalf_and_the_timeline_says_so(app, world):
    stand_in = advisor(world["b"], name="Sam Standin")
    today = utcnow().date()
    application = submitted(world["call"], world["a"])
    step = current(application)
    # not yet, and no longer: only the days named count
    for starts, ends in (
        (today + timedelta(days=1), today + timedelta(days=3)),
        (today - timedelta(days=5), today - timedelta(days=1)),
    ):
        db.session.add(
            Substitution(
                user_id=world["advisor_a"].id,
                substitute_id=stand_in.id,
                starts_on=starts,
                ends_on=ends,
            )
        )
    db.session.commit()
    assert queue.count_waiting(stand_in, today) == 0
    assert ops.decider_for(stand_in, step, today) == (False, None)
    db.session.add(
        Substitution(
            user_id=world["advisor_a"].id, substitute_id=stand_in.id, starts_on=today, ends_on=today
        )
    )
    db.session.commit()
    rows = queue.queue_for(stand_in, today=today).rows
    assert [(r.step_id, r.on_behalf_of.id) for r in rows] == [(step.id, world["advisor_a"].id)]
    client = client_for(app, stand_in)
    assert "on behalf of Ada Advisor" in client.get("/approvals/").get_data(as_text=True)
    page = client.get(f"/applications/{application.id}").get_data(as_text=True)
    assert 'data-testid="decision"' in page and "on behalf of Ada Advisor" in page
    resp = client.post(
        f"/approvals/steps/{step.id}",
        data={"csrf_token": csrf(client), "decision": "approve", "comment": "OK for Ada."},
        follow_redirects=True,
    )
    html = resp.get_data(as_text=True)
    assert "You approved this step." in html
    decided = db.session.get(ApplicationStep, step.id)
    db.session.refresh(decided)
    assert decided.decided_by_id == stand_in.id and decided.on_behalf_of_id == world["advisor_a"].id
    assert "Unit advisor (on behalf of Ada Advisor): OK for Ada." in html
    event = db.session.scalars(
        sa.select(ApplicationEvent).where(
            ApplicationEvent.application_id == application.id,
            ApplicationEvent.action == "step_approved",
        )
    ).one()
    assert event.actor_id == stand_in.id and "on behalf of Ada Advisor" in event.comment
    # the student reads it on their timeline too
    student_page = client_for(app, application.student).get(f"/applications/{application.id}")
    assert "(on behalf of Ada Advisor): OK for Ada." in student_page.get_data(as_text=True)


# --- who sees what -------------------------------------------------------------------------------


def test_an_advisor_sees_and_decides_only_their_units_applications(app, world):
    mine = submitted(world["call"], world["a"])
    theirs = submitted(world["call"], world["b"])
    their_step = current(theirs)
    today = utcnow().date()
    assert [r.application_id for r in queue.queue_for(world["advisor_a"], today=today).rows] == [
        mine.id
    ]
    client = client_for(app, world["advisor_a"])
    token = csrf(client)
    html = client.get("/approvals/").get_data(as_text=True)
    assert f"/applications/{mine.id}" in html and f"/applications/{theirs.id}" not in html
    assert client.get(f"/applications/{theirs.id}").status_code == 404
    for url, data in (
        (f"/approvals/steps/{their_step.id}", {"decision": "approve"}),
        (f"/approvals/steps/{their_step.id}", {"decision": "reject", "comment": "x"}),
        (f"/approvals/applications/{theirs.id}/notes", {"note": "peek"}),
        ("/approvals/steps/999999", {"decision": "approve"}),
        ("/approvals/applications/999999/notes", {"note": "peek"}),
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    assert current(theirs).status is StepStatus.WAITING
    assert not any(e.internal for e in theirs.events)
    # their own unit's application: the page, with the decision card
    page = client.get(f"/applications/{mine.id}").get_data(as_text=True)
    assert 'data-testid="decision"' in page and 'data-testid="approval-steps"' in page


def test_the_queue_needs_an_approver_role(app, world):
    s = student(world["a"])
    assert client_for(app, s).get("/approvals/").status_code == 403
    assert app.test_client().get("/approvals/").status_code == 302
    with app.test_request_context():
        assert app.jinja_env.globals["approvals_waiting"]() == 0  # anonymous


def test_decisions_through_the_page(app, world):
    application = submitted(world["call"], world["a"])
    step = current(application)
    client = client_for(app, world["advisor_a"])
    token = csrf(client)
    resp = client.post(
        f"/approvals/steps/{step.id}",
        data={"csrf_token": token, "decision": "return", "comment": "  "},
        follow_redirects=True,
    )
    assert "Give a comment when you reject or return" in resp.get_data(as_text=True)
    assert current(application).status is StepStatus.WAITING
    assert (
        client.post(
            f"/approvals/steps/{step.id}", data={"csrf_token": token, "decision": "maybe"}
        ).status_code
        == 400
    )
    assert (
        client.post(f"/approvals/steps/{step.id}", data={"decision": "approve"}).status_code == 400
    )
    resp = client.post(
        f"/approvals/steps/{step.id}",
        data={"csrf_token": token, "decision": "return", "comment": "Add your transcript."},
        follow_redirects=True,
    )
    html = resp.get_data(as_text=True)
    assert "The application is returned to the student." in html
    assert 'data-testid="decision"' not in html  # nothing to decide any more
    db.session.refresh(application)
    assert application.status is ApplicationStatus.RETURNED
    student_page = client_for(app, application.student).get(f"/applications/{application.id}")
    html = student_page.get_data(as_text=True)
    assert "Add your transcript." in html
    assert 'data-testid="decision"' not in html and 'data-testid="approval-steps"' not in html
    assert 'data-testid="notes"' not in html


def test_return_for_changes_from_the_application(app, world):
    application = submitted(world["call"], world["a"])
    url = f"/approvals/applications/{application.id}/return"
    own = client_for(app, application.student)
    assert own.post(url, data={"csrf_token": csrf(own), "comment": "Mine."}).status_code == 404
    client = client_for(app, world["advisor_a"])
    token = csrf(client)
    resp = client.post(url, data={"csrf_token": token, "comment": " "}, follow_redirects=True)
    assert "Say what the student should change." in resp.get_data(as_text=True)
    assert current(application).status is StepStatus.WAITING
    resp = client.post(
        url, data={"csrf_token": token, "comment": "Sign the form."}, follow_redirects=True
    )
    assert "The application is returned to the student." in resp.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status is ApplicationStatus.RETURNED
    assert client.post(url, data={"csrf_token": token, "comment": "Again."}).status_code == 302
    db.session.refresh(application)
    assert application.status is ApplicationStatus.RETURNED  # nothing waits to be returned


def test_internal_notes_are_hidden_from_the_student(app, world):
    application = submitted(world["call"], world["a"])
    office = client_for(app, world["office"])
    resp = office.post(
        f"/approvals/applications/{application.id}/notes",
        data={"csrf_token": csrf(office), "note": "Phoned the host: they want B2."},
        follow_redirects=True,
    )
    html = resp.get_data(as_text=True)
    assert "The note is added." in html and "Phoned the host: they want B2." in html
    resp = office.post(
        f"/approvals/applications/{application.id}/notes",
        data={"csrf_token": csrf(office), "note": "  "},
        follow_redirects=True,
    )
    assert "Write the note first." in resp.get_data(as_text=True)
    advisor_page = client_for(app, world["advisor_a"]).get(f"/applications/{application.id}")
    assert "Phoned the host" in advisor_page.get_data(as_text=True)
    mine = client_for(app, application.student)
    html = mine.get(f"/applications/{application.id}").get_data(as_text=True)
    assert "Phoned the host" not in html and "Internal notes" not in html
    resp = mine.post(
        f"/approvals/applications/{application.id}/notes",
        data={"csrf_token": csrf(mine), "note": "Let me in"},
    )
    assert resp.status_code == 404
    with pytest.raises(NotAllowed):
        ops.add_note(application, "sneaky", actor=application.student)
    notes = [e for e in application.events if e.action == "note"]
    assert [(n.comment, n.internal) for n in notes] == [("Phoned the host: they want B2.", True)]
    assert db.session.query(AuditEvent).filter_by(action="application.note_added").count() == 1


# --- batch approval ------------------------------------------------------------------------------


def test_batch_approval_reports_what_it_could_not_approve(app, world):
    applications = [submitted(world["call"], world["a"]) for _ in range(4)]
    other_unit = submitted(world["call"], world["b"])
    steps = [current(a) for a in applications]
    ops.decide_step(steps[0], Decision.APPROVE, None, actor=advisor(world["a"], name="Eve Early"))
    db.session.commit()
    client = client_for(app, world["advisor_a"])
    html = client.get("/approvals/").get_data(as_text=True)
    assert html.count('data-testid="queue-row"') == 3
    resp = client.post(
        "/approvals/approve",
        data={
            "csrf_token": csrf(client),
            "step": [str(s.id) for s in steps] + [str(current(other_unit).id)],
            "comment": "Batch OK.",
            "sort": "name",
        },
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/approvals/?sort=name")
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "3 approved; 2 not: Eve Early already decided this step (approved)" in html
    assert "You are not an approver of this step." in html
    for step in steps[1:]:
        decided = db.session.get(ApplicationStep, step.id)
        db.session.refresh(decided)
        assert decided.status is StepStatus.APPROVED and decided.comment == "Batch OK."
        assert decided.decided_by_id == world["advisor_a"].id
    assert current(other_unit).status is StepStatus.WAITING
    # the next steps wait on the office now
    assert queue.count_waiting(world["office"], utcnow().date()) == 4
    resp = client.post(
        "/approvals/approve", data={"csrf_token": csrf(client)}, follow_redirects=True
    )
    assert "Select the applications to approve first." in resp.get_data(as_text=True)


def test_queue_filters_and_sorts(world):
    call_b = make_call(title="Autumn exchange")
    old = submitted(world["call"], world["a"], name="Zoe Zeta")
    late = submitted(call_b, world["a"], name="Adam Alpha")
    db.session.execute(
        sa.update(ApplicationStep)
        .where(ApplicationStep.application_id == old.id)
        .values(activated_at=utcnow() - timedelta(days=3), due_at=utcnow() + timedelta(days=4))
    )
    db.session.execute(
        sa.update(ApplicationStep)
        .where(ApplicationStep.application_id == late.id)
        .values(due_at=utcnow() - timedelta(hours=30))
    )
    old.languages = [
        ApplicationLanguage(language="en", level=CEFR.C1),
        ApplicationLanguage(language="de", level=CEFR.B1),
    ]
    db.session.commit()
    today, who = utcnow().date(), world["advisor_a"]

    def ids(**kwargs):
        page = queue.queue_for(who, today=today, **kwargs)
        return [r.application_id for r in page.rows]

    assert ids() == [old.id, late.id]  # longest waiting first
    assert ids(sort="due") == ids(sort="name") == [late.id, old.id]
    assert ids(filters=queue.QueueFilters(overdue=True)) == [late.id]
    assert ids(filters=queue.QueueFilters(call=call_b.id)) == [late.id]
    assert ids(filters=queue.QueueFilters(q="zoe")) == [old.id]
    assert ids(filters=queue.QueueFilters(q="%")) == []
    rows = {r.application_id: r for r in queue.queue_for(who, today=today).rows}
    assert (rows[old.id].waiting_days, rows[old.id].due_days) == (3, 4)
    assert rows[late.id].overdue and rows[late.id].due_days == -2
    terms = "Bilateral student exchange · 5 months"
    assert rows[old.id].choices == (f"Alpha ({terms})", f"Beta ({terms})")
    assert rows[old.id].languages == ("German B1", "English C1") and rows[late.id].languages == ()
    page = queue.queue_for(who, today=today, filters=queue.QueueFilters(overdue=True))
    assert page.total == 1 and page.waiting_total is None


def test_the_queue_tells_apart_two_offerings_of_one_partner(app, world):
    from exchange.catalogue.models import AgreementType

    call = make_call(title="Two of one partner")
    gamma = PartnerFactory(name="Gamma University")
    for kind, months in ((AgreementType.BILATERAL, 5), (AgreementType.SUMMER_SCHOOL, 1)):
        agreement = AgreementFactory(partner=gamma, type=kind, months_per_mobility=months)
        OfferingFactory(call=call, agreement=agreement)
    db.session.commit()
    submitted(call, world["a"], name="Gil Gamma")
    html = client_for(app, world["advisor_a"]).get("/approvals/").get_data(as_text=True)
    assert "<li>Gamma University (Bilateral student exchange · 5 months)</li>" in html
    assert "<li>Gamma University (Summer school · 1 month)</li>" in html


# --- the queue's rule is decide_step's rule ------------------------------------------------------


def test_the_queue_matches_decider_for_on_a_mixed_data_set(world):
    """Every kind of rule, unit and substitution, for every user: the queue lists exactly the
    waiting steps `decider_for` lets them decide, on behalf of the same person."""
    a, b = world["a"], world["b"]
    today = utcnow().date()
    dean_a = UserFactory(roles=(), units=[a], function=UnitFunction.DEAN, name="Dean A")
    advisor_without_role = UserFactory(roles=(), units=[a], function=UnitFunction.ADVISOR)
    role_without_function = UserFactory(
        roles=(Role.ADVISOR,), units=[b], function=UnitFunction.MEMBER
    )
    named = coordinator(name="Nina Named")
    away = advisor(b, name="Away Advisor")
    inactive = advisor(a, name="Gone Advisor", active=False)
    both = UserFactory(roles=(Role.STUDENT, Role.ADVISOR), units=[a], function=UnitFunction.ADVISOR)
    helper = student(a)  # stands in for others without any role of their own
    users = [
        world["advisor_a"],
        world["advisor_b"],
        world["office"],
        dean_a,
        advisor_without_role,
        role_without_function,
        named,
        away,
        inactive,
        both,
        helper,
    ]
    for absent, substitute, starts, ends in (
        (away, world["advisor_a"], today, today),
        (dean_a, helper, today - timedelta(days=2), today + timedelta(days=2)),
        (named, helper, today, today + timedelta(days=9)),
        (inactive, helper, today, today),
        (world["office"], both, today + timedelta(days=1), today + timedelta(days=2)),
        (
            world["advisor_a"],
            world["advisor_b"],
            today - timedelta(days=9),
            today - timedelta(days=1),
        ),
        (both, world["advisor_b"], today, today),
    ):
        db.session.add(
            Substitution(
                user_id=absent.id, substitute_id=substitute.id, starts_on=starts, ends_on=ends
            )
        )
    db.session.commit()
    chains = [
        [
            ("Advisor", ApproverRule.UNIT_ADVISOR, {}),
            ("Office", ApproverRule.INTERNATIONAL_OFFICE, {}),
        ],
        [("Dean", ApproverRule.UNIT_ROLE, {})],
        [("Advisor role", ApproverRule.UNIT_ROLE, {"unit_function": UnitFunction.ADVISOR})],
        [("Named", ApproverRule.NAMED_USER, {"approver_id": named.id})],
        [("Office", ApproverRule.INTERNATIONAL_OFFICE, {})],
    ]
    for steps in chains:
        call = make_call(steps)
        for unit in (a, b, None):
            submitted(call, unit)
    submitted(make_call(chains[0]), user=both)  # an advisor of A applies themself
    submitted(make_call(chains[3]), user=helper)
    waiting = db.session.scalars(
        sa.select(ApplicationStep).where(ApplicationStep.status == StepStatus.WAITING)
    ).all()
    assert len(waiting) == 17
    for user in users:
        expected = {}
        for step in waiting:
            if step.application.student_id == user.id:
                continue
            allowed, on_behalf = ops.decider_for(user, step, today)
            if allowed:
                expected[step.id] = on_behalf.id if on_behalf else None
        page = queue.queue_for(user, today=today)
        got = {r.step_id: r.on_behalf_of.id if r.on_behalf_of else None for r in page.rows}
        assert got == expected, user.name
        assert queue.count_waiting(user, today) == page.total == len(expected), user.name
    assert queue.count_waiting(helper, today) > 0  # the mix covers substitutes


# --- statements ----------------------------------------------------------------------------------


def test_queue_page_uses_a_fixed_number_of_statements(app, world):
    client = client_for(app, world["advisor_a"])
    for _ in range(3):
        submitted(world["call"], world["a"])
    few = count_statements(client, "/approvals/")
    assert client.get("/approvals/").get_data(as_text=True).count('data-testid="queue-row"') == 3
    call = make_call()
    for _ in range(37):
        submitted(call, world["a"])
    many = count_statements(client, "/approvals/")
    html = client.get("/approvals/?sort=name").get_data(as_text=True)
    assert html.count('data-testid="queue-row"') == 40
    assert many == few <= 5  # the login, the count, the rows, their choices and languages
    assert count_statements(client, "/approvals/?sort=due&overdue=1") <= few


def test_application_page_of_an_approver_uses_a_fixed_number_of_statements(app, world):
    application = submitted(world["call"], world["a"])
    client = client_for(app, world["office"])
    ops.add_note(application, "First.", actor=world["office"])
    db.session.commit()
    few = count_statements(client, f"/applications/{application.id}")
    for round_ in range(3):  # more rounds, steps, deciders and notes on the same page
        ops.decide_step(current(application), Decision.APPROVE, None, actor=world["advisor_a"])
        ops.decide_step(current(application), Decision.RETURN, "Again.", actor=world["office"])
        ops.add_note(application, f"Note {round_}", actor=advisor(world["a"]))
        app_ops.submit_application(application, actor=application.student)
        db.session.commit()
    assert count_statements(client, f"/applications/{application.id}") == few


def test_the_badge_count_is_one_statement_per_request_and_follows_every_change(app, world):
    from flask_login import login_user

    def badge():
        with app.test_request_context():
            login_user(world["advisor_a"])
            waiting = app.jinja_env.globals["approvals_waiting"]
            with StatementCounter(db.engine) as counter:
                value = waiting()
                assert waiting() == value  # once per request
            return value, counter.count

    for _ in range(2):
        submitted(world["call"], world["a"])
    db.session.commit()
    assert badge() == (2, 1)
    submitted(world["call"], world["a"])
    db.session.commit()
    assert badge() == (3, 1)


# --- two approvers at the same moment ------------------------------------------------------------


@pytest.mark.committed
def test_two_approvers_deciding_the_same_step_at_once_record_one_decision(committed_app):
    """Real concurrent transactions on a committed database. On PostgreSQL the second UPDATE
    waits for the first's row lock, then finds the step decided and matches no row: its
    approver is told plainly. SQLite lets one writer at a time: the loser fails one way or
    another, and one decision is recorded."""
    app = committed_app
    with app.app_context():
        unit = UnitFactory()
        call = make_call()
        application = submitted(call, unit)
        step_id = current(application).id
        application_id = application.id
        deciders = [advisor(unit, name="First Advisor").id, advisor(unit, name="Second Advisor").id]
        db.session.remove()
    barrier = threading.Barrier(2)
    outcomes = {}

    def decide(user_id, decision, comment):
        with app.app_context():
            try:
                step = db.session.get(ApplicationStep, step_id)
                actor = db.session.get(User, user_id)
                step.application.events  # noqa: B018 - loaded before the race, as a page does
                barrier.wait(timeout=10)
                ops.decide_step(step, decision, comment, actor=actor)
                db.session.commit()
                outcomes[user_id] = "decided"
            except DomainError as exc:
                db.session.rollback()
                outcomes[user_id] = str(exc)
            except Exception as exc:  # SQLite: "database is locked" for the loser
                db.session.rollback()
                outcomes[user_id] = type(exc).__name__
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=decide, args=(deciders[0], Decision.APPROVE, None)),
        threading.Thread(target=decide, args=(deciders[1], Decision.REJECT, "Not eligible.")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert list(outcomes.values()).count("decided") == 1, outcomes
    with app.app_context():
        step = db.session.get(ApplicationStep, step_id)
        winner = next(u for u, o in outcomes.items() if o == "decided")
        loser = next(u for u in deciders if u != winner)
        assert step.decided_by_id == winner and step.status is not StepStatus.WAITING
        events = db.session.scalars(
            sa.select(ApplicationEvent.action).where(
                ApplicationEvent.application_id == application_id,
                ApplicationEvent.action.like("step_%"),
            )
        ).all()
        assert len(events) == 1, events
        audits = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.like("application.step_%"))
        )
        assert audits == 1
        if db.engine.dialect.name == "postgresql":
            winner_name = db.session.get(User, winner).name
            assert outcomes[loser].startswith(f"{winner_name} already decided this step"), outcomes
            assert outcomes[loser].endswith("your decision was not recorded.")
        db.session.remove()
