"""In headless Chromium: an admin imports a roster with one bad line, reads the problem, fixes
the file and imports it; the new student accepts the invitation, completes the profile with a
language certificate, and applies."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from exchange.accounts.models import Role
from exchange.catalogue.models import CEFR
from exchange.extensions import db
from exchange.mail.models import OutboxMail

from .browser import chromium, live_server, screenshot
from .factories import (
    AgreementFactory,
    CallFactory,
    OfferingFactory,
    PartnerFactory,
    UnitFactory,
    UserFactory,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HEADER = "学号,姓名,邮箱,学院代码,学历层次,专业,年级,绩点,绩点满分\n"


@pytest.fixture
def site(committed_app, tmp_path):
    with committed_app.app_context():
        UnitFactory(code="PHY", name="School of Physics")
        UserFactory(email="admin@example.edu", roles=(Role.ADMIN,))
        call = CallFactory(title="Exchange 2027/28", required_documents="")
        OfferingFactory(
            call=call,
            agreement=AgreementFactory(
                partner=PartnerFactory(name="Lund Test University", country="SE"),
                language="en",
                language_level=CEFR.B2,
                language_rank=4,
            ),
        )
        db.session.commit()
        db.session.remove()
    (tmp_path / "bad.csv").write_text(
        HEADER + "2024001,Li Hua,li.hua@example.edu,PHYS,本科,Physics,2,3.5,4\n", "utf-8"
    )
    (tmp_path / "good.csv").write_text(
        HEADER + "2024001,Li Hua,li.hua@example.edu,PHY,本科,Physics,2,3.5,4\n", "utf-8"
    )
    (tmp_path / "ielts.pdf").write_bytes(PDF)
    with live_server(committed_app) as url:
        yield committed_app, url, tmp_path


def invitation_link(app):
    with app.app_context():
        body = db.session.scalar(
            sa.select(OutboxMail.body_text).where(OutboxMail.template == "account_invitation")
        )
        db.session.remove()
    return re.search(r"http\S+/password/reset/[\w-]+", body).group(0)


@pytest.mark.committed
def test_admin_imports_a_roster_and_the_new_student_applies(site):
    app, url, files = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("dialog", lambda dialog: dialog.accept())
        try:
            page.goto(f"{url}/login")
            page.get_by_label("E-mail").fill("admin@example.edu")
            page.get_by_label("Password").fill("correct horse battery")
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("link", name="Users").click()
            page.get_by_role("link", name="Import the roster").click()
            page.get_by_label("File (CSV or XLSX)").set_input_files(str(files / "bad.csv"))
            page.get_by_role("button", name="Preview").click()
            problems = page.get_by_test_id("problems").inner_text()
            assert "Unknown unit code “PHYS”." in problems and "2" in problems
            assert page.get_by_test_id("confirm-form").count() == 0
            screenshot(page, "roster-problem")

            page.get_by_label("File (CSV or XLSX)").set_input_files(str(files / "good.csv"))
            page.get_by_role("button", name="Preview").click()
            assert "1 to create" in page.get_by_test_id("counts").inner_text()
            page.get_by_role("button", name="Import").click()
            expect(page.get_by_text("Imported: 1 created")).to_be_visible()
            page.close()
            page = browser.new_page(viewport={"width": 1280, "height": 1000})  # a new browser
            page.on("dialog", lambda dialog: dialog.accept())

            page.goto(invitation_link(app).replace(app.config["BASE_URL"].rstrip("/"), url))
            page.get_by_label("New password", exact=True).fill("my own long password")
            page.get_by_label("Repeat the new password").fill("my own long password")
            page.get_by_role("button", name="Save the password").click()
            page.get_by_label("E-mail").fill("li.hua@example.edu")
            page.get_by_label("Password").fill("my own long password")
            page.get_by_role("button", name="Log in").click()

            page.goto(f"{url}/calls/")
            page.get_by_role("link", name="Exchange 2027/28").first.click()
            gaps = page.get_by_test_id("profile-incomplete").inner_text()
            assert "language results" in gaps and "degree level" not in gaps
            page.get_by_role("link", name="Complete my profile").click()
            assert page.get_by_test_id("readonly-degree_level").count() == 1
            page.get_by_label("Language", exact=True).select_option("en")
            page.get_by_label("CEFR level").select_option("C1")
            page.get_by_label("Test").fill("IELTS")
            page.get_by_label("Score").fill("7.5")
            page.get_by_label("Certificate (PDF, PNG or JPEG)").set_input_files(
                str(files / "ielts.pdf")
            )
            page.get_by_role("button", name="Add language result").click()
            assert "ielts.pdf" in page.get_by_test_id("language-results").inner_text()
            page.get_by_label("Telephone", exact=True).fill("+86 10 1234 5678")
            page.get_by_role("button", name="Save profile").click()
            expect(page.get_by_text("Profile saved.")).to_be_visible()
            screenshot(page, "profile-complete")

            page.goto(f"{url}/calls/")
            page.get_by_role("link", name="Exchange 2027/28").first.click()
            assert page.get_by_test_id("profile-incomplete").count() == 0
            page.get_by_role("button", name="Start an application").click()
            # The option names the partner and the agreement's terms ("… (SE) — Bilateral …").
            choice = page.get_by_label("Choice 1")
            lund = choice.locator("option", has_text="Lund Test University (SE)")
            choice.select_option(value=lund.get_attribute("value"))
            page.get_by_role("button", name="Save choices").click()
            page.get_by_label("Statement of motivation").fill("Physics in Lund.")
            page.get_by_role("button", name="Save", exact=True).click()
            page.get_by_text("Saved.", exact=True).wait_for()
            page.get_by_role("button", name="Submit application").click()
            page.get_by_text("Your application is submitted").wait_for(timeout=10000)
            assert page.get_by_test_id("status").inner_text() == "Submitted"
        except Exception:
            screenshot(page, "records-failure")
            raise
