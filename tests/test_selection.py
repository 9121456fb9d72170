"""Selection on the database: criteria, committee scores, quotas and overrides; the allocation
previewed (nothing written) and committed (outcomes and statuses, never over capacity); the
command line with its JSON; clear refusals that leave nothing half-written."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from exchange.accounts.models import CEFR, DegreeLevel
from exchange.applications.models import (
    Application,
    ApplicationEvent,
    ApplicationLanguage,
    ApplicationStatus,
)
from exchange.calls.models import Call, CallStatus
from exchange.core.audit import AuditEvent
from exchange.core.database import utcnow
from exchange.core.errors import DomainError, NotAllowed
from exchange.extensions import db
from exchange.selection import operations as ops
from exchange.selection.allocation import commit_allocation, preview_allocation
from exchange.selection.demo import demo_title
from exchange.selection.engine import Outcome, Reason
from exchange.selection.models import (
    AllocationOutcome,
    AllocationRun,
    CriterionKind,
    SelectionSettings,
    TieBreak,
)

from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    advisor,
    coordinator,
    student,
)


def _closed_call():
    now = utcnow()
    return CallFactory(
        status=CallStatus.CLOSED,
        opens_at=now - timedelta(days=30),
        closes_at=now - timedelta(days=1),
    )


def _offering(call, name, places):
    agreement = AgreementFactory(partner=PartnerFactory(name=name))
    return OfferingFactory(call=call, agreement=agreement, places=places)


def _approved(
    call, choices, gpa, unit=None, minutes=0, level="B2", status=ApplicationStatus.APPROVED
):
    application = ApplicationFactory(
        call=call,
        student=student(unit),
        status=status,
        gpa=Decimal(gpa),
        choices=choices,
        submitted_at=utcnow() - timedelta(days=10) + timedelta(minutes=minutes),
    )
    application.languages = [ApplicationLanguage(language="en", level=CEFR(level))]
    db.session.commit()
    return application


@pytest.fixture
def selection(app):
    """A closed call: Tokyo with 2 places, Lyon with 1, Oslo with none; five approved
    applications, all wanting Tokyo first."""
    call = _closed_call()
    tokyo, lyon, oslo = (
        _offering(call, "Tokyo", 2),
        _offering(call, "Lyon", 1),
        _offering(call, "Oslo", 0),
    )
    gpas = ["3.90", "3.70", "3.50", "3.30", "3.10"]
    apps = [_approved(call, [tokyo, lyon], gpa, minutes=i) for i, gpa in enumerate(gpas)]
    return call, (tokyo, lyon, oslo), apps


def test_preview_ranks_by_score_and_writes_nothing(selection):
    call, (tokyo, lyon, _oslo), apps = selection
    office = coordinator()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    result = preview_allocation(call, actor=office, seed=11)
    assert [p.application_id for p in result.placements] == [a.id for a in apps]
    assert [p.offering_id for p in result.placements[:3]] == [tokyo.id, tokyo.id, lyon.id]
    fourth = result.placements[3]
    assert fourth.outcome is Outcome.WAITLISTED
    assert [n.reason for n in fourth.notes] == [Reason.FULL, Reason.FULL]
    assert result.placements[0].parts == {0: 97.5}  # no criteria: GPA alone, of 100 points
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AllocationRun)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before
    assert {a.status for a in apps} == {ApplicationStatus.APPROVED}
    assert db.session.get(SelectionSettings, call.id) is None


def test_commit_writes_outcomes_statuses_and_timelines(selection):
    call, (tokyo, lyon, _oslo), apps = selection
    office = coordinator()
    run, result = commit_allocation(call, actor=office, seed=11)
    db.session.commit()
    statuses = [db.session.get(Application, a.id).status for a in apps]
    assert statuses == [ApplicationStatus.PLACED] * 3 + [ApplicationStatus.WAITLISTED] * 2
    first = db.session.get(Application, apps[0].id)
    assert first.placed_offering_id == tokyo.id and first.score == Decimal("97.500")
    outcomes = db.session.scalars(
        sa.select(AllocationOutcome)
        .where(AllocationOutcome.run_id == run.id)
        .order_by(AllocationOutcome.rank)
    ).all()
    assert [(o.rank, o.outcome, o.choice_rank) for o in outcomes[:4]] == [
        (1, Outcome.PLACED, 1),
        (2, Outcome.PLACED, 1),
        (3, Outcome.PLACED, 2),
        (4, Outcome.WAITLISTED, None),
    ]
    assert outcomes[3].notes == [[1, tokyo.id, "full", None], [2, lyon.id, "full", None]]
    assert db.session.get(SelectionSettings, call.id).seed == 11
    assert db.session.get(type(call), call.id).status is CallStatus.ALLOCATING
    event = db.session.scalars(
        sa.select(ApplicationEvent)
        .where(ApplicationEvent.application_id == apps[3].id)
        .order_by(ApplicationEvent.id.desc())
    ).first()
    assert (event.action, event.to_status, event.actor_id) == (
        "allocation_waitlisted",
        ApplicationStatus.WAITLISTED,
        office.id,
    )
    assert run.seed == 11 and result.seed == 11


def test_committing_again_with_the_recorded_seed_gives_the_same_result(selection):
    call, _offerings, _apps = selection
    _run, first = commit_allocation(call, actor=None, seed=123)
    db.session.commit()
    _run, again = commit_allocation(call, actor=None)  # no seed given: the recorded one
    db.session.commit()
    assert again.seed == 123
    assert [(p.application_id, p.offering_id) for p in again.placements] == [
        (p.application_id, p.offering_id) for p in first.placements
    ]


def test_committee_scores_and_weights_make_the_total(selection):
    call, (tokyo, _lyon, _oslo), apps = selection
    office = coordinator()
    gpa, language, interview = ops.set_criteria(
        call,
        [
            ops.CriterionData(CriterionKind.GPA, "GPA", Decimal("40")),
            ops.CriterionData(CriterionKind.LANGUAGE, "English", Decimal("20"), language="en"),
            ops.CriterionData(CriterionKind.COMMITTEE, "Interview", Decimal("40"), Decimal("10")),
        ],
        actor=office,
    )
    for application in apps:
        ops.record_score(application, interview, "2", actor=office)
    score = ops.record_score(apps[-1], interview, "10", actor=office)  # the lowest GPA
    db.session.commit()
    assert (score.value, score.scored_by_id) == (Decimal("10.00"), office.id)
    result = preview_allocation(call, actor=office, seed=1)
    best = result.placements[0]
    assert best.application_id == apps[-1].id and best.offering_id == tokyo.id
    # 40 x 3.1/4, 20 x B2 (4/6), 40 x 10/10
    assert best.parts == {gpa.id: 31.0, language.id: 13.3333, interview.id: 40.0}
    assert best.score == 84.3333


def test_a_missing_or_out_of_range_score_is_refused_clearly(selection):
    call, _offerings, apps = selection
    office = coordinator()
    (interview,) = ops.set_criteria(
        call,
        [ops.CriterionData(CriterionKind.COMMITTEE, "Interview", Decimal("50"), Decimal("10"))],
        actor=office,
    )
    with pytest.raises(DomainError, match="between 0 and 10"):
        ops.record_score(apps[0], interview, "11", actor=office)
    with pytest.raises(DomainError, match="is a number"):
        ops.record_score(apps[0], interview, "ten", actor=office)
    ops.record_score(apps[0], interview, "7.5", actor=office)
    with pytest.raises(DomainError, match="4 approved applications have no score for “Interview”"):
        preview_allocation(call, actor=office)


def test_advisors_score_their_own_units_only(selection):
    call, offerings, _apps = selection
    unit, other = UnitFactory(), UnitFactory()
    mine = _approved(call, [offerings[0]], "3.00", unit=unit)
    theirs = _approved(call, [offerings[0]], "3.00", unit=other)
    (interview,) = ops.set_criteria(
        call,
        [ops.CriterionData(CriterionKind.COMMITTEE, "Interview", Decimal("50"), Decimal("10"))],
        actor=None,
    )
    reviewer = advisor(unit)
    ops.record_score(mine, interview, "6", actor=reviewer)
    with pytest.raises(NotAllowed):
        ops.record_score(theirs, interview, "6", actor=reviewer)
    with pytest.raises(NotAllowed):
        ops.set_criteria(call, [], actor=reviewer)


def test_tie_breaks_in_the_calls_order(app):
    call = _closed_call()
    tokyo = _offering(call, "Tokyo", 1)
    ops.set_criteria(
        call, [ops.CriterionData(CriterionKind.LANGUAGE, "Any", Decimal("10"))], actor=None
    )
    early_low = _approved(call, [tokyo], "3.00", minutes=1)
    late_high = _approved(call, [tokyo], "3.80", minutes=2)
    first = preview_allocation(call, actor=None, seed=1).placements[0]
    assert first.application_id == early_low.id  # earlier submission, by default
    ops.set_tie_breaks(call, [TieBreak.HIGHER_GPA, TieBreak.EARLIER_SUBMISSION], actor=None)
    first = preview_allocation(call, actor=None, seed=1).placements[0]
    assert first.application_id == late_high.id
    with pytest.raises(DomainError, match="once"):
        ops.set_tie_breaks(call, [TieBreak.HIGHER_GPA, TieBreak.HIGHER_GPA], actor=None)


def test_an_override_is_placed_first_and_a_full_offering_refuses_one_more(selection):
    call, (tokyo, lyon, oslo), apps = selection
    office = coordinator()
    ops.override_placement(apps[4], tokyo, "Partner asked for this student by name", actor=office)
    result = preview_allocation(call, actor=office, seed=3).by_application()
    assert result[apps[4].id].offering_id == tokyo.id and result[apps[4].id].overridden
    assert result[apps[1].id].offering_id == lyon.id  # pushed down by the override
    ops.override_placement(apps[3], tokyo, "Second nomination agreed", actor=office)
    with pytest.raises(DomainError, match="Tokyo .* is full"):
        ops.override_placement(apps[2], tokyo, "One more", actor=office)
    with pytest.raises(DomainError, match="is full"):
        ops.override_placement(apps[2], oslo, "No places at all", actor=office)
    with pytest.raises(DomainError, match="reason"):
        ops.override_placement(apps[2], lyon, "   ", actor=office)


def test_an_override_made_too_many_by_fewer_places_stops_the_allocation(selection):
    call, (tokyo, _lyon, _oslo), apps = selection
    ops.override_placement(apps[4], tokyo, "Agreed with the partner", actor=None)
    ops.override_placement(apps[3], tokyo, "Agreed with the partner", actor=None)
    tokyo.places = 1
    db.session.commit()
    with pytest.raises(DomainError, match="overrides onto Tokyo take more than its places"):
        commit_allocation(call, actor=None, seed=1)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AllocationRun)) == 0


def test_a_quota_per_degree_level(selection):
    call, (tokyo, _lyon, _oslo), apps = selection
    for application in apps[:2]:
        application.student.profile.degree_level = DegreeLevel.MASTER
    db.session.commit()
    ops.set_quota(tokyo, 1, degree_level=DegreeLevel.MASTER, actor=None)
    result = preview_allocation(call, actor=None, seed=1).by_application()
    assert result[apps[0].id].offering_id == tokyo.id
    assert result[apps[1].id].notes[0].reason is Reason.QUOTA_FULL
    assert result[apps[2].id].offering_id == tokyo.id
    with pytest.raises(DomainError, match="between 0 and the offering's 2 places"):
        ops.set_quota(tokyo, 3, degree_level=DegreeLevel.MASTER, actor=None)


def test_refusals_leave_nothing_written(app):
    call = _closed_call()
    _offering(call, "Tokyo", 1)
    with pytest.raises(DomainError, match="no approved applications"):
        commit_allocation(call, actor=None)
    open_call = CallFactory()
    with pytest.raises(DomainError, match="has closed"):
        preview_allocation(open_call, actor=None)
    tokyo = _offering(call, "Kyoto", 1)
    _approved(call, [tokyo], "3.00")
    _approved(call, [tokyo], "3.00", status=ApplicationStatus.IN_REVIEW)
    with pytest.raises(DomainError, match="1 applications of this call are still in review"):
        commit_allocation(call, actor=None)
    assert preview_allocation(call, actor=None, seed=1).placements[0].offering_id == tokyo.id
    with pytest.raises(NotAllowed):
        preview_allocation(call, actor=student())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AllocationRun)) == 0


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["selection", "allocate", *map(str, args)])


def test_the_command_line_prints_the_json_of_the_issue(app, selection):
    call, (tokyo, lyon, oslo), apps = selection
    dry = _cli(app, call.id, "--seed", 5, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    data = json.loads(dry.output)
    assert set(data) == {"call", "seed", "offerings", "outcomes"}
    assert (data["call"], data["seed"]) == (call.id, 5)
    assert data["offerings"] == [
        {"id": tokyo.id, "places": 2, "filled": 2},
        {"id": lyon.id, "places": 1, "filled": 1},
        {"id": oslo.id, "places": 0, "filled": 0},
    ]
    assert data["outcomes"][0] == {
        "application_id": apps[0].id,
        "score": 97.5,
        "rank": 1,
        "outcome": "placed",
        "choice": 1,
    }
    assert data["outcomes"][4]["outcome"] == "waitlisted" and data["outcomes"][4]["choice"] is None
    assert db.session.get(Application, apps[0].id).status is ApplicationStatus.APPROVED
    done = _cli(app, call.id, "--seed", 5)
    assert done.exit_code == 0, done.output
    assert "3 placed, 2 waitlisted, 0 not placed" in done.output
    assert "2 of 2 offerings with places are full" in done.output
    assert "--seed 5 repeats" in done.output
    assert db.session.get(Application, apps[0].id).status is ApplicationStatus.PLACED


def test_the_command_line_says_what_is_wrong(app):
    assert "no call with id 987654" in _cli(app, 987654).output
    call = _closed_call()
    result = _cli(app, call.id, "--dry-run")
    assert result.exit_code == 1
    assert "no approved applications" in result.output
    assert "seed is a whole number" in _cli(app, call.id, "--seed", -1).output


def test_the_demo_has_a_closed_call_ready_to_allocate(app):
    seeded = app.test_cli_runner().invoke(args=["seed", "demo"])
    assert seeded.exit_code == 0, seeded.output
    call = db.session.scalar(sa.select(Call).where(Call.title == demo_title()))
    assert call.status is CallStatus.CLOSED
    units = db.session.execute(
        sa.select(Application.unit_id, sa.func.count())
        .where(Application.call_id == call.id, Application.status == ApplicationStatus.APPROVED)
        .group_by(Application.unit_id)
    ).all()
    assert sum(n for _unit, n in units) >= 40 and len(units) >= 3
    result = preview_allocation(call, actor=None, seed=1)
    wanted = {o.id: 0 for o in call.offerings}
    for application in db.session.scalars(
        sa.select(Application).where(Application.call_id == call.id)
    ):
        wanted[application.choices[0].offering_id] += 1
    assert any(wanted[o.id] > o.places for o in call.offerings)
    assert {p.outcome for p in result.placements} >= {Outcome.PLACED, Outcome.WAITLISTED}
    again = app.test_cli_runner().invoke(args=["seed", "demo"])
    assert again.exit_code == 0
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Call).where(Call.title == demo_title())
        )
        == 1
    )
