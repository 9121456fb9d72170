"""Calls: settings and time zones, offerings, schedule, clone, opening and closing on the beat,
the coordinator's and the student's pages."""

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from exchange.applications.models import ApplicationStatus
from exchange.calls import editing, offerings, scheduling, times
from exchange.calls.forms import CallForm
from exchange.calls.models import Call, CallOffering, CallStatus
from exchange.catalogue.models import AgreementStatus
from exchange.core.audit import AuditEvent
from exchange.core.database import utcnow
from exchange.core.errors import DomainError
from exchange.extensions import db

from .conftest import csrf_token, login
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    UserFactory,
    coordinator,
    student,
)
from .statements import StatementCounter


@pytest.fixture
def staff_client(app):
    user = coordinator()
    client = app.test_client()
    login(client, user.email)
    client.user = user
    return client


@pytest.fixture
def student_client(app):
    user = student(UnitFactory(code="CS"))
    client = app.test_client()
    login(client, user.email)
    client.user = user
    return client


def data(**changes):
    values = {
        "title": "Exchange call 2027/28",
        "academic_year": 2027,
        "timezone": "Asia/Shanghai",
        "opens_at": datetime(2027, 1, 4, 9, 0),
        "closes_at": datetime(2027, 3, 1, 17, 0),
        "decision_at": datetime(2027, 3, 15, 17, 0),
        "nomination_deadline": datetime(2027, 4, 15, 17, 0),
        "required_documents": ["transcript"],
    }
    values.update(changes)
    return editing.CallData(**values)


def problems_of(call_data):
    return {(f, str(m)) for f, m in call_data.normalised()[1]}


def audit_events(action, call_id=None):
    stmt = sa.select(AuditEvent).where(AuditEvent.action == action)
    if call_id is not None:
        stmt = stmt.where(AuditEvent.object_type == "Call", AuditEvent.object_id == str(call_id))
    return db.session.scalars(stmt.order_by(AuditEvent.id)).all()


# --- settings and time zones -----------------------------------------------------------------


def test_valid_data_has_no_problems_and_is_stored_in_utc(ctx):
    values, problems = data().normalised()
    assert problems == []
    assert values["opens_at"] == datetime(2027, 1, 4, 1, 0, tzinfo=UTC)  # Beijing is UTC+8
    assert values["closes_at"] == datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    assert values["max_choices"] == 3
    assert values["required_documents"] == "transcript"


def test_validation_messages(ctx):
    assert problems_of(data(title=" ", timezone="Mars/Olympus", max_choices=11)) >= {
        ("title", "Enter a title for the call."),
        ("timezone", "“Mars/Olympus” is not a known time zone."),
        ("max_choices", "Students may rank between 1 and 10 choices."),
    }
    assert problems_of(data(max_choices=0)) == {
        ("max_choices", "Students may rank between 1 and 10 choices.")
    }
    assert problems_of(data(academic_year="next", opens_at=None, closes_at="")) == {
        ("academic_year", "The academic year must be a whole number."),
        ("opens_at", "Enter when the call opens."),
        ("closes_at", "Enter the application deadline."),
    }
    assert problems_of(data(closes_at=datetime(2027, 1, 4, 9, 0))) == {
        ("closes_at", "The call must open before it closes.")
    }
    assert problems_of(data(decision_at=datetime(2027, 2, 28, 17, 0))) == {
        ("decision_at", "The decision date cannot come before the call closes.")
    }
    assert problems_of(data(nomination_deadline=datetime(2027, 3, 14, 17, 0))) == {
        ("nomination_deadline", "The nomination deadline cannot come before the decision date.")
    }
    assert problems_of(data(decision_at=None, nomination_deadline=datetime(2027, 2, 1, 17, 0))) == {
        ("nomination_deadline", "The nomination deadline cannot come before the call closes.")
    }
    assert problems_of(data(required_documents=["transcript", "selfie"])) == {
        ("required_documents", "“selfie” is not a kind of document.")
    }
    # Decision and nomination dates are optional; max choices defaults to 3.
    values, problems = data(decision_at=None, nomination_deadline=None, max_choices="").normalised()
    assert problems == [] and values["max_choices"] == 3


def _form_order(app):
    with app.test_request_context():
        return [f.name for f in CallForm(meta={"csrf": False})]


def test_call_form_reports_each_field_in_form_order(app, ctx):
    order = _form_order(app)
    values, problems = data(
        title="",
        academic_year="1999",
        term="winter",
        timezone="Mars/Olympus",
        opens_at="not a date",
        closes_at=None,
        nomination_deadline="soon",
        max_choices="11",
        required_documents=["cv", "horoscope"],
        approval_chain_id="first",
    ).normalised()
    fields = [name for name, _message in problems]
    assert fields == [
        "title",
        "academic_year",
        "term",
        "timezone",
        "opens_at",
        "closes_at",
        "nomination_deadline",
        "max_choices",
        "required_documents",
        "approval_chain_id",
    ]
    assert fields == sorted(fields, key=order.index)
    assert values["required_documents"] == "cv" and values["max_choices"] == 11

    # A date out of order is reported with that date, before the fields after it.
    _values, problems = data(
        closes_at=datetime(2027, 1, 1, 9, 0),
        decision_at=datetime(2026, 12, 1, 9, 0),
        nomination_deadline="soon",
    ).normalised()
    assert [(name, str(message)) for name, message in problems] == [
        ("closes_at", "The call must open before it closes."),
        ("decision_at", "The decision date cannot come before the call closes."),
        ("nomination_deadline", "Enter a date and time."),
    ]


def test_save_call_refuses_with_every_problem(ctx):
    with pytest.raises(editing.ValidationFailed) as exc:
        editing.save_call(None, data(title="", closes_at=datetime(2026, 1, 1)), actor=None)
    fields = [f for f, _m in exc.value.problems]
    assert fields == ["title", "closes_at"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Call)) == 0


def test_time_zone_conversion_follows_daylight_saving_time(ctx):
    berlin = "Europe/Berlin"
    winter, _ = times.local_to_utc(datetime(2027, 1, 15, 12, 0), berlin)
    summer, _ = times.local_to_utc(datetime(2027, 7, 15, 12, 0), berlin)
    assert winter == datetime(2027, 1, 15, 11, 0, tzinfo=UTC)  # CET, UTC+1
    assert summer == datetime(2027, 7, 15, 10, 0, tzinfo=UTC)  # CEST, UTC+2
    # 28 March 2027: 02:00 → 03:00 in Berlin; 02:30 never happens.
    shifted, oddity = times.local_to_utc(datetime(2027, 3, 28, 2, 30), berlin)
    assert oddity == "gap"
    assert times.utc_to_local(shifted, berlin) == datetime(2027, 3, 28, 3, 30)
    # 31 October 2027: 03:00 → 02:00; 02:30 happens twice, the first one counts.
    first, oddity = times.local_to_utc(datetime(2027, 10, 31, 2, 30), berlin)
    assert oddity == "ambiguous" and first == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    # New York: 14 March 2027 02:30 does not exist either.
    assert times.local_to_utc(datetime(2027, 3, 14, 2, 30), "America/New_York")[1] == "gap"


def test_a_deadline_in_the_dst_gap_is_refused_with_a_suggestion(ctx):
    problems = problems_of(
        data(
            timezone="Europe/Berlin",
            closes_at=datetime(2027, 3, 28, 2, 30),
            decision_at=None,
            nomination_deadline=None,
        )
    )
    assert problems == {
        (
            "closes_at",
            "2027-03-28 02:30 does not exist in Europe/Berlin: the clocks go forward that night. "
            "Choose another time, for example 2027-03-28 03:30.",
        )
    }
    call, _ = editing.save_call(
        None,
        data(
            timezone="Europe/Berlin",
            closes_at=datetime(2027, 3, 28, 3, 30),
            decision_at=datetime(2027, 10, 31, 2, 30),
            nomination_deadline=None,
        ),
        actor=None,
    )
    assert call.closes_at == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert call.decision_at == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_save_call_audits_a_diff(ctx):
    user = coordinator()
    call, changed = editing.save_call(None, data(), actor=user)
    db.session.commit()
    assert call.status is CallStatus.DRAFT and call.timezone == "Asia/Shanghai"
    assert changed["title"] == [None, "Exchange call 2027/28"]
    created = audit_events("call.created", call.id)
    assert len(created) == 1 and created[0].actor_id == user.id
    call, changed = editing.save_call(call, data(max_choices=5, title="Renamed"), actor=user)
    assert changed == {"title": ["Exchange call 2027/28", "Renamed"], "max_choices": [3, 5]}
    call, changed = editing.save_call(call, data(max_choices=5, title="Renamed"), actor=user)
    assert changed == {}
    db.session.commit()
    assert len(audit_events("call.updated", call.id)) == 1


def test_edits_that_would_break_applications_are_refused(ctx):
    call = CallFactory(max_choices=3)
    offering = OfferingFactory(call=call)
    other = OfferingFactory(call=call)
    ApplicationFactory(call=call, choices=[offering, other])
    local = times.utc_to_local
    base = {
        "title": call.title,
        "academic_year": call.academic_year,
        "timezone": call.timezone,
        "opens_at": local(call.opens_at, call.timezone),
        "closes_at": local(call.closes_at, call.timezone),
        "decision_at": None,
        "nomination_deadline": None,
    }
    with pytest.raises(editing.ValidationFailed) as exc:
        editing.save_call(call, editing.CallData(**{**base, "max_choices": 1}), actor=None)
    assert str(exc.value.problems[0][1]) == "Some applications already rank 2 choices."
    with pytest.raises(editing.ValidationFailed) as exc:
        editing.save_call(call, editing.CallData(**{**base, "academic_year": 2028}), actor=None)
    assert str(exc.value.problems[0][1]) == "Students have already applied for 2027/28."
    yesterday = local(utcnow() - timedelta(days=1), call.timezone)
    with pytest.raises(editing.ValidationFailed) as exc:
        editing.save_call(call, editing.CallData(**{**base, "closes_at": yesterday}), actor=None)
    assert "To end it now, use “Close now”." in str(exc.value.problems[0][1])
    # Extending the deadline of an open call is fine.
    later = local(utcnow() + timedelta(days=30), call.timezone).replace(second=0, microsecond=0)
    editing.save_call(call, editing.CallData(**{**base, "closes_at": later}), actor=None)
    assert times.utc_to_local(call.closes_at, call.timezone) == later


# --- offerings -------------------------------------------------------------------------------


def draft_call(**kwargs):
    defaults = {
        "status": CallStatus.DRAFT,
        "opens_at": utcnow() + timedelta(days=1),
        "closes_at": utcnow() + timedelta(days=30),
    }
    return CallFactory(**{**defaults, **kwargs})


def test_offerings_need_active_agreements_covering_the_year(ctx):
    call = draft_call(academic_year=2027)
    good = AgreementFactory(places_per_year=4, partner=PartnerFactory(name="Good U"))
    draft = AgreementFactory(status=AgreementStatus.DRAFT, partner=PartnerFactory(name="Draft U"))
    ended = AgreementFactory(
        status=AgreementStatus.TERMINATED, partner=PartnerFactory(name="Ended U")
    )
    old = AgreementFactory(last_academic_year=2026, partner=PartnerFactory(name="Old U"))
    with pytest.raises(editing.ValidationFailed) as exc:
        offerings.set_offerings(
            call,
            [(good.id, None), (draft.id, 1), (ended.id, 1), (old.id, 1)],
            actor=None,
        )
    messages = [str(m) for _f, m in exc.value.problems]
    assert messages == [
        f"The agreement with {name} cannot be offered: it must be active and cover 2027/28."
        for name in ("Draft U", "Ended U", "Old U")
    ]
    assert call.offerings == []
    summary = offerings.set_offerings(call, [(good.id, "")], actor=None)
    assert summary == {"added": 1, "removed": 0, "changed": 0}
    assert [(o.agreement_id, o.places) for o in call.offerings] == [(good.id, 4)]  # default
    event = audit_events("call.offerings_changed", call.id)[-1]
    assert event.details == {"added": f"Good U (bilateral, #{good.id}): 4"}


@pytest.mark.parametrize("places", ["-1", "two", "2.5", "10001"])
def test_places_must_be_a_whole_number_from_zero(ctx, places):
    call = draft_call()
    agreement = AgreementFactory(partner=PartnerFactory(name="Some U"))
    with pytest.raises(editing.ValidationFailed) as exc:
        offerings.set_offerings(call, [(agreement.id, places)], actor=None)
    assert str(exc.value.problems[0][1]) == (
        "Places for Some U must be a whole number from 0 to 10000."
    )


def test_zero_places_and_changing_places(ctx):
    call = draft_call()
    agreement = AgreementFactory()
    offerings.set_offerings(call, [(agreement.id, "0")], actor=None)
    assert call.offerings[0].places == 0
    assert offerings.set_offerings(call, [(agreement.id, 3)], actor=None)["changed"] == 1
    assert call.offerings[0].places == 3
    assert offerings.set_offerings(call, [(agreement.id, 3)], actor=None) == {
        "added": 0,
        "removed": 0,
        "changed": 0,
    }


def test_an_offering_that_students_chose_cannot_be_removed(ctx):
    call = CallFactory()
    chosen = OfferingFactory(call=call, agreement__partner__name="Chosen U")
    free = OfferingFactory(call=call)
    ApplicationFactory(call=call, choices=[chosen])
    ApplicationFactory(call=call, choices=[chosen])
    with pytest.raises(editing.ValidationFailed) as exc:
        offerings.set_offerings(call, [], actor=None)
    assert [str(m) for _f, m in exc.value.problems] == [
        "Chosen U is already ranked in 2 applications and cannot be removed. "
        "Set its places to 0 instead."
    ]
    offerings.set_offerings(call, [(chosen.agreement_id, 0)], actor=None)
    db.session.commit()
    assert [(o.id, o.places) for o in call.offerings] == [(chosen.id, 0)]
    assert free.id not in {o.id for o in call.offerings}


def test_a_filtered_form_changes_only_what_it_showed(ctx):
    call = draft_call()
    a, b, c = AgreementFactory(), AgreementFactory(), AgreementFactory()
    offerings.set_offerings(call, [(a.id, 1), (b.id, 1)], actor=None)
    # The form showed only b and c; c is ticked, b is not: a stays.
    offerings.set_offerings(call, [(c.id, 2)], actor=None, only=[b.id, c.id])
    assert sorted((o.agreement_id, o.places) for o in call.offerings) == [(a.id, 1), (c.id, 2)]


def test_offerings_are_fixed_once_allocation_starts(ctx):
    call = CallFactory(status=CallStatus.ALLOCATING)
    with pytest.raises(DomainError):
        offerings.set_offerings(call, [], actor=None)


# --- schedule, unschedule, close -------------------------------------------------------------


def test_schedule_needs_offerings_and_a_future_deadline(ctx):
    call = draft_call()
    with pytest.raises(DomainError) as exc:
        scheduling.schedule_call(call, actor=None)
    assert str(exc.value.message) == "Offer at least one agreement before scheduling the call."
    OfferingFactory(call=call)
    db.session.refresh(call)
    with pytest.raises(DomainError) as exc:
        scheduling.schedule_call(call, actor=None, now=call.closes_at)
    assert "deadline has passed" in str(exc.value.message)
    assert scheduling.schedule_call(call, actor=None) is CallStatus.SCHEDULED
    assert call.accepts_applications() is False
    assert call.accepts_applications(call.opens_at) is True
    with pytest.raises(DomainError) as exc:
        scheduling.schedule_call(call, actor=None)
    assert str(exc.value.message) == "Only a draft call can be scheduled."
    assert audit_events("call.scheduled", call.id)[0].details == {"status": ["draft", "scheduled"]}


def test_scheduling_a_call_whose_window_has_begun_opens_it(ctx):
    call = draft_call(opens_at=utcnow() - timedelta(hours=1))
    OfferingFactory(call=call)
    db.session.refresh(call)
    assert scheduling.schedule_call(call, actor=None) is CallStatus.OPEN


def test_schedule_refuses_agreements_terminated_since(ctx):
    call = draft_call()
    offering = OfferingFactory(call=call, agreement__partner__name="Gone U")
    offering.agreement.status = AgreementStatus.TERMINATED
    db.session.refresh(call)
    with pytest.raises(DomainError) as exc:
        scheduling.schedule_call(call, actor=None)
    assert "Gone U" in str(exc.value.message)


def test_unschedule_only_while_nobody_applied(ctx):
    call = CallFactory(status=CallStatus.SCHEDULED)
    scheduling.unschedule_call(call, actor=None)
    assert call.status is CallStatus.DRAFT
    with pytest.raises(DomainError):
        scheduling.unschedule_call(call, actor=None)  # already a draft
    call.status = CallStatus.OPEN
    ApplicationFactory(call=call)
    with pytest.raises(DomainError) as exc:
        scheduling.unschedule_call(call, actor=None)
    assert str(exc.value.message) == (
        "Students have already applied to this call (1 applications); it cannot go back to draft."
    )
    assert call.status is CallStatus.OPEN


def test_close_now_ends_the_window(ctx):
    call = CallFactory()
    now = utcnow()
    scheduling.close_call_now(call, actor=None, now=now)
    assert call.status is CallStatus.CLOSED and call.closes_at == now
    assert call.accepts_applications(now) is False
    with pytest.raises(DomainError):
        scheduling.close_call_now(call, actor=None)


# --- clone -----------------------------------------------------------------------------------


def test_clone_shifts_dates_by_a_year_at_the_same_local_time(ctx):
    call, _ = editing.save_call(
        None,
        data(
            title="Spring exchange 2027/28",
            timezone="Europe/Berlin",
            opens_at=datetime(2027, 3, 1, 9, 0),
            # 27 March 2027 is still winter time in Berlin; 27 March 2028 is summer time.
            closes_at=datetime(2027, 3, 27, 12, 0),
            decision_at=datetime(2027, 4, 10, 12, 0),
            nomination_deadline=None,
            max_choices=4,
            required_documents=["transcript", "cv"],
        ),
        actor=None,
    )
    keep = AgreementFactory(last_academic_year=2030, partner=PartnerFactory(name="Keep U"))
    ending = AgreementFactory(last_academic_year=2027, partner=PartnerFactory(name="Ending U"))
    offerings.set_offerings(call, [(keep.id, 5), (ending.id, 1)], actor=None)
    db.session.commit()

    user = coordinator()
    copy, skipped = scheduling.clone_call(call, actor=user)
    db.session.commit()
    assert skipped == ["Ending U"]
    assert copy.status is CallStatus.DRAFT and copy.cloned_from_id == call.id
    assert copy.title == "Spring exchange 2028/29" and copy.academic_year == 2028
    assert (copy.max_choices, copy.required_documents, copy.timezone) == (
        4,
        "transcript cv",
        "Europe/Berlin",
    )
    assert times.utc_to_local(copy.closes_at, "Europe/Berlin") == datetime(2028, 3, 27, 12, 0)
    assert call.closes_at == datetime(2027, 3, 27, 11, 0, tzinfo=UTC)  # UTC+1
    assert copy.closes_at == datetime(2028, 3, 27, 10, 0, tzinfo=UTC)  # UTC+2
    assert times.utc_to_local(copy.opens_at, "Europe/Berlin") == datetime(2028, 3, 1, 9, 0)
    assert copy.nomination_deadline is None
    assert [(o.agreement_id, o.places) for o in copy.offerings] == [(keep.id, 5)]
    event = audit_events("call.cloned", copy.id)[0]
    assert event.actor_id == user.id and event.details["left_out"] == "Ending U"
    # The original is untouched.
    assert len(call.offerings) == 2 and call.academic_year == 2027


def test_clone_titles_and_leap_days(ctx):
    assert scheduling._next_title("Main call 2027/28", 2027) == "Main call 2028/29"
    assert scheduling._next_title("Autumn 2027", 2027) == "Autumn 2028"
    assert scheduling._next_title("Main call", 2027) == "Main call (2028/29)"
    leap = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    assert times.shift_one_year(leap, "UTC") == datetime(2029, 2, 28, 9, 0, tzinfo=UTC)


# --- opening and closing by time -------------------------------------------------------------


def test_advance_calls_opens_and_closes_by_time_and_is_idempotent(ctx):
    now = utcnow()
    due = CallFactory(status=CallStatus.SCHEDULED, opens_at=now - timedelta(minutes=1))
    later = CallFactory(status=CallStatus.SCHEDULED, opens_at=now + timedelta(days=1))
    ended = CallFactory(opens_at=now - timedelta(days=9), closes_at=now - timedelta(seconds=1))
    missed = CallFactory(
        status=CallStatus.SCHEDULED,
        opens_at=now - timedelta(days=9),
        closes_at=now - timedelta(days=1),
    )
    draft = CallFactory(status=CallStatus.DRAFT, opens_at=now - timedelta(days=1))
    assert scheduling.advance_calls(now) == {"opened": 1, "closed": 2}
    db.session.commit()
    assert scheduling.advance_calls(now) == {"opened": 0, "closed": 0}
    db.session.commit()
    for call in (due, later, ended, missed, draft):
        db.session.refresh(call)
    assert due.status is CallStatus.OPEN
    assert later.status is CallStatus.SCHEDULED
    assert ended.status is CallStatus.CLOSED and missed.status is CallStatus.CLOSED
    assert draft.status is CallStatus.DRAFT
    opened = audit_events("call.opened")
    assert [(e.object_id, e.actor_id, e.details["status"]) for e in opened] == [
        (str(due.id), None, ["scheduled", "open"])
    ]
    closed = audit_events("call.closed")
    assert sorted((e.object_id, tuple(e.details["status"])) for e in closed) == sorted(
        [(str(ended.id), ("open", "closed")), (str(missed.id), ("scheduled", "closed"))]
    )
    # The closing time itself is closed: the deadline is exclusive.
    at_deadline = CallFactory(closes_at=now + timedelta(hours=1))
    assert scheduling.advance_calls(at_deadline.closes_at) == {"opened": 0, "closed": 1}


def test_the_beat_task_and_its_schedule(ctx):
    from worker.celery_app import beat_schedule
    from worker.tasks import advance_calls

    entry = beat_schedule()["advance-calls"]
    assert entry["task"] == "exchange.calls.advance"
    assert entry["schedule"] == timedelta(minutes=1)
    call_id = CallFactory(status=CallStatus.SCHEDULED, opens_at=utcnow() - timedelta(minutes=5)).id
    assert advance_calls() == {"opened": 1, "closed": 0}  # runs in its own app context
    assert db.session.get(Call, call_id).status is CallStatus.OPEN


@pytest.mark.committed
def test_two_beats_at_once_change_each_call_once(committed_app):
    app = committed_app
    now = utcnow()
    with app.app_context():
        for _ in range(5):
            CallFactory(status=CallStatus.SCHEDULED, opens_at=now - timedelta(minutes=1))
        for _ in range(5):
            CallFactory(closes_at=now - timedelta(minutes=1), opens_at=now - timedelta(days=3))
        db.session.remove()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def beat():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results.append(scheduling.advance_calls(now))
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sum(r["opened"] for r in results) == 5
    assert sum(r["closed"] for r in results) == 5
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.action.in_(["call.opened", "call.closed"])
            )
        ).all()
        assert sorted(actions) == ["call.closed"] * 5 + ["call.opened"] * 5
        db.session.remove()


# --- pages and access ------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_login(client):
    call = CallFactory()
    for url in ("/calls/", f"/calls/{call.id}", "/calls/new", f"/calls/{call.id}/offerings"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")


def test_students_get_403_on_staff_pages_and_404_on_drafts(student_client):
    call = CallFactory()
    draft = CallFactory(status=CallStatus.DRAFT)
    token = csrf_token(student_client, "/home")
    for url in ("/calls/new", f"/calls/{call.id}/edit", f"/calls/{call.id}/offerings"):
        assert student_client.get(url).status_code == 403, url
    for action in ("schedule", "unschedule", "close", "clone"):
        resp = student_client.post(f"/calls/{call.id}/{action}", data={"csrf_token": token})
        assert resp.status_code == 403, action
    assert student_client.get(f"/calls/{draft.id}").status_code == 404
    assert student_client.get(f"/calls/{call.id}").status_code == 200
    assert student_client.get("/calls/999999").status_code == 404
    db.session.refresh(call)
    assert call.status is CallStatus.OPEN


def test_advisors_see_open_calls_but_not_staff_pages(app):
    from exchange.accounts.models import Role

    user = UserFactory(roles=(Role.ADVISOR,), units=[UnitFactory()])
    client = app.test_client()
    login(client, user.email)
    call = CallFactory(title="Visible call")
    html = client.get("/calls/").get_data(as_text=True)
    assert "Visible call" in html
    html = client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert "Start an application" not in html
    assert client.get("/calls/new").status_code == 403


def test_student_index_lists_only_calls_accepting_applications(student_client):
    now = utcnow()
    CallFactory(
        title="Open call",
        timezone="Asia/Shanghai",
        closes_at=datetime(2099, 3, 1, 9, 0, tzinfo=UTC),
    )
    CallFactory(title="Announced call", status=CallStatus.SCHEDULED, opens_at=now + timedelta(1))
    CallFactory(title="Scheduled and begun", status=CallStatus.SCHEDULED)  # beat not run yet
    CallFactory(title="Draft call", status=CallStatus.DRAFT)
    CallFactory(
        title="Past call", closes_at=now - timedelta(minutes=1), opens_at=now - timedelta(9)
    )
    CallFactory(title="Closed call", status=CallStatus.CLOSED)
    html = student_client.get("/calls/").get_data(as_text=True)
    titles = re.findall(r'<h2 class="h5 mb-1"><a href="/calls/\d+">([^<]+)</a>', html)
    assert titles == ["Scheduled and begun", "Open call"]  # soonest deadline first
    assert "Closes Sun, Mar 1, 2099 17:00 (Asia/Shanghai, UTC+08:00)" in html


def test_student_call_page_offers_to_start_or_open_the_application(student_client):
    call = CallFactory(
        title="Apply here",
        timezone="Europe/Berlin",
        max_choices=3,
        required_documents="transcript language_certificate",
        closes_at=datetime(2099, 7, 1, 15, 0, tzinfo=UTC),
    )
    offering = OfferingFactory(
        call=call,
        places=4,
        agreement__partner__name="Host University",
        agreement__partner__country="JP",
    )
    html = student_client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert f'action="/applications/start/{call.id}"' in html
    assert 'name="csrf_token"' in html and "Start an application" in html
    assert "Host University" in html and "Japan" in html
    assert f'href="/catalogue/partners/{offering.agreement.partner_id}"' in html
    assert "Transcript of records" in html and "Language certificate" in html
    assert "Up to 3 partners, ranked" in html
    assert "Wed, Jul 1, 2099 17:00" in html and "Europe/Berlin (UTC+02:00)" in html
    # The student's own zone (Asia/Shanghai by default) is shown beside the call's.
    assert "In your time zone (Asia/Shanghai) the deadline is Wed, Jul 1, 2099 23:00." in html

    application = ApplicationFactory(call=call, student=student_client.user)
    html = student_client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert "Start an application" not in html
    assert f'href="/applications/{application.id}"' in html

    call.closes_at = utcnow() - timedelta(minutes=1)
    db.session.delete(application)
    db.session.commit()
    html = student_client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert "Start an application" not in html
    assert "This call no longer accepts applications." in html


def test_staff_index_shows_every_call_with_counts(staff_client):
    call = CallFactory(title="Counted call")
    offerings = [OfferingFactory(call=call, places=3) for _ in range(2)]
    ApplicationFactory(call=call, choices=[offerings[0]])
    ApplicationFactory(call=call, status=ApplicationStatus.SUBMITTED)
    ApplicationFactory(call=call, status=ApplicationStatus.SUBMITTED)
    CallFactory(title="Draft one", status=CallStatus.DRAFT)
    html = staff_client.get("/calls/").get_data(as_text=True)
    assert "Counted call" in html and "Draft one" in html
    row = html[html.index("Counted call") :].split("</tr>")[0]
    assert "6 places" in row and ">3</span>" in row
    assert "Draft 1" in row and "Submitted 2" in row


def test_staff_call_page_has_the_actions(staff_client, app):
    call = CallFactory(status=CallStatus.DRAFT)
    html = staff_client.get(f"/calls/{call.id}").get_data(as_text=True)
    for action in ("edit", "offerings", "schedule", "clone"):
        assert f"/calls/{call.id}/{action}" in html, action
    assert "Start an application" not in html
    # The applications list is linked once its blueprint has the endpoint.
    if "application_lists.index" in app.view_functions:
        with app.test_request_context():
            from flask import url_for

            assert url_for("application_lists.index", call_id=call.id) in html


def test_index_statement_count_does_not_grow_with_calls(staff_client, student_client):
    def make(n):
        for _ in range(n):
            call = CallFactory()
            offering = OfferingFactory(call=call)
            ApplicationFactory(call=call, choices=[offering])

    def count(client):
        client.get("/calls/")
        with StatementCounter(db.engine) as counter:
            assert client.get("/calls/").status_code == 200
        return counter.count

    make(3)
    few = (count(staff_client), count(student_client))
    make(27)
    assert (count(staff_client), count(student_client)) == few
    assert max(few) <= 6


def test_call_page_and_offerings_page_statement_counts_are_fixed(staff_client):
    call = draft_call()

    def count(url):
        staff_client.get(url)
        with StatementCounter(db.engine) as counter:
            assert staff_client.get(url).status_code == 200
        return counter.count

    def grow(n):
        for _ in range(n):
            OfferingFactory(call=call)
            AgreementFactory()

    grow(3)
    few = (count(f"/calls/{call.id}"), count(f"/calls/{call.id}/offerings"))
    grow(100)
    many = (count(f"/calls/{call.id}"), count(f"/calls/{call.id}/offerings"))
    assert many == few


def test_create_a_call_through_the_form(staff_client):
    token = csrf_token(staff_client, "/calls/new")
    form = {
        "csrf_token": token,
        "title": "Form call",
        "academic_year": "2027",
        "term": "autumn",
        "timezone": "America/New_York",
        "opens_at": "2027-01-10T09:00",
        "closes_at": "2027-03-14T02:30",  # clocks jump from 02:00 to 03:00 that night
        "decision_at": "",
        "nomination_deadline": "",
        "max_choices": "2",
        "required_documents": ["transcript", "passport"],
    }
    resp = staff_client.post("/calls/new", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "2027-03-14 02:30 does not exist in America/New_York" in html
    resp = staff_client.post("/calls/new", data={**form, "closes_at": "2027-03-14T12:00"})
    assert resp.status_code == 302
    call = db.session.scalar(sa.select(Call).where(Call.title == "Form call"))
    assert resp.headers["Location"] == f"/calls/{call.id}/offerings"
    assert call.closes_at == datetime(2027, 3, 14, 16, 0, tzinfo=UTC)  # EDT, UTC-4
    assert call.opens_at == datetime(2027, 1, 10, 14, 0, tzinfo=UTC)  # EST, UTC-5
    assert call.required_documents == "transcript passport" and call.max_choices == 2
    # The edit form shows the wall-clock times back in the call's zone.
    html = staff_client.get(f"/calls/{call.id}/edit").get_data(as_text=True)
    assert 'value="2027-03-14T12:00"' in html and 'value="2027-01-10T09:00"' in html


def test_the_new_call_form_suggests_next_year(staff_client):
    html = staff_client.get("/calls/new").get_data(as_text=True)
    assert 'name="opens_at"' in html and 'type="datetime-local"' in html
    assert '<option selected value="Asia/Shanghai">' in html


def test_offerings_through_the_form_with_search(staff_client):
    call = draft_call(academic_year=2027)
    tokyo = AgreementFactory(
        places_per_year=2, partner=PartnerFactory(name="Tokyo U", country="JP")
    )
    osaka = AgreementFactory(
        places_per_year=1, partner=PartnerFactory(name="Osaka U", country="JP")
    )
    berlin = AgreementFactory(partner=PartnerFactory(name="Berlin U", country="DE"))
    AgreementFactory(status=AgreementStatus.DRAFT, partner=PartnerFactory(name="Draft U"))
    html = staff_client.get(f"/calls/{call.id}/offerings").get_data(as_text=True)
    assert "Tokyo U" in html and "Berlin U" in html and "Draft U" not in html
    html = staff_client.get(f"/calls/{call.id}/offerings?q=tokyo").get_data(as_text=True)
    assert "Tokyo U" in html and "Osaka U" not in html
    html = staff_client.get(f"/calls/{call.id}/offerings?q=jp").get_data(as_text=True)
    assert "Tokyo U" in html and "Osaka U" in html and "Berlin U" not in html
    html = staff_client.get(f"/calls/{call.id}/offerings?country=DE").get_data(as_text=True)
    assert "Berlin U" in html and "Tokyo U" not in html

    token = csrf_token(staff_client, f"/calls/{call.id}/offerings")
    resp = staff_client.post(
        f"/calls/{call.id}/offerings",
        data={
            "csrf_token": token,
            "shown": [tokyo.id, osaka.id, berlin.id],
            "offer": [tokyo.id, berlin.id],
            f"places-{tokyo.id}": "5",
            f"places-{osaka.id}": "1",
            f"places-{berlin.id}": "",
        },
    )
    assert resp.status_code == 302
    assert sorted((o.agreement_id, o.places) for o in call.offerings) == sorted(
        [(tokyo.id, 5), (berlin.id, 2)]
    )
    # A filtered form (only Japan shown) leaves Berlin alone.
    resp = staff_client.post(
        f"/calls/{call.id}/offerings?country=JP",
        data={
            "csrf_token": token,
            "shown": [tokyo.id, osaka.id],
            "offer": [osaka.id],
            f"places-{osaka.id}": "-3",
        },
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Places for Osaka U must be a whole number from 0 to 10000." in html
    assert 'value="-3"' in html  # what was typed is kept
    db.session.expire_all()
    assert sorted(o.agreement_id for o in call.offerings) == sorted([tokyo.id, berlin.id])
    staff_client.post(
        f"/calls/{call.id}/offerings?country=JP",
        data={
            "csrf_token": token,
            "shown": [tokyo.id, osaka.id],
            "offer": [osaka.id],
            f"places-{osaka.id}": "1",
        },
    )
    db.session.expire_all()
    assert sorted(o.agreement_id for o in call.offerings) == sorted([osaka.id, berlin.id])


def test_offerings_page_lists_hundreds_of_agreements(staff_client):
    call = draft_call()
    for i in range(210):
        AgreementFactory(partner=PartnerFactory(name=f"Many U {i:03d}"))
    html = staff_client.get(f"/calls/{call.id}/offerings").get_data(as_text=True)
    assert html.count('data-testid="candidate"') == 210


def test_schedule_unschedule_and_clone_through_the_pages(staff_client):
    call = draft_call(title="Page call 2027/28")
    OfferingFactory(call=call)
    token = csrf_token(staff_client, f"/calls/{call.id}")
    resp = staff_client.post(
        f"/calls/{call.id}/schedule", data={"csrf_token": token}, follow_redirects=True
    )
    assert "The call is scheduled" in resp.get_data(as_text=True)
    assert call.status is CallStatus.SCHEDULED
    resp = staff_client.post(
        f"/calls/{call.id}/schedule", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Only a draft call can be scheduled." in resp.get_data(as_text=True)
    staff_client.post(f"/calls/{call.id}/unschedule", data={"csrf_token": token})
    assert call.status is CallStatus.DRAFT
    resp = staff_client.post(f"/calls/{call.id}/clone", data={"csrf_token": token})
    copy = db.session.scalar(sa.select(Call).where(Call.cloned_from_id == call.id))
    assert resp.headers["Location"] == f"/calls/{copy.id}"
    assert copy.title == "Page call 2028/29" and copy.status is CallStatus.DRAFT
    assert staff_client.post(f"/calls/{call.id}/clone").status_code == 400  # no CSRF token


def test_seed_demo_adds_an_open_call(app, ctx):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    # The other demo call is closed, for the allocation (tests/test_selection.py).
    calls = db.session.scalars(sa.select(Call).where(Call.status != CallStatus.CLOSED)).all()
    assert len(calls) == 1
    call = calls[0]
    assert call.accepts_applications()
    assert timedelta(days=20) < call.closes_at - utcnow() < timedelta(days=22)
    assert call.required_documents == "transcript language_certificate"
    offered = db.session.scalar(
        sa.select(sa.func.count()).select_from(CallOffering).where(CallOffering.call_id == call.id)
    )
    assert offered == 10  # every demo agreement covers the call's year
