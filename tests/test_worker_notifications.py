"""Notifications end to end: a real Celery worker on the real broker (Redis in CI) delivers
to a real SMTP server (aiosmtpd). Faults: the SMTP server refusing for a while, and a worker
killed in the middle of a batch."""

import io
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery.contrib.testing.worker import start_worker

from exchange.applications import operations as app_ops
from exchange.approvals.models import Decision
from exchange.approvals.operations import decide_step
from exchange.calls.models import DocumentKind
from exchange.core.database import utcnow
from exchange.extensions import db
from exchange.mail.models import MailStatus, OutboxMail
from exchange.mail.operations import queue_mail

from .factories import (
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    UnitFactory,
    admin,
    coordinator,
    student,
)
from .helpers import wait_for
from .smtp import SMTPServer

ROOT = Path(__file__).resolve().parent.parent
PDF = b"%PDF-1.4\n%%EOF\n"
SMTP_SETTINGS = {"MAIL_DISPATCH": "celery", "MAIL_BACKEND": "smtp", "MAIL_TIMEOUT": 5}


def subjects(smtp, to):
    return [message_from_bytes(m.content)["Subject"] for m in smtp.messages if to in m.rcpt_tos]


def body_of(envelope):
    msg = message_from_bytes(envelope.content)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def point_at(app, smtp):
    app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = "127.0.0.1", smtp.port


@pytest.mark.committed(**SMTP_SETTINGS)
def test_an_approval_produces_exactly_one_mail_with_the_right_content(committed_app):
    app = committed_app
    with SMTPServer() as smtp, app.app_context():
        point_at(app, smtp)
        office = coordinator(email="office@example.edu")
        unit = UnitFactory()
        s = student(unit, email="applicant@example.edu")
        call = CallFactory(title="Spring exchange 2027", required_documents="transcript")
        application = ApplicationFactory(call=call, student=s, choices=[OfferingFactory(call=call)])
        app_ops.upload_document(
            application, DocumentKind.TRANSCRIPT, io.BytesIO(PDF), "t.pdf", actor=s
        )
        app_ops.submit_application(application, actor=s)
        db.session.commit()
        with start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False):
            assert wait_for(lambda: len(smtp.messages) >= 2)  # confirmation + "waits for you"
            decide_step(application.steps[0], Decision.APPROVE, "Well done.", actor=office)
            db.session.commit()
            assert wait_for(lambda: len(smtp.messages) >= 3)
            time.sleep(1)  # a duplicate would arrive now
        to_student = subjects(smtp, "applicant@example.edu")
        assert sorted(to_student) == sorted(
            [
                "Your application to Spring exchange 2027 is submitted",
                "Your application to Spring exchange 2027 is approved",
            ]
        )
        assert subjects(smtp, "office@example.edu") == [
            f"Waits for your decision: {s.name}, Spring exchange 2027"
        ]
        approved = next(
            m for m in smtp.messages if b"is approved" in m.content and b"Subject" in m.content
        )
        assert f"/applications/{application.id}" in body_of(approved)
        db.session.remove()


@pytest.mark.committed(**SMTP_SETTINGS)
def test_draft_reminder_once_through_the_worker_and_none_after_submission(committed_app):
    from worker.tasks import send_reminders

    app = committed_app
    with SMTPServer() as smtp, app.app_context():
        point_at(app, smtp)
        call = CallFactory(title="Summer school", closes_at=utcnow() + timedelta(days=2, hours=6))
        draft = ApplicationFactory(call=call, student=student(email="late@example.edu"))
        other = ApplicationFactory(call=call, student=student(email="done@example.edu"))
        other.status = other.status.SUBMITTED
        db.session.commit()
        draft_id = draft.id
        db.session.remove()
        with start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False):
            send_reminders.delay()
            send_reminders.delay()  # the next beat: nothing new
            assert wait_for(lambda: len(smtp.messages) >= 1)
            time.sleep(1.5)
        assert subjects(smtp, "late@example.edu") == [
            "Reminder: your application to Summer school is not submitted yet"
        ]
        assert subjects(smtp, "done@example.edu") == []
        assert "closes" in body_of(smtp.messages[0])
        db.session.remove()
        assert db.session.get(type(draft), draft_id) is not None


@pytest.mark.committed(**SMTP_SETTINGS, DIGEST_HOUR=0)
def test_digest_arrives_with_the_right_figures(committed_app):
    from worker.tasks import send_digests

    app = committed_app
    with SMTPServer() as smtp, app.app_context():
        point_at(app, smtp)
        admin(email="dean@example.edu", timezone="UTC")
        office = coordinator(email="io@example.edu", timezone="UTC")
        call = CallFactory(title="Autumn call", required_documents="")
        applications = []
        for _ in range(3):
            application = ApplicationFactory(call=call, choices=[OfferingFactory(call=call)])
            app_ops.submit_application(application, actor=application.student)
            applications.append(application)
        decide_step(applications[0].steps[0], Decision.RETURN, "Add a CV.", actor=office)
        db.session.commit()
        db.session.execute(sa.update(OutboxMail).values(status=MailStatus.SENT))  # old news
        db.session.commit()
        db.session.remove()
        with start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False):
            send_digests.delay()
            assert wait_for(lambda: len(smtp.messages) >= 2)
            send_digests.delay()
            time.sleep(1.5)
        assert subjects(smtp, "dean@example.edu") == ["Your daily Exchange digest"]
        assert subjects(smtp, "io@example.edu") == ["Your daily Exchange digest"]
        text = body_of(next(m for m in smtp.messages if "dean@example.edu" in m.rcpt_tos))
        assert "New applications: 3" in text
        assert "Autumn call: 3" in text
        assert "Decisions: 1" in text
        assert "Waiting for a decision: 2" in text
        db.session.remove()


@pytest.mark.committed(**SMTP_SETTINGS, MAIL_RETRY_BASE_SECONDS=1)
def test_smtp_refusing_for_a_while_then_recovering_delivers_each_mail_once(committed_app):
    app = committed_app
    with SMTPServer() as smtp, app.app_context():
        point_at(app, smtp)
        smtp.handler.refuse_next = 6
        users = [student(email=f"r{i}@example.edu") for i in range(5)]
        emails = sorted(u.email for u in users)
        for i, user in enumerate(users):
            queue_mail(user, "password_reset", {"link": f"https://x/{i}", "hours": 2})
        db.session.commit()
        db.session.remove()
        with start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False):
            assert wait_for(lambda: len(smtp.messages) >= 5, timeout=60)
            time.sleep(2)
        assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == emails
        mails = db.session.scalars(sa.select(OutboxMail)).all()
        assert all(m.status is MailStatus.SENT for m in mails)
        assert sum(m.attempts for m in mails) == 5 + 6
        db.session.remove()


def worker_process(app, smtp):
    """A real `celery -A worker worker` process on the test's database and queue."""
    cfg = app.config
    env = dict(
        os.environ,
        EXCHANGE_ENV="development",
        EXCHANGE_INSTANCE_DIR=cfg["INSTANCE_DIR"],
        SECRET_KEY="worker-test",
        DATABASE_URL=cfg["SQLALCHEMY_DATABASE_URI"],
        BROKER_URL=cfg["BROKER_URL"],
        BROKER_FOLDER=cfg["BROKER_FOLDER"],
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp.port),
        MAIL_TIMEOUT="60",
    )
    queue = app.extensions["celery"].conf.task_default_queue
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.committed(**SMTP_SETTINGS)
def test_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(committed_app):
    """Kill -9 the worker while it waits on the SMTP server in the middle of a batch; the
    relay (run by the beat) re-dispatches what the dead worker held and a new worker sends
    it. Every mail arrives exactly once."""
    from exchange.mail.delivery import relay, stale_claim_age

    app = committed_app
    with SMTPServer() as smtp, app.app_context():
        smtp.handler.stall_after = 4  # the fifth transaction hangs in RCPT
        users = [student(email=f"k{i}@example.edu") for i in range(12)]
        emails = sorted(u.email for u in users)
        for i, user in enumerate(users):
            queue_mail(user, "password_reset", {"link": f"https://x/{i}", "hours": 2})
        db.session.commit()
        first = worker_process(app, smtp)
        try:
            assert wait_for(lambda: smtp.handler.stalled, timeout=60), "the worker never got busy"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        smtp.handler.stall_after = None
        smtp.handler.release()
        delivered = len(smtp.messages)
        assert delivered == 4
        # Ten minutes later the beat's relay takes back the dead worker's claim.
        db.session.execute(
            sa.update(OutboxMail)
            .where(OutboxMail.status == MailStatus.SENDING)
            .values(claimed_at=utcnow() - stale_claim_age() - timedelta(minutes=1))
        )
        db.session.commit()
        relay()
        second = worker_process(app, smtp)
        try:
            assert wait_for(lambda: len(smtp.messages) >= 12, timeout=90)
            time.sleep(2)
        finally:
            second.terminate()
            second.wait(timeout=30)
        recipients = sorted(r for m in smtp.messages for r in m.rcpt_tos)
        assert recipients == emails  # all, and none twice
        db.session.remove()
        assert set(db.session.scalars(sa.select(OutboxMail.status))) == {MailStatus.SENT}
        db.session.remove()
