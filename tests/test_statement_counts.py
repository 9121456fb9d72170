"""Statements per page without any page cache: constant with few and many rows, and at most
six, for the office's list (every filter), the queues (every sort), the catalogue, a partner's
page, the student's home and the application page (draft and submitted)."""

import re
from decimal import Decimal

import sqlalchemy as sa

from exchange.accounts.models import CEFR
from exchange.applications.models import ApplicationStatus
from exchange.approvals import operations as approval_ops
from exchange.approvals.models import Decision
from exchange.approvals.queue import SORTS
from exchange.catalogue.models import Partner
from exchange.extensions import db

from .conftest import client_for
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    coordinator,
    student,
)
from .helpers import current
from .statements import StatementCounter
from .test_application_lists import url
from .test_approvals import advisor, make_call, submitted

BUDGET = 6


def statements(client, path):
    client.get(path)  # first-time loads of the process
    with StatementCounter(db.engine) as counter:
        resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    return [s for s in counter.statements if not s.startswith("SAVEPOINT")]


def grow(call, unit, n):
    for _ in range(n):
        submitted(call, unit)
    for _ in range(n):
        AgreementFactory(partner=PartnerFactory())
        OfferingFactory(call=call)
    db.session.commit()


def test_every_page_takes_a_fixed_number_of_statements_within_budget(app):
    unit = UnitFactory()
    call = make_call()
    pupil = student(unit, name="Stu Dent")
    draft = ApplicationFactory(student=pupil, call=call, choices=list(call.offerings))
    other = CallFactory()
    sent = ApplicationFactory(
        student=pupil,
        call=other,
        choices=[OfferingFactory(call=other)],
        status=ApplicationStatus.SUBMITTED,
    )
    reviewed = submitted(call, unit)
    grow(call, unit, 2)
    office, adv = coordinator(), advisor(unit)
    partner = db.session.scalar(sa.select(Partner.id).order_by(Partner.id))
    offering = call.offerings[0]
    visits = {
        "office": (
            office,
            [
                url(call),
                url(call, status=["submitted", "in_review"], sort="gpa"),
                url(call, unit=unit.id, q="student", sort="name", dir="desc"),
                url(call, partner=offering.agreement.partner_id),
                url(call, choice=offering.id, first_choice="1"),
                url(call, page=2),
                "/approvals/",
                *(f"/approvals/?sort={s}" for s in SORTS),
                f"/approvals/?overdue=1&call={call.id}&q=a",
                "/catalogue/",
                f"/catalogue/partners/{partner}",
                f"/applications/{reviewed.id}",
            ],
        ),
        "advisor": (
            adv,
            [
                "/approvals/",
                *(f"/approvals/?sort={s}" for s in SORTS),
                f"/applications/{reviewed.id}",
            ],
        ),
        "student": (
            pupil,
            [
                "/home",
                "/catalogue/",
                "/catalogue/?eligible=1&open_call=1",
                f"/catalogue/partners/{partner}",
                f"/applications/{draft.id}",
                f"/applications/{sent.id}",
            ],
        ),
    }
    clients = {who: client_for(app, user) for who, (user, _paths) in visits.items()}
    few = {
        (who, path): statements(clients[who], path)
        for who, (_user, paths) in visits.items()
        for path in paths
    }
    grow(call, unit, 30)
    many = {
        (who, path): statements(clients[who], path)
        for who, (_user, paths) in visits.items()
        for path in paths
    }
    assert {k: len(v) for k, v in many.items()} == {k: len(v) for k, v in few.items()}
    # A reviewer who is not the current step's approver is also looked up as a substitute
    # (approvals.operations.decider_for): one statement more, not yet folded into another.
    budget = {("office", f"/applications/{reviewed.id}"): BUDGET + 1}
    over = {
        k: [s[:60].replace("\n", " ") for s in v]
        for k, v in many.items()
        if len(v) > budget.get(k, BUDGET)
    }
    assert not over, "\n".join(f"{k}: {v}" for k, v in over.items())


def restricted_offerings(call, n):
    """Offerings whose agreements name the units, degree levels and languages they are open
    to: what the draft's page reads to say, per offering, why the student does not meet it."""
    for _ in range(n):
        agreement = AgreementFactory(
            partner=PartnerFactory(),
            all_units=False,
            units=[UnitFactory()],
            min_gpa=Decimal("3.8"),
            language="de",
            language_level=CEFR.B2,
        )
        OfferingFactory(call=call, agreement=agreement)
    db.session.commit()


def test_the_draft_page_reads_its_offerings_requirements_in_one_go(app):
    # The draft's page once loaded each unit-restricted agreement's units on its own: 35
    # statements at 200 offerings.
    call = make_call()
    pupil = student(UnitFactory())
    draft = ApplicationFactory(student=pupil, call=call, choices=list(call.offerings))
    restricted_offerings(call, 2)
    client = client_for(app, pupil)
    page = f"/applications/{draft.id}"
    few = statements(client, page)
    restricted_offerings(call, 30)
    many = statements(client, page)
    assert len(many) == len(few) <= BUDGET, [s[:60] for s in many]
    html = client.get(page).get_data(as_text=True)
    assert html.count('data-testid="offering"') == len(call.offerings)
    assert html.count("Open only to students of") == 32


def test_the_submitted_page_names_the_step_it_waits_for_without_loading_the_steps(app):
    # The page once loaded all the application's steps, a statement of their own, to name
    # the one it waits for; the statement that loads the application now says which.
    unit = UnitFactory()
    application = submitted(make_call(), unit)
    client = client_for(app, application.student)
    page = f"/applications/{application.id}"
    client.get(page)
    db.session.expire_all()  # as in a request of its own: nothing of the application loaded
    with StatementCounter(db.engine) as counter:
        assert client.get(page).status_code == 200
    ran = counter.statements
    assert not [s for s in ran if re.match(r"\s*SELECT application_steps\.", s)], ran
    assert "A decision at the step “Unit advisor”" in client.get(page).get_data(as_text=True)
    approval_ops.decide_step(current(application), Decision.APPROVE, None, actor=advisor(unit))
    db.session.commit()
    html = client.get(page).get_data(as_text=True)
    assert "A decision at the step “International office”" in html
    assert "Unit advisor”" not in html
