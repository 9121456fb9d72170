"""Logging in and out, sessions, cookies, throttling and passwords."""

import re

import sqlalchemy as sa

from exchange.accounts import passwords
from exchange.accounts.models import LoginSession
from exchange.core.audit import AuditEvent
from exchange.extensions import db

from .conftest import csrf_token, login
from .factories import PASSWORD, UnitFactory, UserFactory, admin, advisor, coordinator, student


def actions():
    return [e.action for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def test_login_lands_on_role_home(client):
    unit = UnitFactory()
    cases = [
        (student(unit), "My student profile"),
        (advisor(unit), "Waiting for my decision"),
        (coordinator(), "International office"),
        (admin(), "Administration"),
    ]
    for user, marker in cases:
        c = client.application.test_client()
        resp = login(c, user.email, follow_redirects=True)
        assert resp.status_code == 200
        assert marker in resp.get_data(as_text=True), user.email


def test_email_is_case_insensitive(client):
    user = UserFactory(email="Mixed.Case@Example.edu")
    resp = login(client, "  mixed.case@EXAMPLE.EDU ")
    assert resp.status_code == 302
    assert user.last_login_at is not None


def test_wrong_password_is_refused_and_audited(client):
    user = UserFactory()
    resp = login(client, user.email, "not the password")
    assert resp.status_code == 401
    assert "The e-mail or password is not correct." in resp.get_data(as_text=True)
    assert client.get("/home").status_code == 302
    assert "auth.login_failed" in actions()


def test_unknown_account_gets_the_same_answer(client):
    resp = login(client, "nobody@example.edu", "whatever-password")
    assert resp.status_code == 401
    assert "The e-mail or password is not correct." in resp.get_data(as_text=True)


def test_inactive_user_cannot_log_in(client):
    user = UserFactory(active=False)
    assert login(client, user.email).status_code == 401


def test_next_parameter_only_redirects_inside_the_site(client):
    user = UserFactory()
    token = csrf_token(client)
    data = {"email": user.email, "password": PASSWORD, "csrf_token": token}
    resp = client.post("/login?next=//evil.example/x", data=data)
    assert resp.headers["Location"] == "/home"
    client2 = client.application.test_client()
    token = csrf_token(client2)
    resp = client2.post("/login?next=/account", data={**data, "csrf_token": token})
    assert resp.headers["Location"] == "/account"


def test_login_and_logout_are_audited(client):
    user = UserFactory()
    login(client, user.email)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/home")})
    assert actions()[-2:] == ["auth.login", "auth.logout"]
    login_event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "auth.login")
    ).one()
    assert login_event.actor_id == user.id
    assert login_event.ip == "127.0.0.1"


def test_session_cookie_is_replaced_at_login(client):
    user = UserFactory()
    client.get("/login")
    before = client.get_cookie("exchange_session").value
    login(client, user.email)
    after = client.get_cookie("exchange_session").value
    assert before != after


def test_cookie_replayed_after_logout_is_refused(client):
    user = UserFactory()
    login(client, user.email)
    stolen = client.get_cookie("exchange_session").value
    assert client.get("/home").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/home")})

    attacker = client.application.test_client()
    attacker.set_cookie("exchange_session", stolen)
    resp = attacker.get("/home")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_remember_cookie_replayed_after_logout_is_refused(client):
    user = UserFactory()
    login(client, user.email, remember=True)
    remember = client.get_cookie("exchange_remember").value

    fresh = client.application.test_client()  # a new browser with only the remember cookie
    fresh.set_cookie("exchange_remember", remember)
    assert fresh.get("/home").status_code == 200

    client.post("/logout", data={"csrf_token": csrf_token(client, "/home")})
    replay = client.application.test_client()
    replay.set_cookie("exchange_remember", remember)
    assert replay.get("/home").status_code == 302


def test_deactivating_a_user_ends_their_sessions(client):
    user = UserFactory()
    login(client, user.email)
    assert client.get("/home").status_code == 200
    user.active = False
    db.session.commit()
    assert client.get("/home").status_code == 302


def test_expired_login_session_is_refused(client):
    user = UserFactory()
    login(client, user.email)
    row = db.session.scalars(sa.select(LoginSession).where(LoginSession.user_id == user.id)).one()
    from datetime import timedelta

    row.expires_at = row.created_at - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/home").status_code == 302


def test_cookie_attributes(app, client):
    user = UserFactory()
    resp = login(client, user.email, remember=True)
    cookies = resp.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("exchange_session="))
    remember_cookie = next(c for c in cookies if c.startswith("exchange_remember="))
    for cookie in (session_cookie, remember_cookie):
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
    # The session cookie lives as long as the browser; the remember cookie has an expiry.
    assert "Expires" not in session_cookie
    assert "Expires" in remember_cookie


def test_cookies_are_secure_outside_development(tmp_path, run_id, scratch_databases):
    from exchange import create_app

    prod = create_app(
        "production",
        SECRET_KEY="x" * 40,
        SQLALCHEMY_DATABASE_URI="sqlite://",
        INSTANCE_DIR=str(tmp_path),
    )
    assert prod.config["SESSION_COOKIE_SECURE"] is True
    assert prod.config["REMEMBER_COOKIE_SECURE"] is True
    assert prod.config["HSTS"] is True
    dev = create_app("development", SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_DIR=str(tmp_path))
    assert dev.config["SESSION_COOKIE_SECURE"] is False


def test_production_requires_a_secret_key(tmp_path, monkeypatch):
    import pytest

    from exchange import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production", SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_DIR=str(tmp_path))


def test_development_generates_and_keeps_a_secret_key(tmp_path, monkeypatch):
    from exchange import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app(
        "development", SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_DIR=str(tmp_path)
    ).config["SECRET_KEY"]
    second = create_app(
        "development", SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_DIR=str(tmp_path)
    ).config["SECRET_KEY"]
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_throttling_blocks_an_address_but_not_the_real_user(client):
    user = UserFactory()
    attacker = client.application.test_client()
    attacker_env = {"REMOTE_ADDR": "203.0.113.7"}
    codes = []
    for _ in range(7):
        token = csrf_token(attacker)
        resp = attacker.post(
            "/login",
            data={"email": user.email, "password": "guess-guess", "csrf_token": token},
            environ_base=attacker_env,
        )
        codes.append(resp.status_code)
    assert codes[:5] == [401] * 5  # LOGIN_LIMIT_PER_ACCOUNT_ADDRESS: 5 per 15 minutes
    assert codes[5:] == [429, 429]
    assert "Too many attempts" in resp.get_data(as_text=True)

    owner = client.application.test_client()
    token = csrf_token(owner)
    resp = owner.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "198.51.100.20"},
    )
    assert resp.status_code == 302


def test_throttling_per_account_across_addresses(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_LOCK_AFTER", 8)
    user = UserFactory()
    for i in range(8):
        c = client.application.test_client()
        token = csrf_token(c)
        resp = c.post(
            "/login",
            data={"email": user.email, "password": "wrong-wrong", "csrf_token": token},
            environ_base={"REMOTE_ADDR": f"192.0.2.{i + 1}"},
        )
        assert resp.status_code == 401
    c = client.application.test_client()
    token = csrf_token(c)
    resp = c.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "192.0.2.200"},
    )
    assert resp.status_code == 429  # a distributed guesser is slowed down too, for a while


def test_stored_hash_is_argon2id_with_expected_parameters(client):
    from exchange.accounts import operations as ops

    unit = UnitFactory()
    user = (
        ops.create_user("new@example.edu", "New Person", [], password=None, units=[unit])
        if False
        else UserFactory()
    )
    user.password_hash = passwords.hash_password("a-long-enough-password")
    assert re.match(r"^\$argon2id\$v=19\$m=65536,t=3,p=4\$", user.password_hash)


def test_password_is_rehashed_when_parameters_change(client):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    user = UserFactory(password_hash=weak.hash(PASSWORD))
    assert login(client, user.email).status_code == 302
    db.session.refresh(user)
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_logout_requires_post_and_csrf(client):
    user = UserFactory()
    login(client, user.email)
    assert client.get("/logout").status_code == 405
    resp = client.post("/logout")  # no CSRF token
    assert resp.status_code == 400
    assert client.get("/home").status_code == 200  # still logged in


def test_change_password_asks_for_the_current_one(client):
    user = UserFactory()
    login(client, user.email)
    other = client.application.test_client()
    login(other, user.email)

    token = csrf_token(client, "/account")
    resp = client.post(
        "/account/password",
        data={
            "current_password": "wrong",
            "password": "new-password-123",
            "confirm": "new-password-123",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 400
    assert "The current password is not correct." in resp.get_data(as_text=True)

    resp = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "new-password-123",
            "confirm": "new-password-123",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302
    assert passwords.verify_password(user.password_hash, "new-password-123")
    assert "auth.password_changed" in actions()
    assert client.get("/home").status_code == 200  # this browser stays logged in
    assert other.get("/home").status_code == 302  # the other one is logged out


def test_short_password_is_refused_with_a_message(client):
    user = UserFactory()
    login(client, user.email)
    token = csrf_token(client, "/account")
    resp = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "short",
            "confirm": "short",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 400
    assert "at least 10 characters" in resp.get_data(as_text=True)
    assert passwords.verify_password(user.password_hash, PASSWORD)


def test_preferences_change_language_and_time_zone(client):
    user = UserFactory()
    login(client, user.email)
    token = csrf_token(client, "/account")
    resp = client.post(
        "/account",
        data={
            "name": "Renamed Person",
            "locale": "zh_Hans_CN",
            "timezone": "Europe/Berlin",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302
    assert (user.name, user.locale, user.timezone) == (
        "Renamed Person",
        "zh_Hans_CN",
        "Europe/Berlin",
    )
    html = client.get("/home").get_data(as_text=True)
    assert '<html lang="zh-Hans-CN">' in html
    assert "Europe/Berlin" in html
