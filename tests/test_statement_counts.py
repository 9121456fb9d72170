"""Statements per page without any page cache: constant with few and many rows, and at most
six, for the office's list (every filter), the queues (every sort), the catalogue, a partner's
page, the student's home and the application page (draft and submitted)."""

import sqlalchemy as sa

from exchange.applications.models import ApplicationStatus
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
