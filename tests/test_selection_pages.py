"""The selection pages: criteria form, scoring grid, preview with fill, ranked list,
explanations and what changed, override with a reason, commit; the student's own result."""

import re
from decimal import Decimal

import sqlalchemy as sa

from exchange.applications.models import Application, ApplicationStatus
from exchange.extensions import db
from exchange.selection.explain import Choice, explanation
from exchange.selection.models import AllocationRun, SelectionCriterion, SelectionScore

from .conftest import client_for, csrf_token
from .factories import (
    coordinator,
)
from .helpers import closed_call_tokyo_lyon


def _setup():
    return closed_call_tokyo_lyon(["3.9", "3.7", "3.5", "3.3"])


def _token(client, page):
    return csrf_token(client, page)


def test_criteria_form_and_scoring_grid(app):
    call, _tokyo, _lyon, apps = _setup()
    client = client_for(app, coordinator())
    page = f"/calls/{call.id}/selection"
    html = client.get(page).get_data(as_text=True)
    assert "No criteria yet" in html
    token = _token(client, page)
    response = client.post(
        f"{page}/criteria",
        data={
            "csrf_token": token,
            "criterion_id": ["", "", ""],
            "kind": ["gpa", "committee", "gpa"],
            "label": ["GPA", "Interview", ""],
            "weight": ["60", "40", ""],
            "maximum": ["", "10", ""],
            "language": ["", "", ""],
        },
        follow_redirects=True,
    )
    assert "Criteria saved." in response.get_data(as_text=True)
    interview = db.session.scalar(
        sa.select(SelectionCriterion).where(SelectionCriterion.label == "Interview")
    )
    bad = client.post(
        f"{page}/criteria",
        data={
            "csrf_token": token,
            "criterion_id": [""],
            "kind": ["committee"],
            "label": ["Talk"],
            "weight": ["10"],
            "maximum": [""],
            "language": [""],
        },
        follow_redirects=True,
    )
    assert "needs a maximum score" in bad.get_data(as_text=True)
    grid = f"{page}/scores"
    html = client.get(grid).get_data(as_text=True)
    assert html.count('data-testid="score-row"') == 4
    token = _token(client, grid)
    key = f"score-{apps[0].id}-{interview.id}"
    response = client.post(
        grid, data={"csrf_token": token, key: "8", f"was-{key}": ""}, follow_redirects=True
    )
    assert "Scores saved." in response.get_data(as_text=True)
    score = db.session.scalar(
        sa.select(SelectionScore).where(SelectionScore.application_id == apps[0].id)
    )
    assert score.value == Decimal("8.00") and score.scored_by_id is not None
    too_high = client.post(
        grid, data={"csrf_token": token, key: "11", f"was-{key}": "8.00"}, follow_redirects=True
    )
    assert "between 0 and 10" in too_high.get_data(as_text=True)
    assert db.session.scalar(
        sa.select(SelectionScore.value).where(SelectionScore.id == score.id)
    ) == Decimal("8.00")


def test_preview_override_and_commit(app):
    call, tokyo, _lyon, apps = _setup()
    office = coordinator()
    client = client_for(app, office)
    page = f"/calls/{call.id}/selection"
    token = _token(client, page)
    first = client.post(
        f"{page}/preview", data={"csrf_token": token, "seed": "4"}, follow_redirects=True
    )
    html = first.get_data(as_text=True)
    assert html.count('data-testid="ranked-row"') == 4
    assert html.count('data-testid="fill-row"') == 2
    assert re.search(
        r"Choice 1 \(Tokyo, 2 places\) was filled by ranks 1 and 2 before your turn at rank 3; you got choice 2 \(Lyon\)",
        html,
    )
    assert db.session.get(Application, apps[0].id).status is ApplicationStatus.APPROVED
    response = client.post(
        f"{page}/overrides",
        data={
            "csrf_token": token,
            "application_id": apps[3].id,
            "offering_id": tokyo.id,
            "reason": "",
        },
        follow_redirects=True,
    )
    assert "Give the reason" in response.get_data(as_text=True)
    response = client.post(
        f"{page}/overrides",
        data={
            "csrf_token": token,
            "application_id": apps[3].id,
            "offering_id": tokyo.id,
            "reason": "Partner's request",
        },
        follow_redirects=True,
    )
    assert "Override saved" in response.get_data(as_text=True)
    second = client.post(
        f"{page}/preview", data={"csrf_token": token, "seed": "4"}, follow_redirects=True
    )
    html = second.get_data(as_text=True)
    assert 'data-testid="changes"' in html
    assert "The international office placed you on Tokyo" in html
    run_id = db.session.scalar(sa.select(sa.func.max(AllocationRun.id)))
    committed = client.post(
        f"{page}/commit", data={"csrf_token": token, "seed": "4"}, follow_redirects=True
    )
    assert "The allocation is committed" in committed.get_data(as_text=True)
    assert db.session.get(Application, apps[3].id).status is ApplicationStatus.PLACED
    assert db.session.get(Application, apps[3].id).placed_offering_id == tokyo.id
    assert db.session.scalar(sa.select(sa.func.max(AllocationRun.id))) == run_id + 1


def test_the_student_reads_their_result_and_others_cannot(app):
    call, _tokyo, _lyon, apps = _setup()
    mine = client_for(app, apps[2].student)
    path = f"/applications/{apps[2].id}/selection"
    assert "have not been allocated yet" in mine.get(path).get_data(as_text=True)
    client = client_for(app, coordinator())
    token = _token(client, f"/calls/{call.id}/selection")
    client.post(f"/calls/{call.id}/selection/commit", data={"csrf_token": token, "seed": "1"})
    html = mine.get(path).get_data(as_text=True)
    assert "You have a place at Lyon." in html
    assert (
        "Choice 1 (Tokyo, 2 places) was filled by ranks 1 and 2 before your turn at rank 3" in html
    )
    assert "3 of 4" in html
    other = client_for(app, apps[0].student)
    assert other.get(path).status_code == 404
    assert client.get(f"/calls/{call.id}/selection/runs/999999").status_code == 404
    assert mine.get(f"/calls/{call.id}/selection").status_code == 403


def test_the_call_and_the_application_link_to_the_selection(app):
    call, _tokyo, _lyon, apps = _setup()
    client = client_for(app, coordinator())
    assert f"/calls/{call.id}/selection" in client.get(f"/calls/{call.id}").get_data(as_text=True)
    token = _token(client, f"/calls/{call.id}/selection")
    client.post(f"/calls/{call.id}/selection/commit", data={"csrf_token": token, "seed": "1"})
    mine = client_for(app, apps[3].student)
    html = mine.get(f"/applications/{apps[3].id}").get_data(as_text=True)
    assert f"/applications/{apps[3].id}/selection" in html
    assert "On the waiting list after the allocation" in html  # the timeline entry, in words


def test_explanations_in_plain_words(app):
    with app.test_request_context():
        text = explanation(
            rank=17,
            outcome="placed",
            choice=2,
            placed_name="Lyon",
            overridden=False,
            blocked=[Choice(1, "Tokyo", 2, "full", (9, 3))],
        )
        assert text == (
            "Choice 1 (Tokyo, 2 places) was filled by ranks 3 and 9 before your turn at "
            "rank 17; you got choice 2 (Lyon)."
        )
        one = explanation(
            rank=4,
            outcome="waitlisted",
            choice=None,
            placed_name=None,
            overridden=False,
            blocked=[
                Choice(1, "Oslo", 1, "full", (2,)),
                Choice(2, "Kyoto", 0, "no_places", ()),
                Choice(3, "Graz", 3, "quota_full", (1, 3), "CS"),
            ],
        )
        assert one == (
            "Choice 1 (Oslo, 1 place) was filled by rank 2 before your turn at rank 4; "
            "choice 2 (Kyoto) has no places in this call; choice 3 (Graz, 3 places) had no "
            "place left for CS: the quota was filled by ranks 1 and 3 before your turn at rank "
            "4; you are on the waiting list: a place freed on one of your choices can still "
            "reach you."
        )
        many = explanation(
            rank=40,
            outcome="not_placed",
            choice=None,
            placed_name=None,
            overridden=False,
            blocked=[Choice(1, "Oslo", 8, "full", tuple(range(1, 9)))],
        )
        assert "ranks 1, 2, 3, 4, 5, 6 and 2 more" in many
        assert many.endswith("none of your choices can take you, so you are not placed.")
