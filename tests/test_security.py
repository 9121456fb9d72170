"""The security baseline: every non-public route needs a login, CSRF, headers, errors."""

import pytest
from werkzeug.routing import BaseConverter, IntegerConverter

from .conftest import csrf_token, login
from .factories import UserFactory, admin

PUBLIC = {
    "static",
    "main.index",
    "main.livez",
    "main.healthz",
    "auth.login",
    "auth.forgot_password",
    "auth.reset_password",
}


def sample_url(app, rule):
    values = {}
    for name, converter in rule._converters.items():
        values[name] = 1 if isinstance(converter, IntegerConverter) else "x"
    assert all(isinstance(c, BaseConverter) for c in rule._converters.values())
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def private_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint not in PUBLIC]


def test_there_are_private_routes_to_check(app):
    assert len(private_rules(app)) >= 15


def test_every_private_route_sends_anonymous_users_to_login(app):
    client = app.test_client()
    token = csrf_token(client)
    checked = 0
    for rule in private_rules(app):
        url = sample_url(app, rule)
        if "GET" in rule.methods:
            resp = client.get(url)
        else:
            resp = client.post(url, data={"csrf_token": token})
        assert resp.status_code == 302, (rule.endpoint, resp.status_code)
        assert resp.headers["Location"].startswith("/login?next="), rule.endpoint
        checked += 1
    assert checked == len(private_rules(app))


def test_admin_routes_refuse_other_roles(app):
    user = UserFactory()  # a student
    client = app.test_client()
    login(client, user.email)
    token = csrf_token(client, "/home")
    for rule in private_rules(app):
        if not rule.endpoint.startswith("admin."):
            continue
        url = sample_url(app, rule)
        resp = (
            client.get(url)
            if "GET" in rule.methods
            else client.post(url, data={"csrf_token": token})
        )
        assert resp.status_code == 403, rule.endpoint


def test_post_without_csrf_token_is_refused(client):
    user = admin()
    login(client, user.email)
    resp = client.post("/admin/units/new", data={"code": "X", "name": "Y", "kind": "school"})
    assert resp.status_code == 400
    assert "The form expired" in resp.get_data(as_text=True)
    from exchange.accounts.models import Unit
    from exchange.extensions import db

    assert db.session.query(Unit).filter_by(code="X").count() == 0


def test_no_route_changes_state_on_get(app):
    """State-changing endpoints accept POST only (GET forms render, they do not write)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in {
            "auth.logout",
            "admin.user_set_active",
            "admin.user_invite",
            "admin.mail_resend",
            "auth.change_password",
        }:
            assert rule.methods - {"OPTIONS"} == {"POST"}, rule.endpoint


@pytest.mark.parametrize(
    "path,status",
    [
        ("/login", 200),
        ("/healthz", 200),
        ("/nowhere", 404),
        ("/home", 302),
        ("/static/css/app.css", 200),
        ("/admin/users", 302),
    ],
)
def test_security_headers_on_every_response(client, path, status):
    resp = client.get(path)
    assert resp.status_code == status
    csp = resp.headers["Content-Security-Policy"]
    for directive in (
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "default-src 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_hsts_in_development(tmp_path):
    from exchange import create_app

    dev = create_app("development", SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_DIR=str(tmp_path))
    resp = dev.test_client().get("/static/css/app.css")
    assert "Strict-Transport-Security" not in resp.headers
    assert "object-src 'none'" in resp.headers["Content-Security-Policy"]


def test_pages_are_not_cached(client):
    assert client.get("/login").headers["Cache-Control"] == "no-store"


def test_friendly_404_without_traceback(client):
    resp = client.get("/no/such/page")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert "Page not found" in html and "Traceback" not in html


def test_unhandled_exception_renders_the_500_page(tmp_path):
    from exchange import create_app

    app = create_app("development", SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_DIR=str(tmp_path))

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    resp = app.test_client().get("/boom")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert "Something went wrong" in html
    assert "secret internals" not in html and "Traceback" not in html


def test_too_large_upload_gets_413_page(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    resp = client.post(
        "/login", data=b"x" * (limit + 1), headers={"Content-Type": "application/octet-stream"}
    )
    assert resp.status_code == 413
    assert "larger than" in resp.get_data(as_text=True)


def test_json_clients_get_json_errors(client):
    resp = client.get("/nowhere", headers={"Accept": "application/json"})
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "Page not found"
