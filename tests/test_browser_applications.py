"""A student applies in headless Chromium: choices, reordering, details, documents, submit,
and then reads the timeline."""

import pytest
from playwright.sync_api import expect

from exchange.extensions import db

from .browser import chromium, live_server, screenshot
from .factories import AgreementFactory, CallFactory, OfferingFactory, PartnerFactory

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def call_site(committed_app, tmp_path):
    with committed_app.app_context():
        result = committed_app.test_cli_runner().invoke(args=["seed", "demo"])
        assert result.exit_code == 0, result.output
        call = CallFactory(
            title="Exchange 2027/28 — spring round",
            required_documents="transcript language_certificate",
        )
        for name, country in (("Kyoto Test University", "JP"), ("Universidad Test", "ES")):
            OfferingFactory(
                call=call,
                agreement=AgreementFactory(partner=PartnerFactory(name=name, country=country)),
            )
        db.session.commit()
        db.session.remove()
    (tmp_path / "transcript.pdf").write_bytes(PDF)
    (tmp_path / "ielts.pdf").write_bytes(PDF)
    with live_server(committed_app) as url:
        yield url, tmp_path


@pytest.mark.committed
def test_student_fills_in_uploads_reorders_submits_and_sees_the_timeline(call_site):
    url, files = call_site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("dialog", lambda dialog: dialog.accept())
        try:
            page.goto(f"{url}/login")
            page.get_by_label("E-mail").fill("student@example.edu")
            page.get_by_label("Password").fill("exchange-demo")
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("link", name="Open calls").first.click()
            page.get_by_role("link", name="Exchange 2027/28 — spring round").first.click()
            page.get_by_role("button", name="Start an application").click()
            assert page.get_by_test_id("status").inner_text() == "Draft"

            # Each offering says its agreement's terms (two of one partner would look alike).
            terms = "Bilateral student exchange · 5 months"
            page.get_by_label("Choice 1").select_option(
                label=f"Kyoto Test University (JP) — {terms} · 2 places"
            )
            page.get_by_label("Choice 2").select_option(
                label=f"Universidad Test (ES) — {terms} · 2 places"
            )
            page.get_by_role("button", name="Save choices").click()
            page.get_by_role("button", name=f"Move Universidad Test ({terms}) up").click()
            choices = page.get_by_test_id("choice").all_inner_texts()
            assert "Universidad Test" in choices[0] and "Kyoto Test University" in choices[1]

            page.get_by_label("Statement of motivation").fill("I want to study in Spain.")
            page.get_by_role("button", name="Save", exact=True).click()

            page.get_by_label("Kind of document").select_option("transcript")
            page.get_by_label("File (PDF, PNG or JPEG)").set_input_files(
                str(files / "transcript.pdf")
            )
            page.get_by_role("button", name="Upload").click()
            page.get_by_label("Kind of document").select_option("language_certificate")
            page.get_by_label("File (PDF, PNG or JPEG)").set_input_files(str(files / "ielts.pdf"))
            page.get_by_role("button", name="Upload").click()
            expect(page.get_by_test_id("document")).to_have_count(2)
            done = page.locator("[data-testid=checklist-item][data-done=yes]").count()
            assert done == page.get_by_test_id("checklist-item").count() == 5
            screenshot(page, "application-ready")

            page.get_by_role("button", name="Submit application").click()
            expect(page.get_by_text("Your application is submitted")).to_be_visible()
            assert page.get_by_test_id("status").inner_text() == "Submitted"
            timeline = page.get_by_test_id("timeline-entry").all_inner_texts()
            assert timeline[0].startswith("Submitted") and timeline[-1].startswith("Draft started")
            assert page.get_by_role("button", name="Save choices").count() == 0
            screenshot(page, "application-submitted")

            page.goto(f"{url}/home")
            assert "Submitted" in page.get_by_test_id("my-application").first.inner_text()
        except Exception:
            screenshot(page, "application-failure")
            raise
