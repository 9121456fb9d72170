"""An advisor returns the demo student's application from their queue in headless Chromium;
the student reads why, resubmits; the advisor approves; the next step shows up in the
coordinator's queue."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from exchange.accounts.models import User
from exchange.applications import operations as app_ops
from exchange.chains.models import ApprovalChain, ApprovalStepTemplate, ApproverRule
from exchange.extensions import db

from .browser import chromium, live_server, screenshot
from .factories import (
    AgreementFactory,
    ApplicationFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
)

COMMENT = "Please add your IELTS certificate to the statement."


@pytest.fixture
def review_site(committed_app):
    with committed_app.app_context():
        result = committed_app.test_cli_runner().invoke(args=["seed", "demo"])
        assert result.exit_code == 0, result.output
        chain = ApprovalChain(
            name="Browser test: advisor, then office",
            steps=[
                ApprovalStepTemplate(
                    position=1, name="Advisor of the unit", rule=ApproverRule.UNIT_ADVISOR
                ),
                ApprovalStepTemplate(
                    position=2,
                    name="International office",
                    rule=ApproverRule.INTERNATIONAL_OFFICE,
                ),
            ],
        )
        call = CallFactory(
            title="Exchange 2027/28 — review round", required_documents="", approval_chain=chain
        )
        offerings = [
            OfferingFactory(
                call=call,
                agreement=AgreementFactory(partner=PartnerFactory(name=name, country=country)),
            )
            for name, country in (("Kyoto Test University", "JP"), ("Universidad Test", "ES"))
        ]
        student = db.session.scalar(sa.select(User).where(User.email == "student@example.edu"))
        application = ApplicationFactory(
            call=call,
            student=student,
            choices=offerings,
            statement="I want to study robotics in Kyoto.",
        )
        app_ops.submit_application(application, actor=student)
        db.session.commit()
        application_id = application.id
        db.session.remove()
    with live_server(committed_app) as url:
        yield url, application_id


def log_in(browser, url, email):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("exchange-demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/home")
    return page


@pytest.mark.committed
def test_advisor_returns_student_resubmits_advisor_approves_office_sees_it(review_site):
    url, application_id = review_site
    with chromium() as browser:
        page = None
        try:
            page = advisor = log_in(browser, url, "advisor@example.edu")
            advisor.goto(f"{url}/approvals/")
            rows = advisor.get_by_test_id("queue-row")
            assert rows.count() == 1
            row = rows.first.inner_text()
            assert (
                "Li Wei" in row and "Kyoto Test University" in row and "Advisor of the unit" in row
            )
            screenshot(advisor, "approvals-queue-advisor")
            advisor.get_by_role("link", name="Li Wei").click()
            assert advisor.get_by_test_id("status").inner_text() == "Submitted"
            advisor.get_by_label("Comment").fill(COMMENT)
            screenshot(advisor, "approvals-decision-card")
            advisor.get_by_role("button", name="Return for changes").click()
            expect(
                advisor.get_by_text("The application is returned to the student.")
            ).to_be_visible()
            assert advisor.get_by_test_id("status").inner_text() == "Returned for changes"
            assert advisor.get_by_test_id("decision").count() == 0
            steps = advisor.get_by_test_id("approval-step").all_inner_texts()
            assert "Returned" in steps[0] and "Zhang Min" in steps[0] and COMMENT in steps[0]

            page = student = log_in(browser, url, "student@example.edu")
            student.goto(f"{url}/applications/{application_id}")
            assert COMMENT in student.get_by_test_id("return-comment").inner_text()
            assert student.get_by_test_id("approval-steps").count() == 0
            screenshot(student, "approvals-student-returned")
            student.get_by_role("button", name="Submit application").click()
            expect(student.get_by_text("Your application is submitted")).to_be_visible()
            assert student.get_by_test_id("status").inner_text() == "Submitted"

            page = advisor
            advisor.goto(f"{url}/approvals/")
            advisor.get_by_role("link", name="Li Wei").click()
            advisor.get_by_role("button", name="Approve").click()
            expect(advisor.get_by_text("You approved this step.")).to_be_visible()
            assert advisor.get_by_test_id("status").inner_text() == "In review"
            advisor.goto(f"{url}/approvals/")
            assert advisor.get_by_test_id("queue-row").count() == 0
            expect(advisor.get_by_text("Nothing waits for you")).to_be_visible()

            page = office = log_in(browser, url, "coordinator@example.edu")
            office.goto(f"{url}/approvals/")
            rows = office.get_by_test_id("queue-row")
            assert rows.count() == 1
            assert "International office" in rows.first.inner_text()
            screenshot(office, "approvals-queue-coordinator")
            office.get_by_role("link", name="Li Wei").click()
            steps = office.get_by_test_id("approval-step").all_inner_texts()
            assert "Approved" in steps[0] and "Waiting" in steps[1]
            screenshot(office, "approvals-application-coordinator")
        except Exception:
            if page is not None:
                screenshot(page, "approvals-failure")
            raise
