"""The README tells a newcomer what they will find: its claims about the demo data and about
what is not built yet must match the application."""

import re
from pathlib import Path

import sqlalchemy as sa

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
    assert "Not built yet" in README and "selection" in README
    promises = [
        path.name
        for path in EMAILS.iterdir()
        if "will now allocate" in path.read_text(encoding="utf-8")
    ]
    assert promises == []
