"""Publication of a call's selection result (issue 15, item 4): every applicant notified once
through the outbox; publish refused before the commit and the second time; one objection per
applicant within the window, answered once; final at the window's end by the beat task
(exactly once) and on read before it; the masked list and who may see it."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from exchange.accounts.models import MailPreference
from exchange.applications.models import Application, ApplicationStatus
from exchange.calls.models import CallStatus
from exchange.core.audit import AuditEvent
from exchange.core.database import utcnow
from exchange.core.errors import DomainError, NotAllowed
from exchange.extensions import db
from exchange.mail.models import OutboxMail
from exchange.notifications.events import title_of
from exchange.notifications.models import Notification
from exchange.selection import publication as pub
from exchange.selection import signals
from exchange.selection.allocation import commit_allocation
from exchange.selection.models import Objection, ObjectionStatus, Publication
from exchange.selection.publication_queries import masked_name, masked_number
from worker.tasks import finalise_publications

from .conftest import client_for, csrf_token
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    coordinator,
    student,
)

NAMES = ["Li Wei", "Wang Fang", "Zhang Min", "Chen Jing", "Zhao Lei"]


def _offering(call, name, places):
    return OfferingFactory(
        call=call, agreement=AgreementFactory(partner=PartnerFactory(name=name)), places=places
    )


@pytest.fixture
def committed(app):
    return _committed_call()


def _committed_call():
    """A closed call, allocated and committed: Tokyo (2 places) and Lyon (1) for four
    applicants who want both, and one who wants only Oslo (no places): 3 placed, 1 waitlisted,
    1 not placed."""
    now = utcnow()
    call = CallFactory(
        title="Spring exchange",
        status=CallStatus.CLOSED,
        opens_at=now - timedelta(days=30),
        closes_at=now - timedelta(days=1),
    )
    tokyo, lyon, oslo = (
        _offering(call, "Tokyo", 2),
        _offering(call, "Lyon", 1),
        _offering(call, "Oslo", 0),
    )
    apps = [
        ApplicationFactory(
            call=call,
            student=student(name=name),
            status=ApplicationStatus.APPROVED,
            gpa=Decimal(gpa),
            choices=[oslo] if i == 4 else [tokyo, lyon],
            submitted_at=now - timedelta(days=5, minutes=-i),
        )
        for i, (name, gpa) in enumerate(
            zip(NAMES, ["3.9", "3.7", "3.5", "3.3", "3.1"], strict=True)
        )
    ]
    db.session.commit()
    office = coordinator(name="Office Person")
    commit_allocation(call, actor=office, seed=5)
    db.session.commit()
    return call, office, [db.session.get(Application, a.id) for a in apps]


def _mails(template, user=None):
    query = sa.select(OutboxMail).where(OutboxMail.template == template)
    if user is not None:
        query = query.where(OutboxMail.recipient_id == user.id)
    return db.session.scalars(query).all()


def _count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- publishing -------------------------------------------------------------------------------


def test_publish_notifies_every_applicant_once_with_their_outcome(committed):
    call, office, apps = committed
    publication = pub.publish(call, actor=office)
    db.session.commit()
    assert call.status is CallStatus.PUBLISHED
    assert publication.final_at is not None and publication.is_final(utcnow())
    mails = _mails("selection_published")
    assert sorted(m.recipient_id for m in mails) == sorted(a.student_id for a in apps)
    by_student = {m.recipient_id: m for m in mails}
    placed = by_student[apps[0].student_id]
    assert "Spring exchange" in placed.subject
    assert "you have a place at Tokyo" in placed.body_text
    assert "waiting list" in by_student[apps[3].student_id].body_text
    assert "not been placed" in by_student[apps[4].student_id].body_text
    assert "objection" not in placed.body_text  # no window: final at once
    kinds = {
        n.user_id: n.kind
        for n in db.session.scalars(
            sa.select(Notification).where(Notification.kind.like("selection.%"))
        )
    }
    assert kinds == {
        apps[0].student_id: "selection.placed",
        apps[1].student_id: "selection.placed",
        apps[2].student_id: "selection.placed",
        apps[3].student_id: "selection.waitlisted",
        apps[4].student_id: "selection.not_placed",
    }
    # The same event heard again (a retried signal) notifies nobody a second time.
    signals.published.send(publication)
    db.session.commit()
    assert len(_mails("selection_published")) == 5


def test_publish_in_the_readers_language(committed):
    call, office, apps = committed
    apps[0].student.locale = "zh_Hans_CN"
    db.session.commit()
    pub.publish(call, actor=office, window_days=3)
    db.session.commit()
    english = _mails("selection_published", apps[1].student)[0]
    assert "until" in english.body_text and "objection" in english.body_text
    chinese = _mails("selection_published", apps[0].student)[0]
    assert "Tokyo" in chinese.body_text and "Spring exchange" in chinese.subject


def test_publish_respects_digest_preferences_and_inactive_students(committed):
    call, office, apps = committed
    apps[1].student.mail_preference = MailPreference.DAILY
    apps[2].student.active = False
    db.session.commit()
    pub.publish(call, actor=office)
    db.session.commit()
    mailed = {m.recipient_id for m in _mails("selection_published")}
    assert mailed == {apps[0].student_id, apps[3].student_id, apps[4].student_id}
    told = db.session.scalars(
        sa.select(Notification.user_id).where(Notification.kind.like("selection.%"))
    ).all()
    assert sorted(told) == sorted(a.student_id for a in apps if a is not apps[2])
    digest = db.session.scalar(
        sa.select(Notification).where(Notification.user_id == apps[1].student_id)
    )
    assert digest.mail_id is None and digest.data["offering"] == "Tokyo"
    assert title_of(digest) == "Selection result of Spring exchange: you have a place at Tokyo"


def test_publish_twice_is_refused_and_writes_nothing_more(committed):
    call, office, _apps = committed
    pub.publish(call, actor=office)
    db.session.commit()
    audits = _count(AuditEvent)
    with pytest.raises(DomainError, match="already published"):
        pub.publish(call, actor=office)
    db.session.rollback()
    assert _count(Publication) == 1
    assert len(_mails("selection_published")) == 5
    assert _count(AuditEvent) == audits


def test_publish_before_commit_is_refused(app):
    now = utcnow()
    call = CallFactory(
        status=CallStatus.CLOSED, opens_at=now - timedelta(days=9), closes_at=now - timedelta(1)
    )
    db.session.commit()
    with pytest.raises(DomainError, match="Commit the allocation"):
        pub.publish(call, actor=coordinator())
    db.session.rollback()
    assert _count(Publication) == 0
    assert call.status is CallStatus.CLOSED
    assert _mails("selection_published") == []


@pytest.mark.parametrize("days", [-1, 61, True, "3"])
def test_a_window_out_of_range_is_refused(committed, days):
    call, office, _apps = committed
    with pytest.raises(DomainError, match="1 to 60 days"):
        pub.publish(call, actor=office, window_days=days)
    db.session.rollback()
    assert _count(Publication) == 0
    assert call.status is CallStatus.ALLOCATING


def test_only_the_office_publishes(committed):
    call, _office, apps = committed
    with pytest.raises(NotAllowed):
        pub.publish(call, actor=apps[0].student)
    db.session.rollback()
    assert _count(Publication) == 0


def test_selection_stops_once_published(committed):
    call, office, _apps = committed
    pub.publish(call, actor=office)
    db.session.commit()
    with pytest.raises(DomainError, match="stops once it is published"):
        commit_allocation(call, actor=office)
    db.session.rollback()


# --- objections -------------------------------------------------------------------------------


def test_objection_life_cycle(committed):
    call, office, apps = committed
    now = utcnow()
    publication = pub.publish(call, actor=office, window_days=3, now=now)
    db.session.commit()
    assert not publication.is_final(now + timedelta(days=2))
    waiting = apps[3]
    objection = pub.file_objection(
        waiting, "  My language result was not counted.  ", actor=waiting.student
    )
    db.session.commit()
    assert objection.reason == "My language result was not counted."
    assert objection.status is ObjectionStatus.OPEN

    with pytest.raises(DomainError, match="already filed"):
        pub.file_objection(waiting, "Again", actor=waiting.student)
    db.session.rollback()
    with pytest.raises(NotAllowed):
        pub.answer_objection(objection, ObjectionStatus.UPHELD, "Yes", actor=waiting.student)
    db.session.rollback()
    with pytest.raises(DomainError, match="Write the answer"):
        pub.answer_objection(objection, ObjectionStatus.DISMISSED, "   ", actor=office)
    db.session.rollback()
    assert db.session.get(Objection, objection.id).status is ObjectionStatus.OPEN

    pub.answer_objection(
        objection, ObjectionStatus.UPHELD, "The C1 result is now counted.", actor=office
    )
    db.session.commit()
    answered = db.session.get(Objection, objection.id)
    assert answered.status is ObjectionStatus.UPHELD
    assert answered.answered_by_id == office.id and answered.answered_at is not None
    mails = _mails("selection_objection_answered", waiting.student)
    assert len(mails) == 1 and "The C1 result is now counted." in mails[0].body_text
    assert "upheld" in mails[0].body_text

    with pytest.raises(DomainError, match="already been answered"):
        pub.answer_objection(objection, ObjectionStatus.DISMISSED, "No", actor=office)
    db.session.rollback()
    answered = db.session.get(Objection, objection.id)
    assert answered.status is ObjectionStatus.UPHELD
    assert answered.answer == "The C1 result is now counted."
    assert len(_mails("selection_objection_answered")) == 1


def test_objection_refusals_write_nothing(committed):
    call, office, apps = committed
    now = utcnow()
    pub.publish(call, actor=office, window_days=2, now=now)
    db.session.commit()
    mine, other = apps[0], apps[1]
    with pytest.raises(DomainError, match="Say why"):
        pub.file_objection(mine, " \t ", actor=mine.student)
    db.session.rollback()
    with pytest.raises(NotAllowed):
        pub.file_objection(mine, "I object", actor=other.student)
    db.session.rollback()
    with pytest.raises(DomainError, match="window of this result is closed"):
        pub.file_objection(
            mine, "Too late", actor=mine.student, now=now + timedelta(days=2, seconds=1)
        )
    db.session.rollback()
    assert _count(Objection) == 0


def test_no_objection_without_a_window_or_before_publication(committed):
    call, office, apps = committed
    with pytest.raises(DomainError, match="no published result"):
        pub.file_objection(apps[0], "Early", actor=apps[0].student)
    db.session.rollback()
    pub.publish(call, actor=office)
    db.session.commit()
    with pytest.raises(DomainError, match="closed"):
        pub.file_objection(apps[0], "No window", actor=apps[0].student)
    db.session.rollback()
    assert _count(Objection) == 0


# --- the end of the window --------------------------------------------------------------------


def test_window_end_by_the_beat_task_once(committed):
    call, office, apps = committed
    started = utcnow() - timedelta(days=3, minutes=1)
    publication = pub.publish(call, actor=office, window_days=3, now=started)
    db.session.commit()
    # Computed on read before the beat has run.
    assert publication.final_at is None and publication.is_final(utcnow())
    assert pub.finalise_due(started + timedelta(days=2)) == 0
    assert finalise_publications.run() == 1
    db.session.expire_all()
    publication = db.session.get(Publication, publication.id)
    assert publication.final_at == publication.window_ends_at
    finals = _mails("selection_final")
    assert sorted(m.recipient_id for m in finals) == sorted(a.student_id for a in apps)
    assert "is final" in finals[0].subject
    audits = _count(AuditEvent)
    assert finalise_publications.run() == 0  # a second beat finds nothing to do
    assert pub.finalise(publication, utcnow()) is False
    assert len(_mails("selection_final")) == 5
    assert _count(AuditEvent) == audits


def test_the_beat_schedules_the_task():
    from worker.celery_app import beat_schedule

    assert (
        beat_schedule()["finalise-publications"]["task"]
        == "exchange.selection.finalise_publications"
    )


# --- masking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Li Wei", "Li W."),
        ("Wei Li", "Wei L."),
        ("Anna Maria Schmidt", "Anna S."),
        ("Madonna", "M."),
        ("王小明", "王**"),
        ("李雷", "李*"),
        ("欧阳 娜娜", "欧***"),
        ("", "—"),
        (None, "—"),
    ],
)
def test_masked_names(name, masked):
    assert masked_name(name) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("2023010001", "2023****01"),
        ("S00000042", "S000****42"),
        ("123456", "1****6"),
        ("1234", "1**4"),
        ("12", "**"),
        (None, "—"),
    ],
)
def test_masked_student_numbers(number, masked):
    assert masked_number(number) == masked


# --- pages and permissions --------------------------------------------------------------------


def test_office_publishes_and_answers_on_the_page(app, committed):
    call, office, apps = committed
    client = client_for(app, office)
    page = f"/calls/{call.id}/selection/publication"
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="publish-form"' in html
    token = csrf_token(client, page)
    response = client.post(
        f"/calls/{call.id}/selection/publish",
        data={"csrf_token": token, "window_days": "abc"},
        follow_redirects=True,
    )
    assert "1 to 60 days" in response.get_data(as_text=True)
    assert _count(Publication) == 0
    response = client.post(
        f"/calls/{call.id}/selection/publish",
        data={"csrf_token": token, "window_days": "5", "show_list": "1"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "every applicant is notified" in html
    assert "objections possible" in html
    assert len(_mails("selection_published")) == 5

    # The student objects from the result page.
    waiting = apps[3]
    student_client = client_for(app, waiting.student)
    result_page = f"/applications/{waiting.id}/selection"
    html = student_client.get(result_page).get_data(as_text=True)
    assert 'data-testid="objection-form"' in html and 'data-testid="not-final"' in html
    token = csrf_token(student_client, result_page)
    response = student_client.post(
        f"{result_page.replace('/selection', '/selection/objection')}",
        data={"csrf_token": token, "reason": "My interview was not scored."},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Your objection is filed" in html and 'data-testid="my-objection"' in html
    assert 'data-testid="objection-form"' not in html
    # Another student cannot object for them.
    other = client_for(app, apps[0].student)
    response = other.post(
        f"/applications/{waiting.id}/selection/objection",
        data={
            "csrf_token": csrf_token(other, f"/applications/{apps[0].id}/selection"),
            "reason": "x",
        },
    )
    assert response.status_code == 404
    assert _count(Objection) == 1

    # The office lists it and answers.
    html = client.get(page).get_data(as_text=True)
    assert "My interview was not scored." in html and "Chen Jing" in html
    objection = db.session.scalar(sa.select(Objection))
    response = client.post(
        f"/calls/{call.id}/selection/objections/{objection.id}/answer",
        data={
            "csrf_token": csrf_token(client, page),
            "status": "dismissed",
            "answer": "Checked: it was.",
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "The answer is recorded" in html and "Checked: it was." in html
    html = student_client.get(result_page).get_data(as_text=True)
    assert "Checked: it was." in html


def test_masked_list_shows_only_masked_data_to_applicants(app, committed):
    call, office, apps = committed
    publication = pub.publish(call, actor=office)
    db.session.commit()
    page = f"/calls/{call.id}/selection/published"
    viewer = client_for(app, apps[2].student)
    assert viewer.get(page).status_code == 404  # not shown yet
    pub.show_list(publication, True, actor=office)
    db.session.commit()
    html = viewer.get(page).get_data(as_text=True)
    assert html.count('data-testid="published-row"') == 5
    table = html[html.index('data-testid="published-list"') : html.index("</table>")]
    assert "Li W." in table and "Zhao L." in table
    for a in apps:
        number = a.student.profile.student_number
        assert a.student.name not in table and a.student.email not in table
        assert number not in table and masked_number(number) in table
        if a is not apps[2]:  # the viewer's own name is in the navigation, no one else's
            assert a.student.name not in html and a.student.email not in html
            assert number not in html
    assert "Tokyo" in html and "waiting list" in html and "not placed" in html
    assert html.count('aria-current="true"') == 1  # their own row, marked for them only

    outsider = client_for(app, student(name="Not Applied"))
    assert outsider.get(page).status_code == 404
    assert app.test_client().get(page).status_code in (302, 401)
    assert client_for(app, office).get(page).status_code == 200
    pub.show_list(publication, False, actor=office)
    db.session.commit()
    assert viewer.get(page).status_code == 404


def test_office_pages_are_for_the_office(app, committed):
    call, _office, apps = committed
    client = client_for(app, apps[0].student)
    assert client.get(f"/calls/{call.id}/selection/publication").status_code == 403
    token = csrf_token(client, f"/applications/{apps[0].id}/selection")
    response = client.post(f"/calls/{call.id}/selection/publish", data={"csrf_token": token})
    assert response.status_code == 403
    assert _count(Publication) == 0


def test_races_end_in_a_clear_message(committed, monkeypatch):
    """What a second request finds when the first one got in after it read: a publication or
    objection already there (unique constraint), a window already made final (conditional
    update). Each ends in a clear message or nothing, never a second mail."""
    call, office, apps = committed
    started = utcnow() - timedelta(days=2)
    db.session.add(
        Publication(
            call_id=call.id,
            run_id=_run_id(call),
            window_days=1,
            window_ends_at=started + timedelta(days=1),
            published_at=started,
        )
    )
    db.session.commit()
    # The second request read "not published" before the first one committed.
    with monkeypatch.context() as patch:
        patch.setattr(pub, "publication_of", lambda *_: None)
        with pytest.raises(DomainError, match="already published"):
            pub.publish(call, actor=office)
    db.session.rollback()
    assert _count(Publication) == 1 and _mails("selection_published") == []

    publication = db.session.scalar(sa.select(Publication))
    db.session.execute(
        sa.update(Publication).values(final_at=publication.window_ends_at),
        execution_options={"synchronize_session": False},
    )
    assert publication.final_at is None  # stale, as another beat's object would be
    assert pub.finalise(publication, utcnow()) is False
    db.session.commit()
    assert _mails("selection_final") == []


def test_a_double_clicked_objection_is_refused_cleanly(committed, monkeypatch):
    call, office, apps = committed
    pub.publish(call, actor=office, window_days=2)
    db.session.commit()
    mine = apps[1]
    pub.file_objection(mine, "First click", actor=mine.student)
    db.session.commit()
    # The second click read "no objection yet" before the first one committed.
    monkeypatch.setattr(pub, "objection_of", lambda *_: None)
    with pytest.raises(DomainError, match="already filed"):
        pub.file_objection(mine, "Second click", actor=mine.student)
    db.session.rollback()
    assert [o.reason for o in db.session.scalars(sa.select(Objection))] == ["First click"]


def _run_id(call):
    return pub.last_committed_run(call.id).id


@pytest.mark.committed
def test_two_beats_at_once_make_a_result_final_once(committed_app):
    app = committed_app
    with app.app_context():
        call, office, apps = _committed_call()
        pub.publish(call, actor=office, window_days=1, now=utcnow() - timedelta(days=2))
        db.session.commit()
        student_ids = [a.student_id for a in apps]
        db.session.remove()
    barrier = threading.Barrier(2)
    counts, errors = [], []

    def beat():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                counts.append(pub.finalise_due(utcnow()))
                db.session.commit()
            except Exception as exc:  # surfaced below
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    with app.app_context():
        sent = db.session.scalars(
            sa.select(OutboxMail.recipient_id).where(OutboxMail.template == "selection_final")
        ).all()
        assert sorted(sent) == sorted(student_ids), (counts, errors)
        finals = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "selection.final")
        )
        assert finals == 1
        if db.engine.dialect.name == "postgresql":
            assert errors == [] and sorted(counts) == [0, 1]
        db.session.remove()
