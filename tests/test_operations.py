"""Health check, CLI commands, migrations, locale and the append-only audit trail."""

import pytest
import sqlalchemy as sa
from alembic.command import check as alembic_check
from flask_migrate import Migrate  # noqa: F401 - the extension provides the alembic config

from exchange.accounts.models import Role, Unit, User
from exchange.catalogue.models import AgreementStatus, PartnerStatus
from exchange.catalogue.rules import AgreementData, PartnerData, normalise_agreement
from exchange.core import audit
from exchange.core.audit import AuditEvent
from exchange.extensions import db
from exchange.selection.demo import STUDENTS as DEMO_APPLICANTS

from .conftest import login
from .factories import UserFactory


def test_healthz_reports_database_and_broker(client):
    resp = client.get("/healthz")
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True and body["broker"]["ok"] is True


def test_healthz_answers_503_when_the_broker_is_down(app, client):
    celery = app.extensions["celery"]
    saved = celery.conf.broker_url
    celery.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        resp = client.get("/healthz")
    finally:
        celery.conf.broker_url = saved
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "unavailable" and body["broker"]["ok"] is False
    assert body["database"]["ok"] is True


@pytest.mark.committed  # not inside the shared test transaction: this app has its own database
def test_healthz_answers_503_when_the_database_is_down(tmp_path):
    from exchange import create_app

    broken = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/no/such/dir.db",
        INSTANCE_DIR=str(tmp_path),
        BROKER_FOLDER=str(tmp_path / "broker"),
    )
    resp = broken.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["database"]["ok"] is False


def test_migrations_match_the_models(app):
    """`flask db check`: no model change is missing a migration."""
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        alembic_check(config)


def test_cli_creates_a_user_with_password_from_stdin(app, ctx):
    from .factories import UnitFactory

    UnitFactory(code="CHEM")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Cli@Example.edu",
            "--name",
            "Cli User",
            "--role",
            "advisor",
            "--role",
            "student",
            "--unit",
            "chem",
            "--password-stdin",
        ],
        input="a-very-long-password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email_key == "cli@example.edu"))
    assert user.roles == {Role.ADVISOR, Role.STUDENT}
    assert [u.code for u in user.units] == ["CHEM"]
    assert login(app.test_client(), "cli@example.edu", "a-very-long-password").status_code == 302


def test_cli_explains_bad_input(app, ctx):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args="users create --email x@example.edu --name X --role student --unit NOPE".split()
    )
    assert result.exit_code != 0 and "no unit with code 'NOPE'" in result.output
    result = runner.invoke(
        args="users create --email x@example.edu --name X --role student --password-stdin".split(),
        input="short\n",
    )
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    assert db.session.scalar(sa.select(User).where(User.email_key == "x@example.edu")) is None


def test_seed_demo_is_idempotent_and_logins_work(app, ctx):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    emails = set(db.session.scalars(sa.select(User.email_key)))
    for role in ("student", "advisor", "coordinator", "admin"):
        assert f"{role}@example.edu" in emails
        client = app.test_client()
        assert login(client, f"{role}@example.edu", "exchange-demo").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 4
    # one login per role, and the applicants of the closed demo call (exchange/selection/demo.py)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 4 + DEMO_APPLICANTS


@pytest.mark.committed  # no shared app context: the CLI must load the production app
def test_seed_demo_refuses_production(tmp_path):
    from exchange import create_app

    prod = create_app(
        "production",
        SECRET_KEY="k" * 40,
        SQLALCHEMY_DATABASE_URI="sqlite://",
        INSTANCE_DIR=str(tmp_path),
    )
    result = prod.test_cli_runner().invoke(args=["seed", "demo"])
    assert result.exit_code != 0 and "never loaded in production" in result.output


def test_audit_events_cannot_be_changed_or_deleted(app, ctx):
    event = audit.record("test.event", details={"a": 1})
    db.session.commit()
    event.action = "tampered"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    # Below the ORM too: the database itself refuses.
    with pytest.raises(sa.exc.DatabaseError):
        with db.session.begin_nested():
            db.session.execute(sa.text("UPDATE audit_events SET action = 'x'"))
    with pytest.raises(sa.exc.DatabaseError):
        with db.session.begin_nested():
            db.session.execute(sa.text("DELETE FROM audit_events"))
    assert (
        db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.id == event.id))
        == "test.event"
    )


def test_browser_language_is_used_before_login(client):
    html = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(
        as_text=True
    )
    assert '<html lang="zh-Hans-CN">' in html
    html = client.get("/login", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="en">' in html


def test_times_are_shown_in_the_users_time_zone(app, ctx):
    from datetime import UTC, datetime

    from flask import render_template_string

    user = UserFactory(timezone="America/New_York")
    client = app.test_client()
    login(client, user.email)
    html = client.get("/home").get_data(as_text=True)
    assert "America/New_York" in html
    with app.test_request_context():
        from flask import g

        g.mail_timezone = "Asia/Shanghai"
        shown = render_template_string(
            "{{ when|datetime('short') }}", when=datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
        )
    assert "8:00" in shown  # UTC midnight is 08:00 in Shanghai


def test_naive_datetimes_are_refused(app, ctx):
    from datetime import datetime

    user = UserFactory()
    user.last_login_at = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db.session.flush()
    db.session.rollback()


def test_audit_details_read_as_changes():
    from exchange.core.audit import describe

    lines = describe(
        {
            "partner_id": 3,
            "city": [None, "München"],
            "places_per_year": [2, 6],
            "units": [[], ["CS"]],
            "reason": "closed",
        }
    )
    # Field names in words (registered labels, else made readable), never raw keys.
    assert lines == ["City: München", "Places per year: 2 → 6", "Units: — → CS", "Reason: closed"]


def test_normalise_agreement_reports_each_field_in_form_order(app):
    data = AgreementData(
        type="nonsense",
        status="expired",
        first_academic_year="2030",
        last_academic_year="2029",
        places_per_year="-1",
        months_per_mobility="61",
        degree_levels=[],
        subject_areas=["0000x"],
        language="xx-not",
        language_level="Z9",
        min_gpa="5",
        min_gpa_scale="4",
    )
    values, problems = normalise_agreement(data)
    assert [name for name, _message in problems] == [
        "type",
        "status",
        "last_academic_year",
        "places_per_year",
        "months_per_mobility",
        "degree_levels",
        "subject_areas",
        "language",
        "language_level",
        "min_gpa",
    ]
    assert values["status"] is AgreementStatus.DRAFT and values["min_gpa_scale"] == 4

    _values, problems = normalise_agreement(
        AgreementData(
            type="bilateral", first_academic_year=2026, last_academic_year=2027, language="en"
        )
    )
    assert [(name, str(message)) for name, message in problems] == [
        ("language_level", "Give both the language and its CEFR level, or neither.")
    ]


def test_partner_data_reports_each_field_in_form_order(app):
    data = PartnerData(
        name="",
        country="Atlantis",
        website="ftp://example.org",
        hei_id="not a domain",
        domains=["bad_domain", "x" * 40 + ".org"] + [f"d{i:03}.{'x' * 40}.org" for i in range(25)],
        languages=["klingon"],
        status="dormant",
    )
    values, problems = data.normalised()
    assert [name for name, _message in problems] == [
        "name",
        "country",
        "website",
        "hei_id",
        "domains",
        "domains",
        "languages",
        "status",
    ]
    messages = [str(message) for _name, message in problems]
    assert messages[3] == "“not a domain” is not an internet domain."
    assert messages[5] == "Too many domains."
    assert values["status"] is PartnerStatus.ACTIVE and len(values["domains"]) <= 1000

    values, problems = PartnerData(
        name="  Universität Heidelberg ",
        country="de",
        hei_id="",
        domains=["WWW.Uni-Heidelberg.de", "uni-heidelberg.de", "urz.uni-heidelberg.de"],
        languages=["de", "EN", "de"],
    ).normalised()
    assert problems == []
    # Without a hei-id the first domain stands for it; each domain and language once.
    assert (values["name"], values["country"], values["hei_id"]) == (
        "Universität Heidelberg",
        "DE",
        "uni-heidelberg.de",
    )
    assert values["domains"] == "uni-heidelberg.de urz.uni-heidelberg.de"
    assert values["languages"] == "de en"
