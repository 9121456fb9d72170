"""No page is kept: every committed change shows on the very next page, and the in-process
caches that remain (core.cache) read no table they do not declare."""

import re

import pytest
import sqlalchemy as sa

from exchange.accounts.models import User
from exchange.applications.models import Application, ApplicationStatus
from exchange.approvals import operations as ops
from exchange.approvals.models import Decision
from exchange.core import cache
from exchange.extensions import db

from .conftest import client_for
from .factories import UnitFactory, admin, advisor, coordinator, student
from .statements import StatementCounter
from .test_application_lists import call_data as _call_data  # noqa: F401 - a fixture
from .test_application_lists import names, url
from .test_approvals import current, make_call, submitted

CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def listed(request):
    """Four applications to one call (see test_application_lists)."""
    return request.getfixturevalue("_call_data")


def fetch(client, path):
    """The page and its statements (not the tests' own SAVEPOINTs, begun after a commit)."""
    with StatementCounter(db.engine) as counter:
        resp = client.get(path)
    assert resp.status_code == 200, resp.status_code
    statements = [s for s in counter.statements if not s.startswith("SAVEPOINT")]
    return resp.get_data(as_text=True), len(statements)


# --- every change on the next page ---------------------------------------------------------------


def test_every_commit_shows_on_the_next_page_and_a_rolled_back_one_does_not(app, listed):
    office = client_for(app, coordinator(name="Olga Office"))
    call, ann = listed["call"], listed["apps"]["ann"]
    first, rendered = fetch(office, url(call))
    again, same = fetch(office, url(call))
    assert same == rendered  # rendered afresh, in as many statements
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
    html = fetch(office, url(call))[0]
    assert "Ann Abbott" in html and "Uncommitted" not in html


def test_pages_are_each_users_own(app, listed):
    olga = client_for(app, coordinator(name="Olga Office"))
    alan = client_for(app, admin(name="Alan Admin"))
    path = url(listed["call"])
    olga_page = fetch(olga, path)[0]
    alan_page = fetch(alan, path)[0]
    assert 'data-testid="user-name">Olga Office<' in olga_page
    assert 'data-testid="user-name">Alan Admin<' in alan_page
    assert "Olga Office" not in alan_page


def test_each_session_gets_its_own_working_csrf_token(app, listed):
    user = coordinator(name="Olga Office")
    path = url(listed["call"])
    desk, laptop = client_for(app, user), client_for(app, user)
    desk_token = CSRF_RE.search(fetch(desk, path)[0]).group(1)
    html = fetch(laptop, path)[0]
    laptop_token = CSRF_RE.search(html).group(1)
    assert laptop_token != desk_token
    # The laptop's token is good for the laptop's session: logging out works.
    resp = laptop.post("/logout", data={"csrf_token": laptop_token})
    assert resp.status_code == 302
    assert laptop.get(path).status_code == 302  # to the login page
    assert desk.get(path).status_code == 200


def test_a_flashed_message_shows_once(app, listed):
    office = client_for(app, coordinator())
    path = url(listed["call"])
    with office.session_transaction() as session:
        session["_flashes"] = [("success", "Saved just now.")]
    assert "Saved just now." in fetch(office, path)[0]
    assert "Saved just now." not in fetch(office, path)[0]


def test_the_queue_and_its_badge_follow_a_decision_made_by_someone_else(app):
    unit = UnitFactory()
    call = make_call()
    first, second = submitted(call, unit, name="Sam First"), submitted(call, unit, name="Sue Next")
    ada, ben = advisor(unit, name="Ada Advisor"), advisor(unit, name="Ben Advisor")
    ada_client = client_for(app, ada)
    html = fetch(ada_client, "/approvals/")[0]
    assert "Sam First" in html and "Sue Next" in html
    assert re.search(r'data-testid="approvals-waiting">2<', html)

    ops.decide_step(current(first), Decision.APPROVE, "Fine.", actor=ben)
    db.session.commit()
    html = fetch(ada_client, "/approvals/")[0]
    assert "Sam First" not in html and "Sue Next" in html
    assert re.search(r'data-testid="approvals-waiting">1<', html)
    assert second.id  # still waiting on Ada


def test_a_deactivated_user_is_logged_out_at_the_next_page(app, listed):
    user = coordinator()
    office = client_for(app, user)
    path = url(listed["call"])
    fetch(office, path)
    db.session.get(User, user.id).active = False
    db.session.commit()
    assert office.get(path).status_code == 302


def test_a_user_without_a_language_of_their_own_gets_the_page_in_the_browsers(app, listed):
    user = coordinator(locale=None)
    office = client_for(app, user)
    path = url(listed["call"])
    chinese = office.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    english = office.get(path, headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="zh-Hans-CN">' in chinese.get_data(as_text=True)
    assert '<html lang="en">' in english.get_data(as_text=True)


def test_a_change_to_the_user_shows_on_their_next_page(app, listed):
    from exchange.accounts.models import Role, UserRole

    user = coordinator(name="Olga Office")
    office = client_for(app, user)
    path = url(listed["call"])
    html, statements = fetch(office, path)
    assert 'data-testid="user-name">Olga Office<' in html
    db.session.get(User, user.id).name = "Olga Officer"
    db.session.commit()
    html, again = fetch(office, path)
    assert 'data-testid="user-name">Olga Officer<' in html
    assert again == statements  # the user comes with the login statement, not on its own
    db.session.execute(sa.delete(UserRole).where(UserRole.user_id == user.id))
    db.session.add(UserRole(user_id=user.id, role=Role.STUDENT))
    db.session.commit()
    assert office.get(path).status_code == 403


# --- what the caches depend on -------------------------------------------------------------------


def test_every_cache_is_declared_and_reads_no_table_it_does_not_declare(app, listed):
    """Pages are rendered with every cache emptied; any statement run while a cache computes
    a value must read only tables that cache declares (core.cache.TABLES). Every table is then
    either declared there or read by no cache."""
    assert set(cache.CACHES) == set(cache.TABLES)
    known = set(db.metadata.tables)
    for name, tables in cache.TABLES.items():
        assert tables <= known, name
    unit = UnitFactory()
    call = make_call()
    application = submitted(call, unit, name="Sam First")
    approver = advisor(unit, name="Ada Advisor")
    pupil = student(unit, name="Stu Dent")
    db.session.commit()
    read = {name: set() for name in cache.CACHES}

    def note(_conn, _cursor, statement, *_args, **_kwargs):
        name = cache.computing.get()
        if name is not None:
            read[name].update(t for t in known if re.search(rf"\b{t}\b", statement))

    for each in cache.CACHES.values():
        each.clear()
    visits = [
        (coordinator(), [url(listed["call"]), "/catalogue/", f"/applications/{application.id}"]),
        (approver, ["/approvals/", f"/applications/{application.id}"]),
        (pupil, ["/home", "/catalogue/?eligible=1"]),
    ]
    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        for user, paths in visits:
            client = client_for(app, user)
            for path in paths:
                assert client.get(path).status_code == 200, path
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    for name, tables in read.items():
        assert tables <= cache.TABLES[name], (name, tables - cache.TABLES[name])
    assert any(each._data for each in cache.CACHES.values())  # the caches were exercised
