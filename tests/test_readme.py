"""The README tells a newcomer what they will find: its claims about the demo data and about
what is not built yet must match the application."""

import re
from pathlib import Path

import sqlalchemy as sa

from exchange.applications.models import Application, ApplicationStatus
from exchange.calls.models import Call
from exchange.catalogue.models import Agreement, Partner
from exchange.extensions import db

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
EMAILS = Path(__file__).resolve().parent.parent / "templates" / "emails"


def test_the_readme_counts_the_demo_partners_that_the_seed_adds(app, ctx):
    claim = re.search(r"`seed demo`[^.]*?adds (\d+)\s+demo\s+partners\s+with\s+agreements", README)
    assert claim, "the README says what `seed demo` adds to the catalogue"
    assert "starts empty: `seed demo` adds no partners" not in README
    assert app.test_cli_runner().invoke(args=["seed", "demo"]).exit_code == 0
    partners = db.session.scalar(sa.select(sa.func.count()).select_from(Partner))
    with_agreements = db.session.scalar(sa.select(sa.func.count(sa.distinct(Agreement.partner_id))))
    assert partners == with_agreements == int(claim.group(1))
    assert any(call.accepts_applications() for call in db.session.scalars(sa.select(Call)))


def test_no_mail_promises_a_step_the_readme_says_is_not_built():
    assert "Not built yet" in README and "nomination to the host" in README
    promises = [
        path.name
        for path in EMAILS.iterdir()
        if "nominat" in path.read_text(encoding="utf-8").lower()
    ]
    assert promises == []


def test_the_readme_names_the_demo_applicants_that_the_seed_approves(app, ctx):
    claim = re.search(
        r"closed call whose (\d+) applicants \(`applicant01@example.edu` … `applicant(\d+)@", README
    )
    assert claim, "the README says who applied to the closed demo call"
    assert app.test_cli_runner().invoke(args=["seed", "demo"]).exit_code == 0
    closed = [c.id for c in db.session.scalars(sa.select(Call)) if not c.accepts_applications()]
    approved = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Application)
        .where(Application.call_id.in_(closed), Application.status == ApplicationStatus.APPROVED)
    )
    assert approved == int(claim.group(1)) == int(claim.group(2))
