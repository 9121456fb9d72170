"""Kept pages (core.pages) and the versions they are kept under (core.cache): a kept page costs
the login statement alone, and no committed change is ever hidden by one."""

import random
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from exchange.accounts.models import User
from exchange.applications.models import Application, ApplicationStatus
from exchange.approvals import operations as ops
from exchange.approvals.models import Decision
from exchange.approvals.queue import _days, changes_at
from exchange.core.cache import CacheVersion
from exchange.core.pages import PageCache
from exchange.extensions import db

from .conftest import client_for
from .factories import PartnerFactory, UnitFactory, admin, advisor, coordinator
from .statements import StatementCounter
from .test_application_lists import call_data as _call_data  # noqa: F401 - a fixture
from .test_application_lists import names, url
from .test_approvals import current, make_call, submitted

CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def listed(request):
    """Four applications to one call (see test_application_lists)."""
    return request.getfixturevalue("_call_data")


def version(name):
    return db.session.scalar(sa.select(CacheVersion.version).where(CacheVersion.name == name)) or 0


def fetch(client, path):
    with StatementCounter(db.engine) as counter:
        resp = client.get(path)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True), counter.count


# --- the versions ----------------------------------------------------------------------------------


def test_a_committed_write_moves_the_version_and_a_rolled_back_one_does_not(listed):
    ann = listed["apps"]["ann"]
    before = version("casework")
    ann.statement = "Changed by the ORM"
    db.session.flush()
    assert version("casework") == before  # not before the commit: then the lock is short
    db.session.commit()
    assert version("casework") == before + 1

    db.session.execute(
        sa.update(Application).where(Application.id == ann.id).values(gpa=3.9)
    )  # a statement, not a flush
    db.session.commit()
    assert version("casework") == before + 2

    ann.statement = "Never committed"
    db.session.flush()
    db.session.rollback()
    assert version("casework") == before + 2

    catalogue = version("catalogue")
    PartnerFactory(name="Somewhere New")
    db.session.commit()
    assert version("catalogue") == catalogue + 1
    assert version("casework") == before + 2  # a partner is not casework


def test_a_savepoint_leaves_the_bump_to_the_transaction_around_it(listed):
    ann = listed["apps"]["ann"]
    before = version("casework")
    with db.session.begin_nested():
        ann.statement = "Inside a savepoint"
    assert version("casework") == before  # the row lock waits for the real commit
    db.session.commit()
    assert version("casework") == before + 1


def test_logging_in_moves_no_version_but_a_change_of_name_does(app, listed):
    from exchange.accounts.operations import log_in

    user = coordinator(name="Olga Office")
    db.session.commit()
    before = version("casework")
    with app.test_request_context():
        log_in(user, remember=False)  # writes the login time, which no kept page shows
    db.session.commit()
    assert version("casework") == before
    user.name = "Olga Officer"
    user.last_login_at = None
    db.session.commit()
    assert version("casework") == before + 1


# --- kept pages ----------------------------------------------------------------------------------


def test_a_kept_list_costs_the_login_statement_and_every_commit_shows(app, listed):
    office = client_for(app, coordinator(name="Olga Office"))
    call, ann = listed["call"], listed["apps"]["ann"]
    first, rendered = fetch(office, url(call))
    again, kept = fetch(office, url(call))
    assert kept == 1 < rendered
    assert again == first
    assert names(first) == ["Bob Baker", "Cyd Cole", "Ann Archer"]

    ann.student.name = "Ann Abbott"  # a student renames themself: the application row stays
    db.session.commit()
    assert names(fetch(office, url(call))[0]) == ["Bob Baker", "Cyd Cole", "Ann Abbott"]

    db.session.execute(
        sa.update(Application)
        .where(Application.id == ann.id)
        .values(status=ApplicationStatus.WITHDRAWN)
    )
    db.session.commit()
    html = fetch(office, url(call, status="submitted"))[0]
    assert names(html) == []
    assert "Ann Abbott" in fetch(office, url(call, status="withdrawn"))[0]
    assert "Ann Abbott" in fetch(office, url(call))[0]

    ann.student.name = "Ann Uncommitted"
    db.session.flush()
    db.session.rollback()
    html, kept = fetch(office, url(call))
    assert kept == 1 and "Ann Abbott" in html and "Uncommitted" not in html


def test_kept_pages_are_each_users_own(app, listed):
    olga = client_for(app, coordinator(name="Olga Office"))
    alan = client_for(app, admin(name="Alan Admin"))
    path = url(listed["call"])
    olga_page = fetch(olga, path)[0]
    alan_page, statements = fetch(alan, path)
    assert statements > 1  # rendered for Alan, not Olga's page
    assert 'data-testid="user-name">Olga Office<' in olga_page
    assert 'data-testid="user-name">Alan Admin<' in alan_page
    assert "Olga Office" not in alan_page


def test_a_kept_page_carries_the_csrf_token_of_the_session_that_reads_it(app, listed):
    user = coordinator(name="Olga Office")
    path = url(listed["call"])
    desk, laptop = client_for(app, user), client_for(app, user)
    desk_token = CSRF_RE.search(fetch(desk, path)[0]).group(1)
    html, statements = fetch(laptop, path)  # the desk's page, kept
    assert statements == 1
    laptop_token = CSRF_RE.search(html).group(1)
    assert "csrf-" not in html  # no placeholder left
    assert laptop_token != desk_token
    # The token on the kept page is good for the laptop's session: logging out works.
    resp = laptop.post("/logout", data={"csrf_token": laptop_token})
    assert resp.status_code == 302
    assert laptop.get(path).status_code == 302  # to the login page
    assert desk.get(path).status_code == 200


def test_a_page_with_a_flashed_message_is_not_kept(app, listed):
    office = client_for(app, coordinator())
    path = url(listed["call"])
    with office.session_transaction() as session:
        session["_flashes"] = [("success", "Saved just now.")]
    assert "Saved just now." in fetch(office, path)[0]
    html, statements = fetch(office, path)
    assert "Saved just now." not in html and statements > 1  # rendered afresh
    assert fetch(office, path)[1] == 1  # and kept from then on


def test_the_queue_and_its_badge_follow_a_decision_made_by_someone_else(app):
    unit = UnitFactory()
    call = make_call()
    first, second = submitted(call, unit, name="Sam First"), submitted(call, unit, name="Sue Next")
    ada, ben = advisor(unit, name="Ada Advisor"), advisor(unit, name="Ben Advisor")
    ada_client = client_for(app, ada)
    html = fetch(ada_client, "/approvals/")[0]
    assert "Sam First" in html and "Sue Next" in html
    assert re.search(r'data-testid="approvals-waiting">2<', html)
    assert fetch(ada_client, "/approvals/")[1] == 1

    ops.decide_step(current(first), Decision.APPROVE, "Fine.", actor=ben)
    db.session.commit()
    html = fetch(ada_client, "/approvals/")[0]
    assert "Sam First" not in html and "Sue Next" in html
    assert re.search(r'data-testid="approvals-waiting">1<', html)
    assert second.id  # still waiting on Ada


def test_a_deactivated_user_is_not_served_a_kept_page(app, listed):
    user = coordinator()
    office = client_for(app, user)
    path = url(listed["call"])
    fetch(office, path)
    db.session.get(User, user.id).active = False
    db.session.commit()
    assert office.get(path).status_code == 302


# --- time --------------------------------------------------------------------------------------


def test_a_queue_page_stops_being_kept_before_any_of_its_day_figures_turns():
    rng = random.Random(7)
    now = datetime(2027, 3, 1, 10, 17, 3, tzinfo=UTC)
    rows = []
    for _ in range(40):
        activated = now - timedelta(seconds=rng.randrange(1, 20 * 86400))
        due = activated + timedelta(days=rng.choice([1, 3, 7, 14]))
        row = SimpleNamespace(activated_at=activated, due_at=due)
        row.waiting_days, row.due_days = _days(row, now)
        rows.append(row)
    until = changes_at(rows, now)
    assert now < until <= datetime(2027, 3, 2, tzinfo=UTC)  # at the latest, the day's end
    step = (until - now) / 50
    for i in range(50):  # every figure stays as shown until then
        moment = now + step * i
        assert all(_days(row, moment) == (row.waiting_days, row.due_days) for row in rows)
    # and one of them (or the day) turns soon after
    later = until + timedelta(seconds=1)
    assert until.date() != now.date() or any(
        _days(row, later) != (row.waiting_days, row.due_days) for row in rows
    )


def test_the_page_cache_keeps_to_its_budget_and_drops_expired_pages():
    cache = PageCache()
    for key in "abcd":
        cache.put(key, key * 240, expires=200, budget=1000)
    assert cache.get("a", now=50) == "a" * 240  # "a" is now the most recently used
    cache.put("e", "e" * 240, expires=100, budget=1000)  # over budget: the oldest, "b", goes
    assert cache.get("b", now=50) is None
    assert [cache.get(key, now=50) is not None for key in "acde"] == [True] * 4
    assert cache.get("e", now=100) is None  # expired
    cache.put("huge", "h" * 300, expires=200, budget=1000)  # over a quarter: not kept
    assert cache.get("huge", now=50) is None


def test_a_user_without_a_language_of_their_own_gets_the_page_in_the_browsers(app, listed):
    user = coordinator(locale=None)
    office = client_for(app, user)
    path = url(listed["call"])
    chinese = office.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    english = office.get(path, headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="zh-Hans-CN">' in chinese.get_data(as_text=True)
    assert '<html lang="en">' in english.get_data(as_text=True)
