"""The home pages state what the data says: open calls, the student's own deadlines, the steps
waiting on an approver (as many as the badge says), what the office has set up."""

import re
from datetime import timedelta

from exchange.calls.models import CallStatus
from exchange.chains.models import ApproverRule
from exchange.core.database import utcnow
from exchange.extensions import db

from .conftest import client_for
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    advisor,
    coordinator,
    student,
)
from .helpers import make_call, make_chain, submitted

OFFICE_ONLY = [("International office", ApproverRule.INTERNATIONAL_OFFICE, {})]


def home(client):
    return client.get("/home").get_data(as_text=True)


def test_a_student_without_applications_is_told_which_call_is_open(app):
    s = student(UnitFactory(code="PHY"))
    client = client_for(app, s)
    html = home(client)
    assert "When the international office opens an application round" in html
    assert 'data-testid="open-calls"' not in html

    call = CallFactory(title="Exchange 2027/28")
    OfferingFactory(call=call)
    CallFactory(
        title="Closed one",
        opens_at=utcnow() - timedelta(days=9),
        closes_at=utcnow() - timedelta(days=1),
    )
    html = home(client)
    assert "When the international office opens an application round" not in html
    assert "No applications yet" in html
    open_calls = re.findall(r'data-testid="open-call">(.*?)</li>', html, re.S)
    assert len(open_calls) == 1
    assert f'href="/calls/{call.id}"' in open_calls[0] and "Exchange 2027/28" in open_calls[0]
    assert "Applications are open until" in open_calls[0] and "Start an application" in html

    # Once applied, the call links to the application and says where it stands.
    application = ApplicationFactory(call=call, student=s)
    html = home(client)
    open_calls = re.findall(r'data-testid="open-call">(.*?)</li>', html, re.S)
    assert f'href="/applications/{application.id}"' in open_calls[0] and "Draft" in open_calls[0]


def test_the_students_next_deadline_is_their_own(app):
    unit = UnitFactory(code="PHY")
    call = make_call(title="Exchange call", closes_at=utcnow() + timedelta(days=10))
    application = submitted(call, unit)
    step = application.steps[0]
    assert step.due_at is not None  # the advisor's time limit
    client = client_for(app, application.student)
    row = re.search(r'data-testid="my-application">(.*?)</tr>', home(client), re.S).group(1)
    # The advisor's due date is not the student's deadline.
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[2].startswith("—") and "A decision at the step “Unit advisor”" in cells[2]

    draft = ApplicationFactory(call=CallFactory(), student=application.student)
    html = home(client)
    row = re.search(rf'href="/applications/{draft.id}"(.*?)</tr>', html, re.S).group(1)
    assert "You: complete and submit it before the deadline." in row
    assert re.search(r"<td class=\"small\">[^—<]+\d", row)  # the call's closing date

    draft.call.closes_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    row = re.search(rf'href="/applications/{draft.id}"(.*?)</tr>', home(client), re.S).group(1)
    assert "The deadline has passed" in row and "before the deadline" not in row


def test_an_advisors_home_lists_what_the_badge_counts(app):
    unit = UnitFactory(code="PHY")
    person = advisor(unit, name="Ada Advisor")
    client = client_for(app, person)
    assert "Nothing waits for you" in home(client)

    call = make_call(title="Exchange call")
    first = submitted(call, unit, name="Wang Fang")
    submitted(call, unit, name="Li Lei")
    submitted(call, UnitFactory(code="CHE"), name="Other Unit")  # not Ada's
    html = home(client)
    badge = re.search(r'data-testid="approvals-waiting">(\d+)', html).group(1)
    assert badge == "2"
    assert "Nothing waits for you" not in html
    assert "2 applications wait for you" in html
    rows = re.findall(r'data-testid="waiting-row">(.*?)</li>', html, re.S)
    assert len(rows) == 2 and "Other Unit" not in html
    assert f'href="/applications/{first.id}"' in html and "Unit advisor" in rows[0]


def test_a_coordinators_home_counts_what_is_set_up(app):
    office = coordinator()
    client = client_for(app, office)
    html = home(client)
    assert "are not set up yet" not in html
    assert "0 active partners" in html and "0 calls open for applications" in html
    assert 'data-testid="not-set-up"' in html

    make_chain(OFFICE_ONLY)
    AgreementFactory(partner=PartnerFactory(name="Alpha"))
    AgreementFactory(partner=PartnerFactory(name="Beta"))
    OfferingFactory(call=CallFactory())
    CallFactory(
        status=CallStatus.ALLOCATING,
        opens_at=utcnow() - timedelta(days=9),
        closes_at=utcnow() - timedelta(days=3),
    )
    db.session.commit()
    html = home(client)
    assert "3 active partners" in html  # the offering's agreement brings its own partner
    assert "3 current agreements" in html
    assert "1 active approval chain" in html
    assert "1 call open for applications" in html
    assert "1 closed call to review or allocate" in html
    assert 'data-testid="not-set-up"' not in html
    assert "Nothing waits for you" in html

    # The office approves too: its home lists what its badge counts.
    application = submitted(make_call(OFFICE_ONLY, title="Office call"), UnitFactory(code="PHY"))
    html = home(client)
    assert re.search(r'data-testid="approvals-waiting">1<', html)
    assert "1 application waits for you" in html
    assert f'href="/applications/{application.id}"' in html
