"""The selection pages beyond the first step: quotas set and removed on the call's page, a
score cleared from the grid, offerings of one partner told apart by their terms, and the run
page in pages (ranked list and changes) with a fixed number of statements."""

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from exchange.accounts.models import DegreeLevel
from exchange.catalogue.models import AgreementType
from exchange.core.audit import AuditEvent
from exchange.extensions import db
from exchange.selection import queries
from exchange.selection.models import (
    AllocationRun,
    CriterionKind,
    OfferingQuota,
    SelectionCriterion,
    SelectionScore,
)

from .conftest import client_for, csrf_token
from .factories import (
    AgreementFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    coordinator,
)
from .helpers import closed_call_tokyo_lyon
from .statements import StatementCounter


def _call_with(n_applicants, unit=None):
    gpas = [Decimal("4.00") - Decimal(i) / 100 for i in range(n_applicants)]
    found = closed_call_tokyo_lyon(gpas, unit=unit)
    db.session.commit()
    return found


def _post(client, path, data):
    token = csrf_token(client, path[: path.index("/selection") + len("/selection")])
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)


def test_a_quota_is_set_and_removed_on_the_selection_page(app):
    unit = UnitFactory(code="CS")
    call, tokyo, _lyon, _apps = _call_with(2, unit)
    client = client_for(app, coordinator())
    page = f"/calls/{call.id}/selection"
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="quota-form"' in html and f'value="unit:{unit.id}"' in html

    saved = _post(
        client,
        f"{page}/quotas",
        {"offering_id": tokyo.id, "group": f"unit:{unit.id}", "places": "1"},
    ).get_data(as_text=True)
    assert "Quota saved." in saved
    assert re.search(r'data-testid="quota">.*Tokyo.* · CS: 1 place', saved)
    saved = _post(
        client, f"{page}/quotas", {"offering_id": tokyo.id, "group": "level:master", "places": "0"}
    ).get_data(as_text=True)
    assert "Master: 0 places" in saved
    quotas = db.session.scalars(sa.select(OfferingQuota).order_by(OfferingQuota.id)).all()
    assert [(q.unit_id, q.degree_level, q.places) for q in quotas] == [
        (unit.id, None, 1),
        (None, DegreeLevel.MASTER, 0),
    ]

    for bad, message in [
        ({"places": "many"}, "A quota is a whole number of places"),
        ({"places": "3"}, "between 0 and the offering&#39;s 2 places"),
        ({"group": "unit:999999"}, "Choose a unit or a degree level."),
        ({"group": "level:kindergarten"}, "Choose a unit or a degree level."),
        ({"offering_id": "999999"}, "Choose an offering of this call."),
    ]:
        data = {"offering_id": tokyo.id, "group": f"unit:{unit.id}", "places": "2", **bad}
        assert message in _post(client, f"{page}/quotas", data).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(OfferingQuota, quotas[0].id).places == 1  # the bad ones wrote nothing

    removed = _post(
        client,
        f"{page}/quotas",
        {"offering_id": tokyo.id, "group": f"unit:{unit.id}", "places": ""},
    ).get_data(as_text=True)
    assert "Quota removed." in removed
    assert db.session.scalars(sa.select(OfferingQuota.degree_level)).all() == [DegreeLevel.MASTER]


def test_an_emptied_cell_of_the_grid_removes_the_score(app):
    call, _tokyo, _lyon, apps = _call_with(2)
    interview = SelectionCriterion(
        call_id=call.id,
        kind=CriterionKind.COMMITTEE,
        label="Interview",
        weight=Decimal(40),
        maximum=Decimal(10),
        position=1,
    )
    db.session.add(interview)
    db.session.commit()
    client = client_for(app, coordinator())
    grid = f"/calls/{call.id}/selection/scores"
    key = f"score-{apps[0].id}-{interview.id}"
    assert "Scores saved." in _post(client, grid, {key: "7", f"was-{key}": ""}).get_data(
        as_text=True
    )
    assert db.session.scalar(sa.select(sa.func.count(SelectionScore.id))) == 1

    html = _post(client, grid, {key: "", f"was-{key}": "7.00"}).get_data(as_text=True)
    assert "Scores saved." in html
    assert db.session.scalar(sa.select(sa.func.count(SelectionScore.id))) == 0
    assert f'name="{key}" inputmode="decimal" value=""' in html
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(
                AuditEvent.action == "selection.score_cleared"
            )
        )
        == 1
    )
    # An empty cell that was empty stays a no-op; emptying it twice is harmless.
    assert "Scores saved." in _post(client, grid, {key: "", f"was-{key}": "7.00"}).get_data(
        as_text=True
    )


def test_two_offerings_of_one_partner_are_told_apart_by_their_terms(app):
    call, _tokyo, _lyon, _apps = _call_with(1)
    oslo = PartnerFactory(name="Oslo")
    short = OfferingFactory(
        call=call,
        agreement=AgreementFactory(
            partner=oslo, type=AgreementType.BILATERAL, months_per_mobility=5
        ),
    )
    long = OfferingFactory(
        call=call,
        agreement=AgreementFactory(
            partner=oslo, type=AgreementType.BILATERAL, months_per_mobility=10
        ),
    )
    db.session.commit()
    with app.test_request_context():
        names = queries.offering_names(call.id)
    assert names[short.id][0].startswith("Oslo (") and "5 months" in names[short.id][0]
    assert "10 months" in names[long.id][0]
    assert "#" not in names[short.id][0] + names[long.id][0]
    html = client_for(app, coordinator()).get(f"/calls/{call.id}/selection").get_data(as_text=True)
    assert f"#{short.id}" not in html and "10 months" in html


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(queries, "RANKED_PAGE", 3)
    monkeypatch.setattr(queries, "CHANGES_PAGE", 2)


def _ranks(html):
    return [
        int(r) for r in re.findall(r'data-testid="ranked-row"><td class="text-end">(\d+)', html)
    ]


def test_the_run_page_shows_the_ranked_list_and_the_changes_in_pages(app, small_pages):
    call, tokyo, _lyon, apps = _call_with(7)
    client = client_for(app, coordinator())
    page = f"/calls/{call.id}/selection"
    _post(client, f"{page}/preview", {"seed": "1"})
    # The two weakest placed on Tokyo move the three who held Tokyo and Lyon: five changes.
    for weak in apps[-2:]:
        _post(
            client,
            f"{page}/overrides",
            {"application_id": weak.id, "offering_id": tokyo.id, "reason": "Partner's wish"},
        )
    _post(client, f"{page}/preview", {"seed": "1"})
    run_id = db.session.scalar(sa.select(sa.func.max(AllocationRun.id)))
    path = f"{page}/runs/{run_id}"

    first = client.get(path).get_data(as_text=True)
    assert _ranks(first) == [1, 2, 3]
    assert "Ranks 1–3 of 7." in first and "Page 1 of 3" in first
    assert first.count("<li>Student") == 2 and "Changes 1–2 of 5." in first
    second = client.get(f"{path}?page=3&changes=2").get_data(as_text=True)
    third = client.get(f"{path}?page=3&changes=3").get_data(as_text=True)
    assert _ranks(third) == [7]
    assert "Changes 3–4 of 5." in second and "Changes 5–5 of 5." in third
    changed = re.findall(r"<li>(Student \d+): ([^<]*) → ", first + second + third)
    assert {name for name, _before in changed} == {
        "Student 000",
        "Student 001",
        "Student 002",
        "Student 005",
        "Student 006",
    }
    assert ("Student 006", "waitlisted") in changed and ("Student 000", "Tokyo") in changed
    # Each list's links keep the other list's page.
    assert f"{path}?changes=3&amp;page=2#ranked" in third
    assert f"{path}?page=3&amp;changes=2#changes" in third
    # Out of range or not a number: the nearest page, never an error.
    assert _ranks(client.get(f"{path}?page=99").get_data(as_text=True)) == [7]
    assert _ranks(client.get(f"{path}?page=x&changes=-1").get_data(as_text=True)) == [1, 2, 3]


def _statements(client, path):
    client.get(path)  # first-time loads of the process
    with StatementCounter(db.engine) as counter:
        assert client.get(path).status_code == 200
    return [s for s in counter.statements if not s.startswith("SAVEPOINT")]


def test_the_run_page_takes_the_same_statements_with_few_and_many_outcomes(app, small_pages):
    client = client_for(app, coordinator())
    counts = []
    for n in (3, 24):
        call, tokyo, _lyon, apps = _call_with(n)
        page = f"/calls/{call.id}/selection"
        _post(client, f"{page}/preview", {"seed": "2"})
        _post(
            client,
            f"{page}/overrides",
            {"application_id": apps[-1].id, "offering_id": tokyo.id, "reason": "Partner's wish"},
        )
        _post(client, f"{page}/preview", {"seed": "2"})
        run_id = db.session.scalar(sa.select(sa.func.max(AllocationRun.id)))
        html = client.get(f"{page}/runs/{run_id}").get_data(as_text=True)
        assert 'data-testid="changes"' in html and len(_ranks(html)) == 3
        counts.append(len(_statements(client, f"{page}/runs/{run_id}")))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 12, counts


def test_the_student_still_reads_their_own_result_beyond_the_first_page(app, small_pages):
    call, _tokyo, _lyon, apps = _call_with(5)
    client = client_for(app, coordinator())
    _post(client, f"/calls/{call.id}/selection/commit", {"seed": "1"})
    last = apps[-1]
    html = client_for(app, last.student).get(f"/applications/{last.id}/selection")
    text = html.get_data(as_text=True)
    assert "5 of 5" in text
    assert "Choice 1 (Tokyo, 2 places) was filled by ranks 1 and 2 before your turn" in text
