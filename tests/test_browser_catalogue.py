"""A student finds a partner in headless Chromium: country, language, eligible, partner page."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from exchange.accounts.models import CEFR
from exchange.catalogue.models import AgreementStatus
from exchange.extensions import db

from .browser import chromium, live_server, screenshot
from .factories import AgreementFactory, PartnerFactory


@pytest.fixture
def catalogue_site(committed_app):
    with committed_app.app_context():
        result = committed_app.test_cli_runner().invoke(args=["seed", "demo"])
        assert result.exit_code == 0, result.output
        # The demo student: bachelor, GPA 3.62/4, English B2, unit CS.
        lyon = PartnerFactory(
            name="Université de Lyon", country="FR", city="Lyon", languages="fr en"
        )
        AgreementFactory(
            partner=lyon,
            language="en",
            language_level=CEFR.B2,
            language_rank=4,
            min_gpa=Decimal("3.0"),
            places_per_year=3,
        )
        AgreementFactory(
            partner=lyon,
            language="fr",
            language_level=CEFR.B2,
            language_rank=4,
            type="summer_school",
        )
        paris = PartnerFactory(
            name="Sorbonne Paris Nord", country="FR", city="Paris", languages="fr en"
        )
        AgreementFactory(partner=paris, min_gpa=Decimal("3.8"))
        AgreementFactory(
            partner=PartnerFactory(name="Universidad de Chile", country="CL", languages="es")
        )
        AgreementFactory(
            partner=PartnerFactory(name="Draft Only", country="FR", languages="en"),
            status=AgreementStatus.DRAFT,
        )
        db.session.commit()
        db.session.remove()
    with live_server(committed_app) as url:
        yield url


@pytest.mark.committed
def test_student_searches_filters_to_eligible_and_opens_a_partner(catalogue_site):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{catalogue_site}/login")
            page.get_by_label("E-mail").fill("student@example.edu")
            page.get_by_label("Password").fill("exchange-demo")
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("link", name="Partners", exact=True).click()
            assert page.get_by_test_id("result-count").inner_text() == "11 partners"  # 8 demo + 3

            page.get_by_label("Country").select_option("FR")
            page.get_by_label("Language of instruction").select_option("en")
            page.get_by_role("button", name="Apply filters").click()
            assert page.get_by_test_id("result-count").inner_text() == "3 partners"
            screenshot(page, "catalogue-france-english")
            assert page.get_by_text(
                "Requires a GPA of at least 3.80/4; yours is 3.62/4."
            ).is_visible()

            page.get_by_label("Only agreements I am eligible for").check()
            page.get_by_role("button", name="Apply filters").click()
            assert page.get_by_test_id("result-count").inner_text() == "1 partner"
            assert "country=FR" in page.url and "eligible=1" in page.url

            page.get_by_role("link", name="Université de Lyon").click()
            assert page.get_by_role("heading", level=1).inner_text() == "Université de Lyon"
            assert page.get_by_test_id("agreement").count() == 2
            assert page.get_by_text("You meet the requirements.").count() == 1
            expect(page.get_by_text("Requires French at level B2")).to_be_visible()
            screenshot(page, "catalogue-partner")
        except Exception:
            screenshot(page, "FAILED-catalogue")
            raise
