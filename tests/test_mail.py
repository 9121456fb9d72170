"""Mail: queued in the transaction, handed over after commit, delivered by a backend, retried
when the server refuses for a while."""

from email import message_from_bytes, policy
from email.parser import BytesParser

import sqlalchemy as sa

from exchange.accounts import operations as ops
from exchange.accounts.passwords import verify_password
from exchange.extensions import db
from exchange.mail.delivery import deliver, relay
from exchange.mail.models import MailStatus, OutboxMail
from exchange.mail.operations import queue_mail, queue_mails

from .conftest import CSRF_RE, csrf_token, login, run_deferred
from .factories import UserFactory, admin
from .smtp import SMTPServer, free_port


def test_mail_is_handed_over_only_after_commit(app, dispatched, ctx):
    user = UserFactory()
    mail = queue_mail(user, "password_reset", {"link": "http://x/reset", "hours": 2})
    assert dispatched == []  # not before the commit
    db.session.commit()
    assert dispatched == [mail.id]
    db.session.commit()
    assert dispatched == [mail.id]  # never twice


def test_rolled_back_mail_is_never_handed_over(app, dispatched, ctx):
    user = UserFactory()
    queue_mail(user, "password_reset", {"link": "http://x/reset", "hours": 2})
    db.session.rollback()
    db.session.commit()
    assert dispatched == []


def test_dedup_key_prevents_a_second_mail(app, ctx):
    user = UserFactory()
    first = queue_mail(user, "password_reset", {"link": "l", "hours": 2}, dedup_key="k1")
    second = queue_mail(user, "password_reset", {"link": "l", "hours": 2}, dedup_key="k1")
    assert first is not None and second is None


def test_mail_is_rendered_in_the_recipients_language(app, ctx):
    user = UserFactory(locale="en", name="Ada")
    mail = queue_mail(user, "password_reset", {"link": "http://x/reset/abc", "hours": 2})
    assert mail.subject == "Reset your Exchange password"
    assert "Hello Ada," in mail.body_text and "http://x/reset/abc" in mail.body_text
    assert '<a href="http://x/reset/abc"' in mail.body_html


def test_the_same_mail_to_many_reads_as_if_rendered_for_each(app, dispatched, ctx):
    users = [
        UserFactory(name='Li <b>"Hua"</b> & Co', locale="zh_Hans_CN"),
        UserFactory(name="O'Brien", locale="en"),
        UserFactory(name="Zoë", locale="zh_Hans_CN", timezone="Asia/Shanghai"),
        UserFactory(name="Ada", locale=None, timezone=None),
    ]
    links = [{"link": f"https://x.example/reset/t{i}?a=1&b=<2>"} for i in range(len(users))]
    singles = [
        queue_mail(user, "account_invitation", dict(link, hours=72))
        for user, link in zip(users, links, strict=True)
    ]
    many = queue_mails("account_invitation", users, links, {"hours": 72}, objs=users)
    by_recipient = {mail.recipient_id: mail for mail in many}
    for single in singles:
        batch = by_recipient[single.recipient_id]
        assert (batch.to_address, batch.subject, batch.body_text, batch.body_html) == (
            single.to_address,
            single.subject,
            single.body_text,
            single.body_html,
        )
        assert batch.object_type == "User" and batch.object_id == str(single.recipient_id)
    assert "&lt;b&gt;&#34;Hua&#34;&lt;/b&gt; &amp; Co" in by_recipient[users[0].id].body_html
    assert 'Li <b>"Hua"</b> & Co' in by_recipient[users[0].id].body_text
    assert "\ue000" not in "".join(m.body_html + m.body_text + m.subject for m in many)
    assert by_recipient[users[0].id].subject != by_recipient[users[1].id].subject  # zh, en
    db.session.commit()
    assert sorted(dispatched) == sorted(m.id for m in singles + many)


def test_memory_backend_delivery_marks_sent(app, sent_mail, ctx):
    user = UserFactory()
    mail = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
    db.session.commit()
    assert deliver(mail.id).state == "sent"
    assert mail.status is MailStatus.SENT and mail.attempts == 1 and mail.sent_at
    assert len(sent_mail) == 1 and sent_mail[0]["To"] == user.email
    assert deliver(mail.id).state == "skipped"  # a duplicate task sends nothing
    assert len(sent_mail) == 1


def test_outbox_backend_writes_eml_files(app, tmp_path, ctx):
    app.config["MAIL_BACKEND"] = "outbox"
    app.config["MAIL_OUTBOX_DIR"] = str(tmp_path / "outbox")
    try:
        user = UserFactory()
        mail = queue_mail(user, "password_reset", {"link": "http://x/r", "hours": 2})
        db.session.commit()
        assert deliver(mail.id).state == "sent"
        files = list((tmp_path / "outbox").glob("*.eml"))
        assert len(files) == 1
        msg = BytesParser(policy=policy.default).parse(files[0].open("rb"))
        assert msg["Subject"] == "Reset your Exchange password"
        assert "http://x/r" in msg.get_body(("plain",)).get_content()
    finally:
        app.config["MAIL_BACKEND"] = "memory"


def smtp_config(app, server):
    app.config.update(
        MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_TIMEOUT=5
    )


def test_delivers_to_a_real_smtp_server(app, ctx):
    user = UserFactory(email="reader@example.edu")
    with SMTPServer() as server:
        smtp_config(app, server)
        try:
            mail = queue_mail(user, "password_reset", {"link": "http://x/r/1", "hours": 2})
            db.session.commit()
            assert deliver(mail.id).state == "sent"
        finally:
            app.config["MAIL_BACKEND"] = "memory"
    assert len(server.messages) == 1
    envelope = server.messages[0]
    assert envelope.rcpt_tos == ["reader@example.edu"]
    msg = message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Subject"] == "Reset your Exchange password"
    assert "http://x/r/1" in msg.get_body(("plain",)).get_content()
    assert msg.get_body(("html",)) is not None


def test_temporary_refusal_is_retried_with_backoff_then_delivered_once(app, ctx):
    user = UserFactory()
    app.config["MAIL_RETRY_BASE_SECONDS"] = 30
    with SMTPServer() as server:
        smtp_config(app, server)
        server.handler.refuse_next = 2
        try:
            mail = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
            db.session.commit()
            first = deliver(mail.id)
            assert (first.state, first.retry_in) == ("retry", 30)
            assert mail.status is MailStatus.PENDING and "451" in mail.last_error
            assert deliver(mail.id).state == "skipped"  # not due yet

            mail.next_attempt_at = mail.created_at  # time passes
            db.session.commit()
            second = deliver(mail.id)
            assert (second.state, second.retry_in) == ("retry", 60)

            mail.next_attempt_at = mail.created_at
            db.session.commit()
            assert deliver(mail.id).state == "sent"
        finally:
            app.config["MAIL_BACKEND"] = "memory"
    assert len(server.messages) == 1
    assert mail.attempts == 3 and mail.status is MailStatus.SENT


def test_permanent_refusal_is_not_retried(app, ctx):
    user = UserFactory()
    with SMTPServer() as server:
        smtp_config(app, server)
        server.handler.reject_permanently = True
        try:
            mail = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
            db.session.commit()
            assert deliver(mail.id).state == "failed"
        finally:
            app.config["MAIL_BACKEND"] = "memory"
    assert mail.status is MailStatus.FAILED and mail.last_error.startswith("550")
    assert mail.attempts == 1


def test_unreachable_server_fails_after_the_attempt_limit(app, ctx):
    user = UserFactory()
    app.config.update(
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=free_port(),
        MAIL_MAX_ATTEMPTS=3,
        MAIL_TIMEOUT=2,
    )
    try:
        mail = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
        db.session.commit()
        states = []
        for _ in range(3):
            states.append(deliver(mail.id).state)
            mail.next_attempt_at = mail.created_at
            db.session.commit()
    finally:
        app.config.update(MAIL_BACKEND="memory", MAIL_MAX_ATTEMPTS=8)
    assert states == ["retry", "retry", "failed"]
    assert mail.status is MailStatus.FAILED and "ConnectionRefusedError" in mail.last_error


def test_relay_redispatches_due_mail_and_releases_stale_claims(app, dispatched, ctx):
    from datetime import timedelta

    user = UserFactory()
    due = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
    stuck = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
    db.session.commit()
    dispatched.clear()
    stuck.status = MailStatus.SENDING
    stuck.claimed_at = stuck.created_at - timedelta(minutes=30)
    db.session.commit()
    assert relay() == 2
    assert sorted(dispatched) == sorted([due.id, stuck.id])


def test_admin_can_resend_a_failed_mail(app, dispatched, ctx):
    user = UserFactory()
    mail = queue_mail(user, "password_reset", {"link": "l", "hours": 2})
    mail.status = MailStatus.FAILED
    mail.attempts = 8
    db.session.commit()
    dispatched.clear()
    client = app.test_client()
    login(client, admin().email)
    html = client.get("/admin/mail?status=failed").get_data(as_text=True)
    assert "Resend" in html
    resp = client.post(
        f"/admin/mail/{mail.id}/resend", data={"csrf_token": csrf_token(client, "/home")}
    )
    assert resp.status_code == 302
    assert mail.status is MailStatus.PENDING and mail.attempts == 0
    assert dispatched == [mail.id]


def test_password_reset_flow(app, client, dispatched, sent_mail):
    user = UserFactory(email="forgetful@example.edu")
    token = csrf_token(client, "/password/forgot")
    resp = client.post(
        "/password/forgot", data={"email": "Forgetful@example.edu", "csrf_token": token}
    )
    assert resp.status_code == 302
    assert dispatched == []  # the worker looks the account up, not the request
    run_deferred(app)
    assert len(dispatched) == 1
    mail = db.session.get(OutboxMail, dispatched[0])
    link = next(line for line in mail.body_text.splitlines() if "/password/reset/" in line)
    path = link.strip().split("127.0.0.1:5000", 1)[1]

    page = client.get(path)
    assert page.status_code == 200
    match = CSRF_RE.search(page.get_data(as_text=True))
    csrf = match.group(1) or match.group(2)
    resp = client.post(
        path,
        data={"password": "brand-new-secret", "confirm": "brand-new-secret", "csrf_token": csrf},
    )
    assert resp.status_code == 302
    db.session.refresh(user)
    assert verify_password(user.password_hash, "brand-new-secret")

    again = client.get(path)  # single use
    assert again.status_code == 302 and "/password/forgot" in again.headers["Location"]
    actions = [r[0] for r in db.session.execute(sa.text("SELECT action FROM audit_events"))]
    assert "auth.reset_requested" in actions and "auth.password_reset" in actions


def test_reset_for_unknown_email_looks_the_same_and_sends_nothing(app, client, dispatched):
    token = csrf_token(client, "/password/forgot")
    resp = client.post(
        "/password/forgot",
        data={"email": "ghost@example.edu", "csrf_token": token},
        follow_redirects=True,
    )
    assert "If an account exists for ghost@example.edu" in resp.get_data(as_text=True)
    run_deferred(app)
    assert dispatched == []


def test_expired_reset_token_is_refused(app, ctx):
    from datetime import timedelta

    from exchange.accounts.models import PasswordResetToken
    from exchange.core.errors import DomainError

    user = UserFactory()
    token = ops.issue_password_reset(user.email)
    db.session.commit()
    row = db.session.scalars(sa.select(PasswordResetToken)).one()
    row.expires_at = row.created_at - timedelta(seconds=1)
    db.session.commit()
    assert ops.valid_reset_token(token) is None
    import pytest

    with pytest.raises(DomainError):
        ops.reset_password(token, "another-long-password")
