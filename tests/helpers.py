"""Helpers that several test modules share (kept out of the test modules, which import
only from here, conftest, factories and the fixtures' modules)."""

import io
import re
import time
from datetime import timedelta
from decimal import Decimal
from itertools import count

import sqlalchemy as sa

from exchange.accounts.models import DegreeLevel, StudentProfile
from exchange.applications import operations as app_ops
from exchange.applications.models import ApplicationStatus
from exchange.approvals import operations as approval_ops
from exchange.calls.models import CallStatus
from exchange.catalogue import importer
from exchange.catalogue.models import Partner
from exchange.chains.models import ApprovalChain, ApprovalStepTemplate, ApproverRule, RestartFrom
from exchange.core.database import utcnow
from exchange.extensions import db
from exchange.mail.models import OutboxMail

from .conftest import csrf_token, login
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    student,
)

# --- approval chains and submitted applications ----------------------------------------


ADVISOR_THEN_OFFICE = [
    ("Unit advisor", ApproverRule.UNIT_ADVISOR, {}),
    ("International office", ApproverRule.INTERNATIONAL_OFFICE, {}),
]


_chains = count(1)


def make_chain(steps, restart=RestartFrom.FIRST_STEP):
    """A chain template: (name, rule, extra step fields) in order."""
    chain = ApprovalChain(
        name=f"Chain {next(_chains)}",
        restart_from=restart,
        steps=[
            ApprovalStepTemplate(position=i, name=name, rule=rule, **extra)
            for i, (name, rule, extra) in enumerate(steps, start=1)
        ],
    )
    db.session.add(chain)
    db.session.commit()
    return chain


def make_call(steps=ADVISOR_THEN_OFFICE, restart=RestartFrom.FIRST_STEP, **kwargs):
    call = CallFactory(required_documents="", **kwargs)
    OfferingFactory(call=call, agreement=AgreementFactory(partner=PartnerFactory(name="Alpha")))
    OfferingFactory(call=call, agreement=AgreementFactory(partner=PartnerFactory(name="Beta")))
    if steps is not None:
        call.approval_chain = make_chain(steps, restart)
    db.session.commit()
    return call


def submitted(call, unit=None, user=None, **student_fields):
    """A submitted application of a (new) student of `unit` ranking the call's offerings."""
    user = user or student(unit, **student_fields)
    if user.profile is None:
        user.profile = StudentProfile(degree_level=DegreeLevel.BACHELOR)
    application = ApplicationFactory(call=call, student=user, choices=list(call.offerings))
    app_ops.submit_application(application, actor=user)
    db.session.commit()
    return application


def current(application):
    db.session.refresh(application)
    return approval_ops.current_step(application)


# --- the partner import -------------------------------------------------------------------


def run(text, fmt="csv", dry_run=False, filename="partners.csv", mode=importer.ImportMode.KEEP):
    content = text.encode("utf-8") if isinstance(text, str) else text
    result = importer.import_file(
        content, fmt, actor=None, filename=filename, dry_run=dry_run, mode=mode
    )
    if not dry_run and not result.problems:
        db.session.commit()
    return result


def partners():
    return db.session.scalars(sa.select(Partner).order_by(Partner.name_key)).all()


def upload(client, content, filename="partners.csv"):
    token = csrf_token(client, "/catalogue/import")
    return client.post(
        "/catalogue/import",
        data={"csrf_token": token, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def hidden(html, name):
    return re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html).group(1)


# --- waiting on a real worker -------------------------------------------------------------


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


# --- invited students ------------------------------------------------------------------------


NEW_PASSWORD = "a long new password 42"


def accept_invitation(app, user):
    """Follow the link of the invitation mail and choose a password; a logged-in client."""
    mail = db.session.scalar(
        sa.select(OutboxMail).where(
            OutboxMail.recipient_id == user.id, OutboxMail.template == "account_invitation"
        )
    )
    link = re.search(r"/password/reset/[\w-]+", mail.body_text).group(0)
    client = app.test_client()
    resp = client.post(
        link,
        data={
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token(client, link),
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert login(client, user.email, NEW_PASSWORD).status_code == 302
    return client


# --- selection ------------------------------------------------------------------------------


def closed_call_tokyo_lyon(gpas, *, unit=None):
    """A closed call offering Tokyo (2 places) and Lyon (1), and one approved application per
    GPA ("Student 000", "Student 001", ... in that order), each choosing Tokyo then Lyon and
    submitted a minute after the one before."""
    now = utcnow()
    call = CallFactory(
        status=CallStatus.CLOSED,
        opens_at=now - timedelta(days=30),
        closes_at=now - timedelta(days=1),
    )
    tokyo = OfferingFactory(
        call=call, agreement=AgreementFactory(partner=PartnerFactory(name="Tokyo")), places=2
    )
    lyon = OfferingFactory(
        call=call, agreement=AgreementFactory(partner=PartnerFactory(name="Lyon")), places=1
    )
    apps = [
        ApplicationFactory(
            call=call,
            student=student(name=f"Student {i:03d}"),
            unit=unit or UnitFactory(),
            status=ApplicationStatus.APPROVED,
            gpa=Decimal(gpa),
            choices=[tokyo, lyon],
            submitted_at=now - timedelta(days=5, minutes=-i),
        )
        for i, gpa in enumerate(gpas)
    ]
    return call, tokyo, lyon, apps
