"""The security baseline: every non-public route needs a login, CSRF, headers, errors."""

import io

import pytest
from werkzeug.routing import BaseConverter, IntegerConverter

from exchange.extensions import db

from .conftest import client_for, csrf_token, login
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


# --- downloads and exports -------------------------------------------------------------------

PDF_AND_HTML = b"%PDF-1.4\n<html><body>review</body></html>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _downloads(app, tmp_path, monkeypatch):
    """One stored application document (a PNG uploaded as "img.svg") and one signed agreement
    (a PDF that is also HTML, uploaded as "review.html"); returns {url: expected name}."""
    from exchange.applications import operations as app_ops
    from exchange.calls.models import DocumentKind
    from exchange.catalogue import operations as catalogue_ops

    from .factories import AgreementFactory, ApplicationFactory, CallFactory

    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    call = CallFactory()
    application = ApplicationFactory(call=call)
    document = app_ops.upload_document(
        application, DocumentKind.TRANSCRIPT, io.BytesIO(PNG), "img.svg", actor=application.student
    )
    agreement = AgreementFactory()
    catalogue_ops.attach_document(agreement, io.BytesIO(PDF_AND_HTML), "review.html", actor=admin())
    db.session.commit()
    return application, {
        f"/applications/documents/{document.id}": ("image/png", "img.png"),
        f"/catalogue/agreements/{agreement.id}/document": ("application/pdf", "review.pdf"),
        f"/calls/{call.id}/applications/export.csv": ("text/csv", None),
        f"/calls/{call.id}/applications/export.xlsx": (None, None),
        "/catalogue/export.csv": ("text/csv", None),
        "/catalogue/export.xlsx": (None, None),
    }


DOWNLOAD_ENDPOINTS = {
    "applications.document",
    "catalogue.agreement_document",
    "application_lists.export_csv",
    "application_lists.export_xlsx",
    "catalogue_io.export_csv",
    "catalogue_io.export_xlsx",
}


def test_the_download_list_names_every_download_route(app):
    """A new export or download route must join the tests below."""
    found = {
        r.endpoint
        for r in app.url_map.iter_rules()
        if "GET" in r.methods
        and r.endpoint != "static"
        and any(word in r.rule for word in ("export", "document", "download"))
    }
    assert found == DOWNLOAD_ENDPOINTS


def test_downloads_and_exports_are_never_stored_by_caches(app, tmp_path, monkeypatch):
    application, urls = _downloads(app, tmp_path, monkeypatch)
    staff = client_for(app, admin())
    owner = client_for(app, application.student)
    for url in urls:
        client = owner if url.startswith("/applications/") else staff
        resp = client.get(url)
        resp.get_data()  # streamed exports run to their end
        resp.close()
        assert resp.status_code == 200, url
        assert resp.headers["Content-Disposition"].startswith("attachment"), url
        assert "no-store" in resp.headers["Cache-Control"], (url, resp.headers["Cache-Control"])


def test_every_page_but_static_assets_is_no_store(app):
    client = client_for(app, admin())
    for path in ("/home", "/nowhere", "/admin/users?format=x", "/healthz", "/livez"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/static/css/app.css").headers.get("Cache-Control", "")


def test_downloads_carry_the_extension_of_their_sniffed_type(app, tmp_path, monkeypatch):
    application, urls = _downloads(app, tmp_path, monkeypatch)
    staff = client_for(app, admin())
    owner = client_for(app, application.student)
    for url, (content_type, name) in urls.items():
        if name is None:
            continue
        client = owner if url.startswith("/applications/") else staff
        resp = client.get(url)
        assert resp.headers["Content-Type"] == content_type, url
        assert f"filename={name}" in resp.headers["Content-Disposition"], (
            url,
            resp.headers["Content-Disposition"],
        )


@pytest.mark.parametrize(
    "name,content_type,expected",
    [
        ("review.html", "application/pdf", "review.pdf"),
        ("img.svg", "image/png", "img.png"),
        ("photo.JPEG", "image/jpeg", "photo.JPEG"),
        ("scan.pdf", "application/pdf", "scan.pdf"),
        ("no extension", "image/png", "no extension.png"),
        ("archive.tar.gz", "application/pdf", "archive.tar.pdf"),
        (".htaccess", "application/pdf", "htaccess.pdf"),
        ("", "application/pdf", "document.pdf"),
    ],
)
def test_download_name_takes_the_extension_of_the_type(name, content_type, expected):
    from exchange.core.uploads import download_name

    assert download_name(name, content_type) == expected
