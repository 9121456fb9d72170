"""Bad input never breaks a page: every route, with every parameter set to a NUL byte, an
integer out of the database's range, a negative number, an over-long or a non-UTF-8 value, as
anonymous and as each role, answers a friendly 4xx (or works), never a 500.

The parameter names are read from the code (request.args / request.form look-ups and the
fields of every form), so a new parameter is fuzzed without touching this file."""

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import url_for
from werkzeug.routing import IntegerConverter
from wtforms import FieldList, Form, FormField

from exchange.catalogue.models import PartnerContact
from exchange.extensions import db, limiter

from .conftest import client_for, csrf_token
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    UnitFactory,
    admin,
    advisor,
    coordinator,
    student,
)

SOURCE = Path(__file__).resolve().parent.parent / "exchange"
LOOKUP_RE = re.compile(r"""(?:args|form|values|formdata)\.(?:get|getlist)\(\s*["'](\w+)["']""")

NUL = "a\x00b"
HUGE = "9" * 25
BEYOND_INT32 = str(2**31)
BEYOND_INT64 = str(2**63)
NEGATIVE = "-99999999999999999999"
LONG = "x" * 1200
NOT_UTF8 = b"\xff\xfe\xc3("

# name -> value of every kind, as text (NOT_UTF8 is sent as raw bytes)
KINDS = {
    "nul": NUL,
    "huge": HUGE,
    "int32": BEYOND_INT32,
    "negative": NEGATIVE,
    "long": LONG,
    "not-utf8": None,
}
# Kinds that are never valid input: refused before any view sees them.
REFUSED = {"nul", "not-utf8"}


def _form_fields(form_cls, prefix=""):
    for name, unbound in form_cls._unbound_fields or _unbound(form_cls):
        if unbound.field_class is FieldList:
            inner = unbound.args[0]
            if inner.field_class is FormField:
                yield from _form_fields(inner.args[0], f"{prefix}{name}-0-")
            else:
                yield f"{prefix}{name}-0"
        elif unbound.field_class is FormField:
            yield from _form_fields(unbound.args[0], f"{prefix}{name}-")
        else:
            yield prefix + name


def _unbound(form_cls):
    form_cls()  # binds the class's fields (needs a request context)
    return form_cls._unbound_fields


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def parameter_names():
    names = set()
    for path in SOURCE.rglob("*.py"):
        names.update(LOOKUP_RE.findall(path.read_text()))
    for form_cls in _subclasses(Form):
        if form_cls.__module__.startswith("exchange."):
            names.update(_form_fields(form_cls))
    names.discard("csrf_token")
    return sorted(names)


@pytest.fixture
def world():
    """Something real behind every id, so that requests get past their 404s."""
    unit = UnitFactory()
    call = CallFactory()
    offering = OfferingFactory(call=call, agreement=AgreementFactory())
    owner = student(unit)
    application = ApplicationFactory(call=call, student=owner, choices=[offering])
    contact = PartnerContact(partner=offering.agreement.partner, name="Ms Contact")
    db.session.add(contact)
    db.session.commit()
    ids = {
        "unit_id": unit.id,
        "call_id": call.id,
        "offering_id": offering.id,
        "agreement_id": offering.agreement_id,
        "partner_id": offering.agreement.partner_id,
        "application_id": application.id,
        "contact_id": contact.id,
        "user_id": owner.id,
    }
    users = {
        "student": owner,
        "advisor": advisor(unit),
        "coordinator": coordinator(),
        "admin": admin(),
    }
    return ids, users


def _routes(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def _url(app, rule, ids, bad=None):
    """The rule's URL with real ids (or `bad` in every path variable)."""
    values = {}
    for name, converter in rule._converters.items():
        if bad is not None:
            values[name] = bad
        elif isinstance(converter, IntegerConverter):
            values[name] = ids.get(name, 1)
        else:
            values[name] = "up"
    if bad is None:
        with app.test_request_context():
            return url_for(rule.endpoint, **values)
    path = rule.rule
    for name in rule._converters:
        path = re.sub(rf"<(?:\w+:)?{name}>", bad, path)
    return path


def _query(names, kind):
    if kind == "not-utf8":
        raw = quote(NOT_UTF8)
    else:
        raw = quote(KINDS[kind])
    return "&".join(f"{name}={raw}" for name in names)


class Fuzzer:
    def __init__(self, app, names):
        self.app = app
        self.names = names
        self.problems = []
        self.count = 0

    def check(self, client, who, method, url, kind, **kwargs):
        where = f"{who} {method} {url[:100]} [{kind}]"
        self.count += 1
        try:
            resp = client.open(url, method=method, **kwargs)
            resp.get_data()
            resp.close()
        except Exception as exc:  # TESTING propagates what would be a 500
            self.problems.append(f"{where}: {type(exc).__name__}: {str(exc)[:200]}")
            return
        status = resp.status_code
        if status >= 500:
            self.problems.append(f"{where}: {status}")
        elif kind in REFUSED and status != 400:
            self.problems.append(f"{where}: {status}, not 400")
        elif (kind in REFUSED or status == 404) and 'class="error-code' not in resp.get_data(
            as_text=True
        ):
            self.problems.append(f"{where}: {status} without the friendly error page")

    def route(self, client, who, token, rule, ids):
        methods = sorted(rule.methods & {"GET", "POST"})
        if rule._converters:
            for bad in (HUGE, BEYOND_INT32, BEYOND_INT64, LONG, quote(NUL), "%FF%FE"):
                url = _url(self.app, rule, ids, bad)
                kind = "nul" if bad == quote(NUL) else "not-utf8" if bad == "%FF%FE" else "path"
                if methods[0] == "POST":
                    self.check(client, who, "POST", url, kind, **self._post(token, None))
                else:
                    self.check(client, who, "GET", url, kind)
        url = _url(self.app, rule, ids)
        for kind in KINDS:
            if "GET" in methods:
                self.check(client, who, "GET", f"{url}?{_query(self.names, kind)}", kind)
            if "POST" in methods:
                self.check(client, who, "POST", url, kind, **self._post(token, kind))

    def _post(self, token, kind):
        body = f"csrf_token={quote(token)}"
        if kind is not None:
            body += "&" + _query(self.names, kind)
        return {"data": body.encode(), "content_type": "application/x-www-form-urlencoded"}


def test_the_fuzzer_knows_the_parameters(app):
    with app.test_request_context():
        names = parameter_names()
    for expected in ("q", "page", "unit", "user", "email", "name", "sort", "languages-0-level"):
        assert expected in names


def test_no_input_gets_a_500(app, world, monkeypatch):
    ids, users = world
    monkeypatch.setattr(limiter, "enabled", False)  # thousands of requests from one address
    with app.test_request_context():
        names = parameter_names()
    fuzzer = Fuzzer(app, names)
    anonymous = app.test_client()
    clients = [("anonymous", anonymous, csrf_token(anonymous))]
    for role, user in users.items():
        client = client_for(app, user)
        clients.append((role, client, csrf_token(client, "/account")))
    for rule in _routes(app):
        if rule.endpoint == "auth.logout":
            continue  # would end the session the other routes are tried with
        for who, client, token in clients:
            fuzzer.route(client, who, token, rule, ids)
    assert fuzzer.count > 2000
    assert fuzzer.problems == [], f"{len(fuzzer.problems)} problems:\n" + "\n".join(
        fuzzer.problems[:400]
    )


def test_every_int_route_variable_is_bounded_to_the_database(app):
    from exchange.core.params import DB_INT_MAX

    converters = [
        c
        for rule in app.url_map.iter_rules()
        for c in rule._converters.values()
        if isinstance(c, IntegerConverter)
    ]
    assert len(converters) > 30
    assert all(c.max == DB_INT_MAX and not c.signed for c in converters)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("12", 12),
        (" 7 ", 7),
        ("0", None),
        ("-3", None),
        (BEYOND_INT32, None),
        (HUGE, None),
        ("²", None),  # str.isdigit() says yes, int() says no
        ("1e3", None),
        ("", None),
        (None, None),
        (5, 5),
        (True, None),
    ],
)
def test_whole_reads_numbers_within_the_database_range(value, expected):
    from exchange.core.params import whole

    assert whole(value) == expected


def test_examples_of_the_report_get_friendly_answers(app, world):
    _ids, users = world
    client = client_for(app, users["admin"])
    resp = client.get(f"/applications/{HUGE}")
    assert resp.status_code == 404 and 'class="error-code' in resp.get_data(as_text=True)
    for path in ("/notifications/", "/admin/users", "/catalogue/", "/approvals/"):
        assert client.get(f"{path}?page={HUGE}&unit={HUGE}&user={HUGE}").status_code == 200
    assert client.get(f"/notifications/digest-preview?user={HUGE}").status_code == 404
    for search in ("/catalogue/?q=a%00b", "/admin/users?q=a%00b", "/approvals/?q=%FFx"):
        resp = client.get(search)
        assert resp.status_code == 400, search
        assert "Bad request" in resp.get_data(as_text=True)
    anonymous = app.test_client()
    token = csrf_token(anonymous)
    resp = anonymous.post(
        "/login", data={"email": "a\x00b@x.org", "password": "p", "csrf_token": token}
    )
    assert resp.status_code == 400
    resp = client.post(
        "/account",
        data={"name": "Ada\x00", "csrf_token": csrf_token(client, "/account")},
    )
    assert resp.status_code == 400
    token = csrf_token(client, "/account").encode()
    body = b"".join(
        b'--XX\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % pair
        for pair in ((b"csrf_token", token), (b"name", b"Ad\xe9"))  # Latin-1, not UTF-8
    )
    resp = client.post(
        "/account", data=body + b"--XX--\r\n", content_type="multipart/form-data; boundary=XX"
    )
    assert resp.status_code == 400
