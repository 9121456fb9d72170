"""Selection in headless Chromium (issue 15): the coordinator sets criteria, scores the grid,
previews, overrides one placement with a reason and publishes; a student reads their
explanation and accepts; a second student declines and the upgrade reaches the next student,
by mail through the real worker to a real SMTP server."""

import time
from email import message_from_bytes

import pytest
from celery.contrib.testing.worker import start_worker
from playwright.sync_api import expect

from exchange.extensions import db

from .browser import chromium, live_server, screenshot
from .factories import PASSWORD, coordinator, student
from .helpers import wait_for
from .smtp import SMTPServer
from .test_selection import _approved, _closed_call, _offering

SMTP_SETTINGS = {"MAIL_DISPATCH": "celery", "MAIL_BACKEND": "smtp", "MAIL_TIMEOUT": 5}
MAIL_WAIT = 90  # seconds: the worker shares two loaded cores with the browser and the server
OVERRIDE_REASON = "Lyon asked for a student of the French track"


def subjects(smtp, to):
    return [message_from_bytes(m.content)["Subject"] for m in smtp.messages if to in m.rcpt_tos]


@pytest.fixture
def selection_site(committed_app):
    """A closed call (Tokyo 1 place, Lyon 1 place), three approved applications that all want
    Tokyo first and Lyon second; the app served, a real worker and a real SMTP server."""
    app = committed_app
    with SMTPServer() as smtp:
        app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = "127.0.0.1", smtp.port
        with app.app_context():
            coordinator(email="office@example.edu", name="Office Coordinator")
            call = _closed_call()
            call.title = "Exchange 2027 selection"
            tokyo, lyon = _offering(call, "Tokyo", 1), _offering(call, "Lyon", 1)
            ids = {}
            for key, name, gpa in (("ann", "Ann Able", "3.90"), ("ben", "Ben Best", "3.70")):
                _add(ids, key, name, gpa, call, tokyo, lyon)
            _add(ids, "cai", "Cai Chen", "3.50", call, tokyo, lyon)
            ids["call"] = call.id
            db.session.commit()
            db.session.remove()
        with (
            start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False),
            live_server(app) as url,
        ):
            yield url, ids, smtp


def _add(ids, key, name, gpa, call, tokyo, lyon):
    applicant = student(email=f"{key}@example.edu", name=name)
    application = _approved(call, [tokyo, lyon], gpa)
    application.student = applicant
    db.session.commit()
    ids[key] = application.id


def log_in(page, base, email):
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/home")


def log_out(page, base):
    page.get_by_test_id("user-name").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/login")


def ranked(page):
    return [
        row.locator("td").nth(1).inner_text().split("\n")[0]
        + " → "
        + row.locator("td").nth(3).inner_text()
        for row in page.get_by_test_id("ranked-row").all()
    ]


def coordinator_selects(page, url, ids):
    call = ids["call"]
    log_in(page, url, "office@example.edu")
    page.goto(f"{url}/calls/{call}/selection")
    rows = page.get_by_test_id("criterion-row")
    rows.nth(0).get_by_label("Kind").select_option(label="GPA over its scale")
    rows.nth(0).get_by_label("Name").fill("Grades")
    rows.nth(0).get_by_label("Weight (points)").fill("60")
    rows.nth(1).get_by_label("Kind").select_option(label="Committee score")
    rows.nth(1).get_by_label("Name").fill("Interview")
    rows.nth(1).get_by_label("Weight (points)").fill("40")
    rows.nth(1).get_by_label("Maximum score (committee)").fill("10")
    page.get_by_role("button", name="Save criteria").click()
    expect(page.get_by_text("Criteria saved.")).to_be_visible()

    page.get_by_test_id("to-scores").click()
    expect(page.get_by_test_id("score-grid")).to_be_visible()
    for name, score in (("Ann Able", "9"), ("Ben Best", "8"), ("Cai Chen", "5")):
        page.get_by_label(f"Interview for {name}").fill(score)
    page.get_by_role("button", name="Save scores").click()
    expect(page.get_by_text("Scores saved.")).to_be_visible()
    expect(page.get_by_label("Interview for Ben Best")).to_have_value("8.00")
    screenshot(page, "selection-grid")

    page.goto(f"{url}/calls/{call}/selection")
    page.get_by_test_id("preview").click()
    expect(page.get_by_role("heading", name="Allocation preview")).to_be_visible()
    assert ranked(page) == ["Ann Able → Tokyo", "Ben Best → Lyon", "Cai Chen → waiting list"]

    page.goto(f"{url}/calls/{call}/selection")
    page.get_by_label("Application").select_option(value=str(ids["cai"]))
    page.get_by_label("Place on").select_option(label="Lyon (1 place)")
    page.get_by_label("Reason (required)").fill(OVERRIDE_REASON)
    page.get_by_role("button", name="Override", exact=True).click()
    expect(page.get_by_test_id("overrides")).to_contain_text(OVERRIDE_REASON)
    page.get_by_test_id("preview").click()
    expect(page.get_by_role("heading", name="Allocation preview")).to_be_visible()
    expect(page.get_by_test_id("changes")).to_be_visible()
    assert ranked(page) == [
        "Ann Able → Tokyo",
        "Ben Best → waiting list",
        "Cai Chen → Lyon override",
    ]
    screenshot(page, "selection-preview-override")

    page.get_by_test_id("commit-this").click()
    expect(page.get_by_role("heading", name="Committed allocation")).to_be_visible()
    page.get_by_test_id("to-publication").click()
    expect(page.get_by_test_id("publish-form")).to_be_visible()
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("publication-state")).to_be_visible()
    expect(page.get_by_test_id("final-state")).to_have_text("final")
    log_out(page, url)


def student_answers(page, url, email, application_id, button):
    log_in(page, url, email)
    page.goto(f"{url}/applications/{application_id}/selection")
    expect(page.get_by_test_id("result")).to_be_visible()
    explanation = page.get_by_test_id("explanation").inner_text()
    page.get_by_test_id(button).click()
    expect(page.get_by_test_id("offer-status")).not_to_contain_text("is offered to you")
    return explanation


@pytest.mark.committed(**SMTP_SETTINGS)
def test_selection_from_criteria_to_an_upgrade_by_mail(selection_site):
    url, ids, smtp = selection_site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            coordinator_selects(page, url, ids)
            # Publishing offers the places: Ann and Cai hear of them by mail.
            assert wait_for(lambda: subjects(smtp, "ann@example.edu"), timeout=MAIL_WAIT)

            explanation = student_answers(page, url, "ann@example.edu", ids["ann"], "accept-offer")
            assert explanation == "You got your first choice (Tokyo) at rank 1."
            expect(page.get_by_test_id("offer-status")).to_contain_text(
                "You accepted your place at Tokyo."
            )
            screenshot(page, "selection-student-accepted")
            log_out(page, url)

            explanation = student_answers(page, url, "cai@example.edu", ids["cai"], "decline-offer")
            assert explanation == "The international office placed you on Lyon (rank 3)."
            expect(page.get_by_test_id("offer-status")).to_contain_text(
                "You declined your place at Lyon."
            )
            log_out(page, url)

            # Cai's place at Lyon goes to Ben, the waiting list's first, by mail.
            upgrade = "A place at Lyon, a higher choice, is yours"
            assert wait_for(
                lambda: any(upgrade in (s or "") for s in subjects(smtp, "ben@example.edu")),
                timeout=MAIL_WAIT,
            ), [(m.rcpt_tos, message_from_bytes(m.content)["Subject"]) for m in smtp.messages]
            log_in(page, url, "ben@example.edu")
            page.goto(f"{url}/applications/{ids['ben']}/selection")
            expect(page.get_by_test_id("offer-status")).to_contain_text("Lyon is offered to you")
            expect(page.get_by_test_id("result-headline")).to_have_text(
                "A place freed after the allocation: Lyon, a higher choice, is offered to you."
            )
            expect(page.get_by_test_id("accept-offer")).to_be_visible()
            screenshot(page, "selection-upgraded-student")
        except Exception:
            screenshot(page, "FAILED-selection")
            raise
        finally:
            page.close()
    time.sleep(0.5)  # a duplicate upgrade mail would arrive now
    upgrades = [s for s in subjects(smtp, "ben@example.edu") if "higher choice" in (s or "")]
    assert len(upgrades) == 1, upgrades
