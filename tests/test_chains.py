"""Approval chain templates (validation, versions, pages), the call's chain, substitutes."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from exchange.accounts.models import Role, UnitFunction
from exchange.applications.operations import submit_application
from exchange.approvals import operations as approval_ops
from exchange.approvals.models import ApplicationStep, StepStatus, Substitution
from exchange.calls import editing as call_editing
from exchange.calls import scheduling as call_scheduling
from exchange.calls.models import Call, CallStatus
from exchange.chains import operations as ops
from exchange.chains.models import ApprovalChain, ApprovalStepTemplate, ApproverRule, RestartFrom
from exchange.core.audit import AuditEvent
from exchange.core.errors import DomainError, NotAllowed
from exchange.extensions import db

from .conftest import client_for, csrf_token
from .factories import (
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    UnitFactory,
    UserFactory,
    admin,
    advisor,
    coordinator,
    student,
)

ADVISOR_STEP = ops.StepData(
    name="Unit advisor", rule=ApproverRule.UNIT_ADVISOR, time_limit_days=5, may_return=True
)
OFFICE_STEP = ops.StepData(
    name="International office", rule=ApproverRule.INTERNATIONAL_OFFICE, time_limit_days=7
)


def chain_data(**changes):
    values = {"name": "Advisor then office", "steps": [ADVISOR_STEP, OFFICE_STEP]}
    values.update(changes)
    return ops.ChainData(**values)


def problems_of(data):
    return {(f, str(m)) for f, m in data.normalised()[1]}


def make_chain(**changes):
    chain, _changed = ops.save_chain(None, chain_data(**changes), actor=None)
    db.session.commit()
    return chain


@pytest.fixture
def staff_client(app):
    return client_for(app, coordinator())


# --- validation ------------------------------------------------------------------------------


def test_valid_chain_has_no_problems(ctx):
    values, problems = chain_data().normalised()
    assert problems == []
    assert [(s["position"], s["rule"], s["time_limit_days"]) for s in values["steps"]] == [
        (1, ApproverRule.UNIT_ADVISOR, 5),
        (2, ApproverRule.INTERNATIONAL_OFFICE, 7),
    ]


def test_validation_messages(ctx):
    assert problems_of(chain_data(name=" ", steps=[])) == {
        ("name", "Enter a name for the chain."),
        ("steps", "Add at least one step."),
    }
    # blank rows (as the form sends them) are no steps at all
    assert ("steps", "Add at least one step.") in problems_of(
        chain_data(steps=[ops.StepData(), ops.StepData(time_limit_days=7, position=2)])
    )
    assert problems_of(
        chain_data(steps=[ops.StepData(name="Dean", rule="unit_role", time_limit_days=3)])
    ) == {
        (
            "steps-0-unit_function",
            "Step 1: choose the function (dean or advisor) of the person in the student's "
            "unit who approves.",
        )
    }
    # a unit's members are its students: they never approve by function
    assert problems_of(
        chain_data(steps=[ops.StepData(rule="unit_role", unit_function=UnitFunction.MEMBER)])
    ) == {
        (
            "steps-0-unit_function",
            "Step 1: choose the function (dean or advisor) of the person in the student's "
            "unit who approves.",
        )
    }
    assert problems_of(
        chain_data(steps=[OFFICE_STEP, ops.StepData(name="Ms X", rule="named_user")])
    ) == {("steps-1-approver", "Step 2: choose the person who approves.")}
    assert problems_of(chain_data(steps=[ops.StepData(name="Who?")])) == {
        ("steps-0-rule", "Step 1: choose who approves.")
    }
    for days in (0, 366, "x", ""):
        assert problems_of(
            chain_data(steps=[ops.StepData(rule="international_office", time_limit_days=days)])
        ) == {("steps-0-time_limit_days", "Step 1: the time limit must be from 1 to 365 days.")}
    eleven = [ops.StepData(rule="international_office") for _ in range(11)]
    assert ("steps", "A chain has at most 10 steps.") in problems_of(chain_data(steps=eleven))
    assert ("restart_from", "Choose where the chain starts again.") in problems_of(
        chain_data(restart_from="sometimes")
    )


def test_steps_are_ordered_by_position_and_blank_rows_left_out(ctx):
    values, problems = chain_data(
        steps=[
            ops.StepData(name="Office", rule="international_office", position=3),
            ops.StepData(position=2),  # blank
            ops.StepData(rule="unit_advisor", position=1),  # no name: the rule names it
        ]
    ).normalised()
    assert problems == []
    assert [(s["position"], s["name"], s["row"]) for s in values["steps"]] == [
        (1, "Unit advisor", 2),
        (2, "Office", 0),
    ]


def test_named_approver_must_be_an_active_staff_member(ctx):
    unit = UnitFactory()
    pupil = student(unit)
    gone = UserFactory(roles=(Role.ADVISOR,), active=False, name="Gone Away")
    for user, message in [
        (pupil, f"Step 1: {pupil.name} cannot approve"),
        (gone, "Step 1: Gone Away cannot approve"),
    ]:
        data = chain_data(steps=[ops.StepData(rule="named_user", approver=user.id)])
        with pytest.raises(ops.ValidationFailed) as exc:
            ops.save_chain(None, data, actor=None)
        assert exc.value.problems[0][0] == "steps-0-approver"
        assert str(exc.value.problems[0][1]).startswith(message)
    with pytest.raises(ops.ValidationFailed, match="no such user"):
        ops.save_chain(
            None, chain_data(steps=[ops.StepData(rule="named_user", approver=999999)]), actor=None
        )
    dean = advisor(unit, name="Dean Person")
    chain, _ = ops.save_chain(
        None, chain_data(steps=[ops.StepData(rule="named_user", approver=dean.id)]), actor=None
    )
    assert chain.steps[0].approver_id == dean.id and chain.steps[0].name == "Approver"


def test_chain_names_are_unique_whatever_the_case(ctx):
    make_chain(name="Standard review")
    with pytest.raises(ops.ValidationFailed) as exc:
        ops.save_chain(None, chain_data(name="standard REVIEW"), actor=None)
    assert [(f, str(m)) for f, m in exc.value.problems] == [
        ("name", "Another chain is already called “Standard review”.")
    ]


# --- versions --------------------------------------------------------------------------------


def test_editing_steps_makes_a_new_version_and_audits_a_diff(ctx):
    user = coordinator()
    chain, changed = ops.save_chain(None, chain_data(), actor=user)
    db.session.commit()
    assert chain.version == 1 and changed["name"] == [None, "Advisor then office"]
    old_ids = [s.id for s in chain.steps]
    # renaming and describing the chain is not a new version
    chain, changed = ops.save_chain(
        chain, chain_data(name="Renamed", description="Usual"), actor=user
    )
    assert chain.version == 1 and set(changed) == {"name", "description"}
    assert [s.id for s in chain.steps] == old_ids
    chain, changed = ops.save_chain(
        chain, chain_data(name="Renamed", description="Usual"), actor=user
    )
    assert changed == {}
    new_steps = [OFFICE_STEP]
    chain, changed = ops.save_chain(
        chain, chain_data(name="Renamed", description="Usual", steps=new_steps), actor=user
    )
    db.session.commit()
    assert chain.version == 2
    assert changed["version"] == [1, 2]
    assert changed["steps"][0][0].startswith("1. Unit advisor (unit_advisor; 5d")
    assert changed["steps"][1] == [
        "1. International office (international_office; 7d, rejection ends, may return)"
    ]
    rows = db.session.scalars(sa.select(ApprovalStepTemplate)).all()
    assert [(r.chain_id, r.position, r.rule) for r in rows] == [
        (chain.id, 1, ApproverRule.INTERNATIONAL_OFFICE)
    ]
    chain, changed = ops.save_chain(
        chain,
        chain_data(
            name="Renamed",
            description="Usual",
            steps=new_steps,
            restart_from=RestartFrom.RETURNING_STEP,
        ),
        actor=user,
    )
    assert chain.version == 3 and changed["restart_from"] == ["first_step", "returning_step"]
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.object_type == "ApprovalChain", AuditEvent.object_id == str(chain.id))
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == [
        "approval_chain.created",
        "approval_chain.updated",
        "approval_chain.updated",
        "approval_chain.updated",
    ]
    assert all(e.actor_id == user.id for e in events)


def submitted_application(call, unit):
    offering = call.offerings[0]
    application = ApplicationFactory(call=call, student=student(unit), choices=[offering])
    submit_application(application, actor=application.student)
    db.session.commit()
    return application


def test_running_chains_keep_the_steps_they_were_submitted_with(ctx):
    unit = UnitFactory()
    chain = make_chain()
    call = CallFactory(required_documents="", approval_chain_id=chain.id)
    OfferingFactory(call=call)
    before = submitted_application(call, unit)
    assert [(s.rule, s.chain_version, s.status) for s in before.steps] == [
        (ApproverRule.UNIT_ADVISOR, 1, StepStatus.WAITING),
        (ApproverRule.INTERNATIONAL_OFFICE, 1, StepStatus.PENDING),
    ]
    ops.save_chain(
        chain,
        chain_data(
            steps=[
                ops.StepData(
                    name="Dean", rule="unit_role", unit_function="dean", time_limit_days=3
                ),
                OFFICE_STEP,
                ops.StepData(name="Office again", rule="international_office"),
            ]
        ),
        actor=coordinator(),
    )
    db.session.commit()
    assert chain.version == 2
    after = submitted_application(call, unit)
    db.session.expire_all()
    old_steps = db.session.scalars(
        sa.select(ApplicationStep)
        .where(ApplicationStep.application_id == before.id)
        .order_by(ApplicationStep.position)
    ).all()
    assert [(s.name, s.rule, s.time_limit_days, s.chain_version) for s in old_steps] == [
        ("Unit advisor", ApproverRule.UNIT_ADVISOR, 5, 1),
        ("International office", ApproverRule.INTERNATIONAL_OFFICE, 7, 1),
    ]
    new_steps = db.session.scalars(
        sa.select(ApplicationStep)
        .where(ApplicationStep.application_id == after.id)
        .order_by(ApplicationStep.position)
    ).all()
    assert [(s.name, s.rule, s.unit_function, s.chain_version) for s in new_steps] == [
        ("Dean", ApproverRule.UNIT_ROLE, UnitFunction.DEAN, 2),
        ("International office", ApproverRule.INTERNATIONAL_OFFICE, None, 2),
        ("Office again", ApproverRule.INTERNATIONAL_OFFICE, None, 2),
    ]
    # the old application goes on with its own steps: its advisor approves, the office is next
    unit_advisor = advisor(unit)
    approval_ops.decide_step(old_steps[0], approval_ops.Decision.APPROVE, "", actor=unit_advisor)
    db.session.commit()
    assert old_steps[1].status is StepStatus.WAITING


def test_an_inactive_chain_cannot_be_chosen_but_calls_keep_it(ctx):
    user = coordinator()
    chain = make_chain()
    call, _ = call_editing.save_call(None, call_data(approval_chain_id=chain.id), actor=user)
    db.session.commit()
    assert call.approval_chain_id == chain.id
    assert ops.set_chain_active(chain, False, actor=user) is True
    assert ops.set_chain_active(chain, False, actor=user) is False
    db.session.commit()
    # the call keeps it through edits
    call, changed = call_editing.save_call(
        call, call_data(approval_chain_id=chain.id, max_choices=2), actor=user
    )
    assert changed == {"max_choices": [3, 2]}
    with pytest.raises(call_editing.ValidationFailed) as exc:
        call_editing.save_call(None, call_data(approval_chain_id=chain.id), actor=user)
    assert [(f, str(m)) for f, m in exc.value.problems] == [
        ("approval_chain_id", "The approval chain “Advisor then office” is no longer in use.")
    ]
    with pytest.raises(call_editing.ValidationFailed, match="Choose an approval chain"):
        call_editing.save_call(None, call_data(approval_chain_id=999999), actor=user)
    # a copy for next year does not take a retired chain; an active one it does
    copy, _ = call_scheduling.clone_call(call, actor=user)
    assert copy.approval_chain_id is None
    ops.set_chain_active(chain, True, actor=user)
    copy, _ = call_scheduling.clone_call(call, actor=user)
    assert copy.approval_chain_id == chain.id
    actions = db.session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.object_type == "ApprovalChain", AuditEvent.object_id == str(chain.id))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "approval_chain.created",
        "approval_chain.deactivated",
        "approval_chain.activated",
    ]


def call_data(**changes):
    from datetime import datetime

    values = {
        "title": "Chained call",
        "academic_year": 2027,
        "timezone": "Asia/Shanghai",
        "opens_at": datetime(2027, 1, 4, 9, 0),
        "closes_at": datetime(2027, 3, 1, 17, 0),
    }
    values.update(changes)
    return call_editing.CallData(**values)


def test_call_audit_names_the_chain(ctx):
    user = coordinator()
    chain = make_chain()
    call, _ = call_editing.save_call(None, call_data(), actor=user)
    call, changed = call_editing.save_call(call, call_data(approval_chain_id=chain.id), actor=user)
    assert changed == {"approval_chain": [None, "Advisor then office"]}
    call, changed = call_editing.save_call(call, call_data(approval_chain_id=None), actor=user)
    assert changed == {"approval_chain": ["Advisor then office", None]}


# --- the call form ---------------------------------------------------------------------------


def test_call_form_offers_active_chains_and_refuses_an_inactive_one(staff_client):
    active = make_chain(name="Active chain")
    retired = make_chain(name="Retired chain")
    ops.set_chain_active(retired, False, actor=None)
    db.session.commit()
    html = staff_client.get("/calls/new").get_data(as_text=True)
    assert 'name="approval_chain_id"' in html
    assert "International office only" in html and "Active chain" in html
    assert "Retired chain" not in html
    form = {
        "csrf_token": csrf_token(staff_client, "/calls/new"),
        "title": "Chain form call",
        "academic_year": "2027",
        "term": "full_year",
        "timezone": "Europe/Berlin",
        "opens_at": "2027-01-10T09:00",
        "closes_at": "2027-03-14T12:00",
        "max_choices": "3",
        "approval_chain_id": str(retired.id),
    }
    resp = staff_client.post("/calls/new", data=form)
    assert resp.status_code == 200
    assert "The approval chain “Retired chain” is no longer in use." in resp.get_data(as_text=True)
    resp = staff_client.post("/calls/new", data={**form, "approval_chain_id": str(active.id)})
    assert resp.status_code == 302
    call = db.session.scalar(sa.select(Call).where(Call.title == "Chain form call"))
    assert call.approval_chain_id == active.id
    html = staff_client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert f"/approvals/chains/{active.id}" in html and "1. Unit advisor" in html
    # once retired, the call's edit form still shows (and keeps) it
    ops.set_chain_active(active, False, actor=None)
    db.session.commit()
    html = staff_client.get(f"/calls/{call.id}/edit").get_data(as_text=True)
    assert f'<option selected value="{active.id}">Active chain (inactive)</option>' in html
    # "International office only" takes the chain off
    edit = {**form, "csrf_token": csrf_token(staff_client, f"/calls/{call.id}/edit")}
    resp = staff_client.post(f"/calls/{call.id}/edit", data={**edit, "approval_chain_id": ""})
    assert resp.status_code == 302
    db.session.refresh(call)
    assert call.approval_chain_id is None
    assert "International office only" in staff_client.get(f"/calls/{call.id}").get_data(
        as_text=True
    )


# --- chain pages -----------------------------------------------------------------------------


def step_row(index, **values):
    defaults = {"position": str(index + 1), "time_limit_days": "7"}
    defaults.update(values)
    return {f"steps-{index}-{k}": v for k, v in defaults.items() if v is not None}


def test_create_and_edit_a_chain_through_the_pages(staff_client):
    named = advisor(UnitFactory(), name="Named Approver")
    html = staff_client.get("/approvals/chains/new").get_data(as_text=True)
    assert html.count('data-testid="step-row"') == 6
    assert "Named Approver" in html
    token = csrf_token(staff_client, "/approvals/chains/new")
    form = {"csrf_token": token, "name": "Page chain", "restart_from": "first_step"}
    for i in range(6):
        form.update(step_row(i))
    # two rows filled, in reverse order by their numbers; one with a problem
    form.update(
        step_row(
            1,
            position="1",
            name="Advisor",
            rule="unit_advisor",
            time_limit_days="5",
            rejection_ends="y",
            may_return="y",
        )
    )
    form.update(step_row(3, position="2", name="Person", rule="named_user", time_limit_days="400"))
    resp = staff_client.post("/approvals/chains/new", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Step 2: choose the person who approves." in html
    assert "Step 2: the time limit must be from 1 to 365 days." in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalChain)) == 0
    form.update(step_row(3, position="2", name="Person", rule="named_user", approver=named.id))
    resp = staff_client.post("/approvals/chains/new", data=form)
    assert resp.status_code == 302
    chain = db.session.scalar(sa.select(ApprovalChain).where(ApprovalChain.name == "Page chain"))
    assert resp.headers["Location"] == f"/approvals/chains/{chain.id}"
    assert [(s.position, s.name, s.approver_id) for s in chain.steps] == [
        (1, "Advisor", None),
        (2, "Person", named.id),
    ]
    assert chain.steps[1].rejection_ends is False and chain.steps[1].may_return is False
    html = staff_client.get(f"/approvals/chains/{chain.id}").get_data(as_text=True)
    assert (
        "An advisor of the student&#39;s unit — 5 days — a rejection ends the chain — may "
        "return for changes"
    ) in html
    assert (
        "Named Approver, by name — 7 days — a rejection is recorded and the chain goes on — "
        "cannot return for changes"
    ) in html
    # the edit form shows the steps and blank rows; a changed step makes version 2
    html = staff_client.get(f"/approvals/chains/{chain.id}/edit").get_data(as_text=True)
    assert html.count('data-testid="step-row"') == 6
    assert 'value="Advisor"' in html
    form.update(step_row(1, position="1", name="Advisor", rule="unit_advisor", time_limit_days="9"))
    form["csrf_token"] = csrf_token(staff_client, f"/approvals/chains/{chain.id}/edit")
    resp = staff_client.post(f"/approvals/chains/{chain.id}/edit", data=form, follow_redirects=True)
    assert "Chain saved as version 2." in resp.get_data(as_text=True)
    db.session.refresh(chain)
    assert chain.version == 2 and chain.steps[0].time_limit_days == 9


def test_chain_list_and_deactivation(staff_client):
    chain = make_chain(name="Listed chain")
    CallFactory(approval_chain_id=chain.id)
    CallFactory(approval_chain_id=chain.id)
    html = staff_client.get("/approvals/chains/").get_data(as_text=True)
    row = html[html.index("Listed chain") :].split("</tr>")[0]
    assert "Unit advisor" in row and "International office" in row and ">2</td>" in row
    assert "Active" in row
    token = csrf_token(staff_client, "/approvals/chains/")
    resp = staff_client.post(
        f"/approvals/chains/{chain.id}/active",
        data={"csrf_token": token, "active": "0", "back": "index"},
        follow_redirects=True,
    )
    assert "can no longer be chosen for new calls" in resp.get_data(as_text=True)
    db.session.refresh(chain)
    assert chain.active is False
    resp = staff_client.post(
        f"/approvals/chains/{chain.id}/active", data={"csrf_token": token, "active": "1"}
    )
    assert resp.headers["Location"] == f"/approvals/chains/{chain.id}"
    db.session.refresh(chain)
    assert chain.active is True
    assert staff_client.post(f"/approvals/chains/{chain.id}/active").status_code == 400


def test_chain_list_statement_count_does_not_grow(staff_client):
    from .test_catalogue import StatementCounter

    def count():
        staff_client.get("/approvals/chains/")
        with StatementCounter(db.engine) as counter:
            assert staff_client.get("/approvals/chains/").status_code == 200
        return counter.count

    make_chain(name="One")
    few = count()
    named = advisor(UnitFactory())
    for n in range(5):
        make_chain(name=f"Chain {n}", steps=[ops.StepData(rule="named_user", approver=named.id)])
    assert count() == few


# --- access ----------------------------------------------------------------------------------


def test_chain_pages_are_for_coordinators_and_admins(app):
    unit = UnitFactory()
    chain = make_chain()
    urls = [
        "/approvals/chains/",
        "/approvals/chains/new",
        f"/approvals/chains/{chain.id}",
        f"/approvals/chains/{chain.id}/edit",
    ]
    for user in (student(unit), advisor(unit)):
        client = client_for(app, user)
        token = csrf_token(client, "/home")
        for url in urls:
            assert client.get(url).status_code == 403, url
        resp = client.post(f"/approvals/chains/{chain.id}/active", data={"csrf_token": token})
        assert resp.status_code == 403
    anonymous = app.test_client()
    for url in urls:
        assert anonymous.get(url).headers["Location"].startswith("/login?next=")
    client = client_for(app, admin())
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_substitutes_page_is_for_approvers(app):
    unit = UnitFactory()
    assert client_for(app, student(unit)).get("/approvals/substitutes/").status_code == 403
    for user in (advisor(unit), coordinator(), admin()):
        assert client_for(app, user).get("/approvals/substitutes/").status_code == 200
    resp = app.test_client().get("/approvals/substitutes/")
    assert resp.headers["Location"].startswith("/login?next=")


# --- substitutes -----------------------------------------------------------------------------

TODAY = date(2030, 6, 10)


def test_substitute_rules(ctx):
    unit = UnitFactory()
    me, other, third = advisor(unit), coordinator(name="Other Person"), admin()

    def name(substitute, first, last, user=me, actor=None):
        return approval_ops.name_substitute(
            user, substitute, first, last, actor=actor or user, today=TODAY
        )

    day = lambda n: TODAY + timedelta(days=n)  # noqa: E731
    with pytest.raises(DomainError, match="your own substitute"):
        name(me, day(0), day(3))
    with pytest.raises(DomainError, match="active advisor, coordinator or admin"):
        name(student(unit), day(0), day(3))
    with pytest.raises(DomainError, match="active advisor, coordinator or admin"):
        name(UserFactory(roles=(Role.COORDINATOR,), active=False), day(0), day(3))
    with pytest.raises(DomainError, match="must not be before the first day") as exc:
        name(other, day(3), day(2))
    assert exc.value.field == "ends_on"
    with pytest.raises(DomainError, match="cannot be in the past"):
        name(other, day(-1), day(2))
    with pytest.raises(DomainError, match="one year at most"):
        name(other, day(0), day(400))
    with pytest.raises(NotAllowed):  # only for oneself (or by an admin)
        name(third, day(0), day(3), actor=other)
    first = name(other, day(0), day(6))
    with pytest.raises(DomainError) as exc:
        name(other, day(5), day(9))
    assert str(exc.value.message) == (
        "Other Person already stands in for you from 2030-06-10 to 2030-06-16. End that "
        "substitution first, or choose days outside it."
    )
    assert exc.value.field == "starts_on"
    name(other, day(7), day(9))  # right after: no overlap
    name(third, day(2), day(4))  # someone else for the same days: fine
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Substitution)) == 3
    # an admin may name one for someone else
    approval_ops.name_substitute(other, me, day(0), day(1), actor=third, today=TODAY)
    assert first.id is not None


def test_ending_a_substitution(ctx):
    unit = UnitFactory()
    me, sub, outsider = advisor(unit), coordinator(), advisor(unit)
    running = Substitution(
        user_id=me.id, substitute_id=sub.id, starts_on=TODAY - timedelta(days=3), ends_on=TODAY
    )
    future = Substitution(
        user_id=me.id,
        substitute_id=sub.id,
        starts_on=TODAY + timedelta(days=10),
        ends_on=TODAY + timedelta(days=12),
    )
    db.session.add_all([running, future])
    db.session.commit()
    with pytest.raises(NotAllowed):
        approval_ops.end_substitution(running, actor=outsider, today=TODAY)
    # under way: it ends yesterday, its past days stay on record
    assert approval_ops.end_substitution(running, actor=me, today=TODAY) is running
    assert running.ends_on == TODAY - timedelta(days=1)
    with pytest.raises(DomainError, match="already ended"):
        approval_ops.end_substitution(running, actor=me, today=TODAY)
    # not started: removed; the substitute may step down too
    assert approval_ops.end_substitution(future, actor=sub, today=TODAY) is None
    db.session.commit()
    assert db.session.scalars(sa.select(Substitution.id)).all() == [running.id]
    actions = db.session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.action.like("approval.substitute%"))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["approval.substitute_ended", "approval.substitute_removed"]


def test_substitutes_page(app):
    unit = UnitFactory()
    me = advisor(unit, name="Me Myself")
    other = coordinator(name="Other Person")
    away = advisor(unit, name="Away Advisor")
    student(unit, name="Some Student")
    client = client_for(app, me)
    html = client.get("/approvals/substitutes/").get_data(as_text=True)
    assert "Other Person" in html and "Away Advisor" in html
    assert "Some Student" not in html
    assert f'value="{me.id}"' not in html  # not themselves
    from exchange.core.database import utcnow

    today = utcnow().date()
    token = csrf_token(client, "/approvals/substitutes/")
    form = {
        "csrf_token": token,
        "substitute": str(other.id),
        "starts_on": (today + timedelta(days=2)).isoformat(),
        "ends_on": (today + timedelta(days=1)).isoformat(),
    }
    resp = client.post("/approvals/substitutes/", data=form)
    assert resp.status_code == 200
    assert "The last day must not be before the first day." in resp.get_data(as_text=True)
    form["ends_on"] = (today + timedelta(days=5)).isoformat()
    resp = client.post("/approvals/substitutes/", data=form, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "Other Person will decide for you" in html
    given = html[html.index('data-testid="given"') :].split("</section>")[0]
    assert "Other Person" in given
    resp = client.post("/approvals/substitutes/", data=form)
    assert "already stands in for you" in resp.get_data(as_text=True)
    # received: someone named me
    approval_ops.name_substitute(away, me, today, today + timedelta(days=1), actor=away)
    db.session.commit()
    html = client.get("/approvals/substitutes/").get_data(as_text=True)
    received = html[html.index('data-testid="received"') :].split("</section>")[0]
    assert "Away Advisor" in received and "Now" in received
    row = db.session.scalar(sa.select(Substitution).where(Substitution.user_id == me.id))
    resp = client.post(
        f"/approvals/substitutes/{row.id}/end", data={"csrf_token": token}, follow_redirects=True
    )
    assert "The substitution has ended." in resp.get_data(as_text=True)
    assert db.session.get(Substitution, row.id) is None
    # someone else's substitution cannot be ended from here
    theirs = approval_ops.name_substitute(other, away, today, today, actor=other)
    db.session.commit()
    resp = client.post(
        f"/approvals/substitutes/{theirs.id}/end", data={"csrf_token": token}, follow_redirects=True
    )
    assert "You cannot change this substitution." in resp.get_data(as_text=True)


# --- demo data -------------------------------------------------------------------------------


def test_seed_demo_gives_the_demo_call_its_chain(app, ctx):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    chains = db.session.scalars(sa.select(ApprovalChain)).all()
    assert [c.name for c in chains] == ["Unit advisor, then international office"]
    chain = chains[0]
    assert [(s.rule, s.time_limit_days, s.may_return) for s in chain.steps] == [
        (ApproverRule.UNIT_ADVISOR, 7, True),
        (ApproverRule.INTERNATIONAL_OFFICE, 7, True),
    ]
    call = db.session.scalar(sa.select(Call))
    assert call.approval_chain_id == chain.id and call.status is not CallStatus.DRAFT
