"""Offers and upgrades (issue 15, items 5, 6 and 8): the committed allocation's offers with
their deadline, accept and decline, expiry by the beat, reminders once per threshold, the
upgrade chain, opting out, and clear refusals that write nothing."""

import functools
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError, OperationalError

from exchange.accounts.models import DegreeLevel
from exchange.applications import operations as application_ops
from exchange.applications.models import Application, ApplicationEvent, ApplicationStatus
from exchange.calls.models import Call, CallOffering
from exchange.core.database import utcnow
from exchange.core.errors import DomainError, NotAllowed
from exchange.extensions import db
from exchange.mail.models import OutboxMail
from exchange.notifications.models import Notification, Reminder
from exchange.notifications.offer_notices import offer_reminders
from exchange.selection import offers, upgrades
from exchange.selection import operations as selection_ops
from exchange.selection.allocation import commit_allocation
from exchange.selection.models import OfferingFill, OfferStatus, SelectionOffer
from exchange.selection.publication import publish
from worker.celery_app import beat_schedule
from worker.tasks import run_offers

from .conftest import client_for, csrf_token
from .factories import coordinator
from .test_selection import _approved, _closed_call, _offering

P = ApplicationStatus


@pytest.fixture
def offered(app):
    """Tokyo 2 places, Lyon 1; five students wanting Tokyo then Lyon, best first: after the
    allocation 0 and 1 hold Tokyo, 2 holds Lyon (its second choice), 3 and 4 wait."""
    call = _closed_call()
    tokyo, lyon = _offering(call, "Tokyo", 2), _offering(call, "Lyon", 1)
    gpas = ["3.90", "3.70", "3.50", "3.30", "3.10"]
    apps = [_approved(call, [tokyo, lyon], gpa, minutes=i) for i, gpa in enumerate(gpas)]
    offers.set_offer_days(call, 5, actor=None)
    _allocate_and_publish(call, actor=coordinator(), seed=1)
    db.session.commit()
    return call, tokyo, lyon, apps


def _allocate_and_publish(call, *, actor, seed):
    """Offers open when the result is published (students are told then)."""
    commit_allocation(call, actor=actor, seed=seed)
    publish(call, actor=actor)


def _state(app_):
    application = db.session.get(Application, app_.id)
    db.session.refresh(application)
    offer = offers.holding_offer(app_.id)
    return application.status, offer.offering_id if offer else None


def _fill(offering):
    return db.session.get(OfferingFill, offering.id, populate_existing=True).filled


def _kinds(app_):
    return set(
        db.session.scalars(
            sa.select(Notification.kind).where(Notification.user_id == app_.student_id)
        )
    )


def _events(app_):
    return db.session.scalars(
        sa.select(ApplicationEvent.action)
        .where(ApplicationEvent.application_id == app_.id)
        .order_by(ApplicationEvent.id)
    ).all()


def test_the_committed_allocation_offers_each_placed_student_a_place_with_a_deadline(offered):
    _call, tokyo, lyon, apps = offered
    offer = offers.holding_offer(apps[0].id)
    assert offer.status is OfferStatus.OPEN and offer.choice_rank == 1
    assert timedelta(days=4, hours=23) < offer.expires_at - utcnow() <= timedelta(days=5)
    assert offers.holding_offer(apps[2].id).choice_rank == 2
    assert offers.holding_offer(apps[3].id) is None
    assert (_fill(tokyo), _fill(lyon)) == (2, 1)


def test_accept_records_the_timeline_and_notifies_and_a_double_click_is_told(offered):
    _call, _tokyo, _lyon, apps = offered
    student = apps[0].student
    offers.accept_offer(apps[0], actor=student, now=utcnow())
    db.session.commit()
    assert _state(apps[0])[0] is P.ACCEPTED
    assert _events(apps[0])[-1] == "offer_accepted"
    assert "offer.accepted" in _kinds(apps[0])
    with pytest.raises(DomainError, match="already accepted"):
        offers.accept_offer(apps[0], actor=student, now=utcnow())
    db.session.rollback()
    assert _events(apps[0]).count("offer_accepted") == 1
    with pytest.raises(NotAllowed):
        offers.accept_offer(apps[1], actor=student, now=utcnow())


def test_a_decline_runs_the_upgrade_chain_until_it_is_stable(offered):
    _call, tokyo, lyon, apps = offered
    offers.decline_offer(apps[0], actor=apps[0].student, now=utcnow())
    db.session.commit()
    # Tokyo freed: student 2 ranked it above Lyon and moves up; Lyon freed goes to student 3.
    assert _state(apps[0]) == (P.DECLINED, None)
    assert _state(apps[2]) == (P.PLACED, tokyo.id)
    assert _state(apps[3]) == (P.PLACED, lyon.id)
    assert _state(apps[4]) == (P.WAITLISTED, None)
    assert (_fill(tokyo), _fill(lyon)) == (2, 1)
    assert offers.holding_offer(apps[2].id).upgrade is True
    assert "offer.upgraded" in _kinds(apps[2]) and "offer.upgraded" in _kinds(apps[3])
    assert "offer.declined" in _kinds(apps[0])
    assert _events(apps[2])[-1] == "offer_upgraded"
    with pytest.raises(DomainError, match="already declined"):
        offers.decline_offer(apps[0], actor=apps[0].student, now=utcnow())
    db.session.rollback()
    assert (_fill(tokyo), _fill(lyon)) == (2, 1)


def test_an_accepted_place_is_upgraded_unless_the_student_keeps_it(offered):
    _call, tokyo, lyon, apps = offered
    offers.accept_offer(apps[2], actor=apps[2].student, now=utcnow())
    offers.keep_place(apps[2], True, actor=apps[2].student)
    db.session.commit()
    offers.decline_offer(apps[0], actor=apps[0].student, now=utcnow())
    db.session.commit()
    assert _state(apps[2]) == (P.ACCEPTED, lyon.id)  # kept: Tokyo went to the next
    assert _state(apps[3]) == (P.PLACED, tokyo.id)
    offers.keep_place(apps[2], False, actor=apps[2].student)
    offers.decline_offer(apps[1], actor=apps[1].student, now=utcnow())
    db.session.commit()
    # Back in: the accepted Lyon place becomes an accepted Tokyo place; Lyon goes to 4.
    assert _state(apps[2]) == (P.ACCEPTED, tokyo.id)
    assert _state(apps[4]) == (P.PLACED, lyon.id)
    assert (_fill(tokyo), _fill(lyon)) == (2, 1)
    with pytest.raises(DomainError, match="accepted place"):
        offers.keep_place(apps[4], True, actor=apps[4].student)


def test_the_beat_expires_unanswered_offers_and_an_accept_after_expiry_is_refused(offered):
    _call, tokyo, _lyon, apps = offered
    offers.accept_offer(apps[1], actor=apps[1].student, now=utcnow())
    db.session.commit()
    later = utcnow() + timedelta(days=6)
    with pytest.raises(DomainError, match="expired"):
        offers.accept_offer(apps[0], actor=apps[0].student, now=later)  # before the beat ran
    db.session.rollback()
    assert _state(apps[0]) == (P.PLACED, tokyo.id)
    assert offers.expire_offers(later) == 2  # students 0 and 2; the upgrades' offers are new
    db.session.commit()
    assert _state(apps[0]) == (P.DECLINED, None)
    assert offers.latest_offer(apps[0].id).status is OfferStatus.EXPIRED
    assert _state(apps[1]) == (P.ACCEPTED, tokyo.id)
    assert _events(apps[0])[-1] == "offer_expired" and "offer.expired" in _kinds(apps[0])
    assert {_state(a)[0] for a in apps[3:]} == {P.PLACED}
    with pytest.raises(DomainError, match="expired"):
        offers.accept_offer(apps[0], actor=apps[0].student, now=later)
    db.session.rollback()
    assert offers.expire_offers(later) == 0


def test_reminders_before_expiry_go_once_per_threshold(app, offered):
    _call, _tokyo, _lyon, apps = offered
    expires = offers.holding_offer(apps[0].id).expires_at
    assert offer_reminders(expires - timedelta(days=4)) == 0
    assert offer_reminders(expires - timedelta(days=2)) == 3  # the 3-day reminder, 3 offers
    assert offer_reminders(expires - timedelta(days=2)) == 0
    assert offer_reminders(expires - timedelta(hours=12)) == 3  # the 1-day reminder
    assert offer_reminders(expires - timedelta(hours=6)) == 0
    db.session.commit()
    kinds = db.session.scalars(
        sa.select(Reminder.kind).where(Reminder.recipient_id == apps[0].student_id)
    ).all()
    assert sorted(kinds) == ["offer_expiring_1d", "offer_expiring_3d"]


def test_committing_again_once_offers_are_out_is_refused_and_writes_nothing(offered):
    """Offers open at publication, and a published result is not allocated again."""
    call, tokyo, _lyon, apps = offered
    offers.accept_offer(apps[0], actor=apps[0].student, now=utcnow())
    db.session.commit()
    with pytest.raises(DomainError, match="published"):
        commit_allocation(call, actor=None, seed=2)
    db.session.rollback()
    assert _state(apps[0]) == (P.ACCEPTED, tokyo.id)
    assert _fill(tokyo) == 2


def test_the_database_refuses_a_fill_over_the_places(offered):
    _call, tokyo, _lyon, _apps = offered
    assert upgrades.take_place(tokyo.id) is False  # full: the conditional update
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(
                sa.update(OfferingFill)
                .where(OfferingFill.offering_id == tokyo.id)
                .values(filled=OfferingFill.places + 1)
            )


def test_offer_days_are_checked(offered):
    call, *_ = offered
    with pytest.raises(DomainError, match="1 to 90"):
        offers.set_offer_days(call, 0, actor=None)


def test_the_student_answers_on_the_result_page(app, offered):
    _call, _tokyo, _lyon, apps = offered
    client = client_for(app, apps[0].student)
    page = f"/applications/{apps[0].id}/selection"
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="accept-offer"' in html
    token = csrf_token(client, page)
    first = client.post(page + "/accept", data={"csrf_token": token}, follow_redirects=True)
    assert "You accepted the place." in first.get_data(as_text=True)
    again = client.post(page + "/accept", data={"csrf_token": token}, follow_redirects=True)
    assert "You have already accepted this place." in again.get_data(as_text=True)
    assert _events(apps[0]).count("offer_accepted") == 1
    other = client_for(app, apps[1].student)
    other_token = csrf_token(other, f"/applications/{apps[1].id}/selection")
    assert other.post(page + "/decline", data={"csrf_token": other_token}).status_code == 404


# --- concurrent answers on one offering ---------------------------------------------------------


def _answer(app_, application_id, action, barrier, outcomes, retry=False):
    """One student's answer in a thread of its own, after the barrier; with `retry`, run again
    when PostgreSQL breaks a deadlock (as the page does)."""
    with app_.app_context():
        try:
            application = db.session.get(Application, application_id)
            student = application.student
            barrier.wait(timeout=60)
            operation = getattr(offers, f"{action}_offer")
            answer = functools.partial(operation, application, actor=student, now=utcnow())
            if retry:
                offers.retrying(answer)
            else:
                answer()
            db.session.commit()
            outcomes[application_id] = action
        except DomainError as exc:
            db.session.rollback()
            outcomes[application_id] = f"refused: {exc.message}"
        except Exception as exc:  # anything else is a failure of the test
            db.session.rollback()
            outcomes[application_id] = f"error: {type(exc).__name__}: {exc}"
        finally:
            db.session.remove()


@pytest.mark.committed(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 50, "max_overflow": 5})
def test_fifty_accepts_and_declines_at_once_never_overfill(committed_app):
    """Real transactions, each thread its own connection (PostgreSQL when TEST_DATABASE_URL
    names it, else SQLite): 20 holders of one offering's 20 places accept or decline while 30
    waitlisted students try to accept, all at once. Every decline's place goes to one
    waitlisted student; nobody holds two places; the offering never holds more than 20."""
    app_ = committed_app
    with app_.app_context():
        call = _closed_call()
        tokyo = _offering(call, "Tokyo", 20)
        apps = [_approved(call, [tokyo], f"{3.99 - i * 0.01:.2f}", minutes=i) for i in range(50)]
        _allocate_and_publish(call, actor=None, seed=5)
        db.session.commit()
        ids, tokyo_id = [a.id for a in apps], tokyo.id
        db.session.remove()
    actions = ["accept" if i % 2 == 0 else "decline" for i in range(20)] + ["accept"] * 30
    barrier, outcomes = threading.Barrier(50), {}
    threads = [
        threading.Thread(target=_answer, args=(app_, i, a, barrier, outcomes))
        for i, a in zip(ids, actions, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    errors = [o for o in outcomes.values() if o.startswith("error")]
    assert len(outcomes) == 50 and not errors, errors
    with app_.app_context():
        rows = db.session.execute(
            sa.select(Application.id, Application.status, Application.placed_offering_id).where(
                Application.id.in_(ids)
            )
        ).all()
        holding = dict(
            db.session.execute(
                sa.select(SelectionOffer.application_id, SelectionOffer.status).where(
                    SelectionOffer.status.in_((OfferStatus.OPEN, OfferStatus.ACCEPTED))
                )
            ).all()
        )
        fill = db.session.get(OfferingFill, tokyo_id).filled
        db.session.remove()
    status = {i: s for i, s, _o in rows}
    holders = [i for i, s, o in rows if s in (P.PLACED, P.ACCEPTED) and o == tokyo_id]
    assert fill == len(holders) == len(holding) == 20  # ten declines, ten upgrades
    assert set(holding) == set(holders)
    for i in ids:  # each student in exactly one state, offer and application agreeing
        assert status[i] in (P.ACCEPTED, P.PLACED, P.DECLINED, P.WAITLISTED)
        expected = {P.ACCEPTED: OfferStatus.ACCEPTED, P.PLACED: OfferStatus.OPEN}.get(status[i])
        assert holding.get(i) is expected
    assert sum(s is P.DECLINED for s in status.values()) == 10
    declined_ids = {i for i, a in zip(ids, actions, strict=True) if a == "decline"}
    assert {i for i in ids if status[i] is P.DECLINED} == declined_ids


# --- property: nobody is left wanting a free place they were entitled to -------------------------


def _entitled_to_free_place(call, offerings):
    """(student application, offering) pairs where the offering has a free place and the
    student ranked it above what they hold (or holds nothing and is waitlisted), without
    having opted out: what the upgrade chain must leave empty."""
    found = []
    fills = {o.id: db.session.get(OfferingFill, o.id, populate_existing=True) for o in offerings}
    applications = db.session.scalars(
        sa.select(Application)
        .where(Application.call_id == call.id)
        .execution_options(populate_existing=True)
    ).all()
    for application in applications:
        held = offers.holding_offer(application.id)
        if application.status is P.WAITLISTED:
            above = {c.offering_id for c in application.choices}
        elif held is not None and not held.no_upgrades:
            above = {c.offering_id for c in application.choices if c.rank < held.choice_rank}
        else:
            continue
        found += [(application.id, o) for o in above if fills[o].filled < fills[o].places]
    return found


def _capacity_holds(offerings):
    for o in offerings:
        fill = db.session.get(OfferingFill, o.id, populate_existing=True)
        holders = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SelectionOffer)
            .where(
                SelectionOffer.offering_id == o.id,
                SelectionOffer.status.in_((OfferStatus.OPEN, OfferStatus.ACCEPTED)),
            )
        )
        assert fill.filled == holders <= o.places


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    places=st.lists(st.integers(0, 3), min_size=2, max_size=4),
    wishes=st.lists(
        st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True), min_size=2, max_size=8
    ),
    moves=st.lists(
        st.tuples(st.sampled_from(["accept", "keep", "decline"]), st.integers(0, 7)), max_size=12
    ),
)
def test_after_any_declines_and_upgrades_no_student_wants_a_free_place_they_are_due(
    app, places, wishes, moves
):
    call = _closed_call()
    offerings = [_offering(call, f"Uni {i}", n) for i, n in enumerate(places)]
    apps = [
        _approved(
            call,
            [offerings[w % len(offerings)] for w in dict.fromkeys(w % len(offerings) for w in ws)],
            f"{3.9 - i * 0.1:.2f}",
            minutes=i,
        )
        for i, ws in enumerate(wishes)
    ]
    _allocate_and_publish(call, actor=None, seed=3)
    db.session.commit()
    assert _entitled_to_free_place(call, offerings) == []
    for action, who in moves:
        application = db.session.get(Application, apps[who % len(apps)].id)
        try:
            if action == "keep":
                offers.keep_place(application, True, actor=application.student)
            else:
                getattr(offers, f"{action}_offer")(
                    application, actor=application.student, now=utcnow()
                )
            db.session.commit()
        except DomainError:
            db.session.rollback()
        _capacity_holds(offerings)
        assert _entitled_to_free_place(call, offerings) == []


def test_the_beat_task_expires_and_reminds_and_the_mails_are_written(app, offered):
    _call, tokyo, _lyon, apps = offered
    assert beat_schedule()["offers"]["task"] == "exchange.selection.offers"
    db.session.execute(  # student 0's offer ends in an hour, student 1's is past its deadline
        sa.update(SelectionOffer)
        .where(SelectionOffer.application_id.in_([apps[0].id, apps[1].id]))
        .values(
            expires_at=sa.case(
                (SelectionOffer.application_id == apps[0].id, utcnow() + timedelta(hours=1)),
                else_=utcnow() - timedelta(minutes=1),
            )
        )
    )
    db.session.commit()
    assert run_offers.run() == {"expired": 1, "reminded": 1}
    assert _state(apps[1]) == (P.DECLINED, None)
    assert _state(apps[2]) == (P.PLACED, tokyo.id)  # the chain ran in the task
    subjects = db.session.scalars(
        sa.select(OutboxMail.subject).where(OutboxMail.recipient_id == apps[0].student_id)
    ).all()
    assert any("Reminder: answer your offered place at Tokyo" in s for s in subjects)
    upgraded = db.session.scalars(
        sa.select(OutboxMail.subject).where(OutboxMail.recipient_id == apps[2].student_id)
    ).all()
    assert any("a higher choice, is yours" in s for s in upgraded)


def test_the_coordinator_sets_the_days_to_answer(app, offered):
    call, *_ = offered
    office = coordinator()
    client = client_for(app, office)
    page = f"/calls/{call.id}/selection"
    assert 'data-testid="offer-days-form"' in client.get(page).get_data(as_text=True)
    token = csrf_token(client, page)
    done = client.post(
        page + "/offer-days", data={"csrf_token": token, "days": "10"}, follow_redirects=True
    )
    assert "Days to answer an offer saved." in done.get_data(as_text=True)
    assert offers.offer_days(call.id) == 10
    refused = client.post(
        page + "/offer-days", data={"csrf_token": token, "days": "400"}, follow_redirects=True
    )
    assert "from 1 to 90 days" in refused.get_data(as_text=True)
    assert offers.offer_days(call.id) == 10


def test_a_withdrawal_frees_the_place_for_the_chain(offered):
    _call, tokyo, lyon, apps = offered
    application_ops.withdraw_application(apps[0], "A scholarship elsewhere.", actor=apps[0].student)
    db.session.commit()
    assert _state(apps[0]) == (P.WITHDRAWN, None)
    assert offers.latest_offer(apps[0].id).status is OfferStatus.WITHDRAWN
    assert _state(apps[2]) == (P.PLACED, tokyo.id)
    assert _state(apps[3]) == (P.PLACED, lyon.id)
    assert (_fill(tokyo), _fill(lyon)) == (2, 1)


def test_upgrades_keep_to_the_offerings_quotas(app):
    call = _closed_call()
    tokyo, lyon = _offering(call, "Tokyo", 2), _offering(call, "Lyon", 1)
    gpas = ["3.90", "3.70", "3.50", "3.30", "3.10"]
    apps = [_approved(call, [tokyo, lyon], gpa, minutes=i) for i, gpa in enumerate(gpas)]
    for application in apps[:2]:
        application.student.profile.degree_level = DegreeLevel.MASTER
    db.session.commit()
    selection_ops.set_quota(tokyo, 1, degree_level=DegreeLevel.MASTER, actor=None)
    _allocate_and_publish(call, actor=None, seed=1)
    db.session.commit()
    assert _state(apps[1]) == (P.PLACED, lyon.id)  # the masters' one Tokyo place is taken
    offers.decline_offer(apps[2], actor=apps[2].student, now=utcnow())
    db.session.commit()
    assert _state(apps[1]) == (P.PLACED, lyon.id)  # still over the quota: passed over
    assert _state(apps[3]) == (P.PLACED, tokyo.id)


@pytest.mark.committed(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 40, "max_overflow": 5})
def test_crossing_upgrade_chains_at_once_keep_capacity_and_leave_nobody_due(committed_app):
    """Two offerings ranked in opposite orders by half the students each: declines on both at
    once start upgrade chains that cross (a deadlock PostgreSQL breaks is run again). After
    the storm: fills match the holders, within the places, and no free place is left that a
    student is due."""
    app_ = committed_app
    with app_.app_context():
        call = _closed_call()
        north, south = _offering(call, "North", 8), _offering(call, "South", 8)
        apps = [
            _approved(
                call,
                [north, south] if i % 2 == 0 else [south, north],
                f"{3.99 - i * 0.01:.2f}",
                minutes=i,
            )
            for i in range(40)
        ]
        _allocate_and_publish(call, actor=None, seed=9)
        db.session.commit()
        holders = [a.id for a in apps if a.status in (P.PLACED,)]
        waiting = [a.id for a in apps if a.id not in holders]
        call_id, offering_ids = call.id, (north.id, south.id)
        db.session.remove()
    jobs = [(i, "decline" if n % 2 else "accept") for n, i in enumerate(holders)]
    jobs += [(i, "accept") for i in waiting]
    barrier, outcomes = threading.Barrier(len(jobs)), {}
    threads = [
        threading.Thread(target=_answer, args=(app_, i, a, barrier, outcomes, True))
        for i, a in jobs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    errors = [o for o in outcomes.values() if o.startswith("error")]
    assert len(outcomes) == len(jobs) and not errors, errors
    with app_.app_context():
        call = db.session.get(Call, call_id)
        both = [db.session.get(CallOffering, i) for i in offering_ids]
        _capacity_holds(both)
        assert _entitled_to_free_place(call, both) == []
        declined = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Application)
            .where(Application.call_id == call_id, Application.status == P.DECLINED)
        )
        assert declined == len([j for j in jobs if j[1] == "decline"])
        db.session.remove()


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_an_answer_failed_by_a_deadlock_runs_again_and_other_errors_do_not(app):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("UPDATE offering_fills", {}, _Deadlock())
        return "done"

    assert offers.retrying(flaky) == "done" and len(calls) == 3
    calls.clear()

    def always():
        calls.append(1)
        raise OperationalError("UPDATE offering_fills", {}, _Deadlock())

    with pytest.raises(OperationalError):
        offers.retrying(always)
    assert len(calls) == offers.ATTEMPTS
    calls.clear()

    def locked():
        calls.append(1)
        raise OperationalError("UPDATE offering_fills", {}, Exception("database is locked"))

    with pytest.raises(OperationalError):
        offers.retrying(locked)
    assert len(calls) == 1


def test_offers_open_when_the_result_is_published_not_at_the_commit():
    """The days to answer count from the notice the students get, not from the commit."""
    call = _closed_call()
    tokyo = _offering(call, "Tokyo", 1)
    _approved(call, [tokyo], "3.90", minutes=0)
    commit_allocation(call, actor=coordinator(), seed=1)
    db.session.flush()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SelectionOffer)) == 0
    publish(call, actor=coordinator())
    db.session.flush()
    assert db.session.scalars(sa.select(SelectionOffer.status)).all() == [OfferStatus.OPEN]
