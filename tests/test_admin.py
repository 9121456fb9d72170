"""Admin pages: users, roles, units, audit log, mail."""

import re

import sqlalchemy as sa

from exchange.accounts.models import PasswordResetToken, Role, Unit, UnitFunction, User
from exchange.core.audit import AuditEvent
from exchange.extensions import db

from .conftest import csrf_token, login
from .factories import UnitFactory, UserFactory, admin, student


def admin_client(app):
    client = app.test_client()
    user = admin()
    login(client, user.email)
    return client, user


def audit_actions():
    return [e.action for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def test_users_list_searches_and_filters(app):
    client, _ = admin_client(app)
    UserFactory(name="Alice Wonder", email="alice@example.edu")
    UserFactory(name="Bob Builder", email="bob@example.edu", roles=(Role.COORDINATOR,))
    UserFactory(name="Carol Gone", email="carol@example.edu", active=False)

    html = client.get("/admin/users?q=alice").get_data(as_text=True)
    assert "Alice Wonder" in html and "Bob Builder" not in html
    html = client.get("/admin/users?q=BOB@EXAMPLE").get_data(as_text=True)
    assert "Bob Builder" in html
    html = client.get("/admin/users?role=coordinator").get_data(as_text=True)
    assert "Bob Builder" in html and "Alice Wonder" not in html
    html = client.get("/admin/users").get_data(as_text=True)
    assert "Carol Gone" not in html
    html = client.get("/admin/users?status=inactive").get_data(as_text=True)
    assert "Carol Gone" in html and "Alice Wonder" not in html
    html = client.get("/admin/users?q=nobody-matches").get_data(as_text=True)
    assert "No users match" in html


def test_users_search_takes_percent_and_underscore_literally_and_finds_student_numbers(app):
    client, _ = admin_client(app)
    UserFactory(name="Dora Dash", email="dora@example.edu")
    UserFactory(name="Ed 100% Sure", email="ed_sure@example.edu")
    pupil = student(name="Fay Number")

    html = client.get("/admin/users?q=_").get_data(as_text=True)
    assert "Ed 100% Sure" in html and "Dora Dash" not in html
    html = client.get("/admin/users?q=100%25").get_data(as_text=True)
    assert "Ed 100% Sure" in html and "Dora Dash" not in html
    html = client.get(f"/admin/users?q={pupil.profile.student_number.lower()}")
    assert "Fay Number" in html.get_data(as_text=True)


def test_users_list_paginates_and_keeps_filters(app):
    client, _ = admin_client(app)
    for i in range(30):
        UserFactory(name=f"Paged Person {i:02d}", roles=(Role.STUDENT,))
    html = client.get("/admin/users?role=student").get_data(as_text=True)
    assert "30 users" in html
    assert "role=student" in html and "page=2" in html
    page2 = client.get("/admin/users?role=student&page=2").get_data(as_text=True)
    assert "Paged Person 29" in page2 and "Paged Person 00" not in page2


def test_admin_creates_a_user_with_roles_and_units(app, dispatched):
    client, me = admin_client(app)
    unit = UnitFactory(code="PHYS")
    token = csrf_token(client, "/admin/users/new")
    resp = client.post(
        "/admin/users/new",
        data={
            "email": "New.Advisor@Example.edu",
            "name": "New Advisor",
            "roles": ["advisor", "student"],
            "units": [str(unit.id)],
            "function": "advisor",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email_key == "new.advisor@example.edu"))
    assert user.roles == {Role.ADVISOR, Role.STUDENT}
    assert [(m.unit.code, m.function) for m in user.memberships] == [("PHYS", UnitFunction.ADVISOR)]
    assert user.password_hash is None  # they choose it through the invitation
    assert (
        db.session.scalar(
            sa.select(PasswordResetToken).where(PasswordResetToken.user_id == user.id)
        )
        is not None
    )
    assert len(dispatched) == 1
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.created"))
    assert event.actor_id == me.id and event.details["roles"] == ["advisor", "student"]


def test_duplicate_email_is_refused_with_a_message(app):
    client, _ = admin_client(app)
    UserFactory(email="taken@example.edu")
    token = csrf_token(client, "/admin/users/new")
    resp = client.post(
        "/admin/users/new",
        data={
            "email": "TAKEN@example.edu",
            "name": "Someone",
            "roles": ["student"],
            "function": "member",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 200
    assert "An account with this e-mail already exists." in resp.get_data(as_text=True)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(User)
            .where(User.email_key == "taken@example.edu")
        )
        == 1
    )


def test_missing_role_is_refused(app):
    client, _ = admin_client(app)
    token = csrf_token(client, "/admin/users/new")
    resp = client.post(
        "/admin/users/new",
        data={"email": "x@example.edu", "name": "X", "function": "member", "csrf_token": token},
    )
    assert "Choose at least one role." in resp.get_data(as_text=True)


def test_changing_roles_and_units_is_audited(app):
    client, _ = admin_client(app)
    a, b = UnitFactory(code="AAA"), UnitFactory(code="BBB")
    user = student(a)
    token = csrf_token(client, f"/admin/users/{user.id}")
    resp = client.post(
        f"/admin/users/{user.id}",
        data={
            "email": user.email,
            "name": user.name,
            "roles": ["student", "advisor"],
            "units": [str(b.id)],
            "function": "advisor",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302
    db.session.refresh(user)
    assert user.roles == {Role.STUDENT, Role.ADVISOR}
    assert [m.unit.code for m in user.memberships] == ["BBB"]
    events = {e.action: e for e in db.session.scalars(sa.select(AuditEvent))}
    assert events["user.roles_changed"].details == {
        "from": ["student"],
        "to": ["advisor", "student"],
    }
    assert events["user.units_changed"].details == {
        "from": {"AAA": "member"},
        "to": {"BBB": "advisor"},
    }


def test_admin_cannot_remove_own_admin_role(app):
    client, me = admin_client(app)
    token = csrf_token(client, f"/admin/users/{me.id}")
    resp = client.post(
        f"/admin/users/{me.id}",
        data={
            "email": me.email,
            "name": me.name,
            "roles": ["student"],
            "function": "member",
            "csrf_token": token,
        },
    )
    assert "You cannot remove your own admin role." in resp.get_data(as_text=True)
    db.session.refresh(me)
    assert Role.ADMIN in me.roles


def test_deactivate_and_reactivate(app):
    client, _ = admin_client(app)
    user = UserFactory()
    victim_client = app.test_client()
    login(victim_client, user.email)
    assert victim_client.get("/home").status_code == 200

    token = csrf_token(client, f"/admin/users/{user.id}")
    client.post(f"/admin/users/{user.id}/active", data={"active": "0", "csrf_token": token})
    db.session.refresh(user)
    assert user.active is False
    assert victim_client.get("/home").status_code == 302
    assert login(app.test_client(), user.email).status_code == 401

    client.post(f"/admin/users/{user.id}/active", data={"active": "1", "csrf_token": token})
    db.session.refresh(user)
    assert user.active is True
    assert login(app.test_client(), user.email).status_code == 302
    assert audit_actions().count("user.deactivated") == 1
    assert audit_actions().count("user.activated") == 1


def test_unknown_user_is_404(app):
    client, _ = admin_client(app)
    assert client.get("/admin/users/999999").status_code == 404


def test_units_create_edit_and_validate(app):
    client, _ = admin_client(app)
    token = csrf_token(client, "/admin/units/new")
    resp = client.post(
        "/admin/units/new",
        data={
            "code": "law",
            "name": "Law School",
            "name_native": "法学院",
            "kind": "school",
            "student_count": "800",
            "active": "y",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302
    unit = db.session.scalar(sa.select(Unit).where(Unit.code == "LAW"))
    assert unit.name_native == "法学院" and unit.student_count == 800

    resp = client.post(
        f"/admin/units/{unit.id}",
        data={
            "code": "LAW",
            "name": "Law School (renamed)",
            "kind": "college",
            "student_count": "",
            "active": "y",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302
    db.session.refresh(unit)
    assert unit.name == "Law School (renamed)" and unit.student_count is None

    resp = client.post(
        "/admin/units/new",
        data={"code": "LAW", "name": "Clash", "kind": "school", "csrf_token": token},
    )
    assert "Another unit already has this code." in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/units/new",
        data={"code": "bad code!", "name": "X", "kind": "school", "csrf_token": token},
    )
    assert "Letters, digits" in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/units/new",
        data={
            "code": "NEG",
            "name": "X",
            "kind": "school",
            "student_count": "-4",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 200
    assert db.session.scalar(sa.select(Unit).where(Unit.code == "NEG")) is None

    html = client.get("/admin/units").get_data(as_text=True)
    assert "Law School (renamed)" in html
    actions = audit_actions()
    assert "unit.created" in actions and "unit.updated" in actions


def test_audit_log_page_filters(app):
    client, _ = admin_client(app)
    html = client.get("/admin/audit?action=auth.").get_data(as_text=True)
    assert "auth.login" in html


def test_html_in_names_is_escaped(app):
    client, _ = admin_client(app)
    UserFactory(name="<script>alert(1)</script>")
    html = client.get("/admin/users").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_pagination_links_ignore_url_for_options_in_the_query(app):
    """`?_external=1` or `_anchor=…` in the address must not steer the page links (url_for
    treats names starting with "_" as its own options)."""
    client, _ = admin_client(app)
    for i in range(30):
        UserFactory(name=f"Paged Student {i}", roles=(Role.STUDENT,))
    html = client.get("/admin/users?role=student&_external=1&_anchor=boom&_scheme=https").get_data(
        as_text=True
    )
    links = re.findall(r'class="page-link" href="([^"]*)"', html)
    assert links, html
    for link in links:
        assert link.startswith("/admin/users?"), link
        assert "role=student" in link and "page=" in link
        assert "#" not in link and "_external" not in link and "_scheme" not in link
