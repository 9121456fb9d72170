"""At phone width (390 px) no page is wider than the screen, and the catalogue's filters are
folded away behind a button instead of filling the first screen."""

import pytest
from playwright.sync_api import expect

from exchange.accounts.models import User
from exchange.applications.models import ApplicationStatus
from exchange.calls.models import Call
from exchange.extensions import db

from .browser import chromium, live_server, screenshot
from .factories import ApplicationFactory, student

PHONE = {"width": 390, "height": 844}
OVERFLOW = "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.fixture
def phone_site(committed_app):
    with committed_app.app_context():
        result = committed_app.test_cli_runner().invoke(args=["seed", "demo"])
        assert result.exit_code == 0, result.output
        call = db.session.scalar(db.select(Call))
        demo = db.session.scalar(db.select(User).where(User.email == "student@example.edu"))
        unit = demo.memberships[0].unit
        ids = {"call": call.id}
        ids["draft"] = ApplicationFactory(call=call, student=demo).id
        for i in range(3):
            ids["submitted"] = ApplicationFactory(
                call=call,
                student=student(unit, name=f"A Student With A Long Name Number {i}"),
                choices=list(call.offerings)[:3],
                status=ApplicationStatus.SUBMITTED,
            ).id
        db.session.commit()
        db.session.remove()
    with live_server(committed_app) as url:
        yield url, ids


def log_in(page, base, role):
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(f"{role}@example.edu")
    page.get_by_label("Password").fill("exchange-demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/home")


def pages_of(role, ids):
    call, draft, submitted = ids["call"], ids["draft"], ids["submitted"]
    return {
        "student": ["/home", "/catalogue/", "/calls/", f"/calls/{call}", f"/applications/{draft}"],
        "advisor": ["/home", "/approvals/", f"/applications/{submitted}"],
        "coordinator": [
            "/home",
            "/catalogue/",
            f"/calls/{call}",
            f"/calls/{call}/offerings",
            f"/calls/{call}/applications",
            "/approvals/",
            "/approvals/chains/",
            f"/applications/{submitted}",
        ],
        "admin": ["/home", "/admin/users", "/admin/units", "/admin/audit"],
    }[role]


@pytest.mark.committed
@pytest.mark.parametrize("role", ["student", "advisor", "coordinator", "admin"])
def test_no_page_is_wider_than_a_phone(phone_site, role):
    base, ids = phone_site
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)
        try:
            log_in(page, base, role)
            wide = {}
            for path in pages_of(role, ids):
                assert page.goto(base + path).status == 200, path
                # What a tap would unfold counts too.
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                scroll_width, client_width = page.evaluate(OVERFLOW)
                if scroll_width > client_width:
                    wide[path] = scroll_width
                    screenshot(page, f"FAILED-phone-{role}{path.replace('/', '-')}")
            assert wide == {}, f"wider than {PHONE['width']} px: {wide}"
        except Exception:
            screenshot(page, f"FAILED-phone-{role}")
            raise


@pytest.mark.committed
def test_the_catalogue_filters_fold_away_on_a_phone(phone_site):
    base, _ids = phone_site
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)
        try:
            log_in(page, base, "student")
            page.goto(f"{base}/catalogue/")
            toggle = page.get_by_test_id("filters-toggle")
            assert toggle.is_visible()
            assert not page.get_by_label("Country").is_visible()
            # The first partner shows on the first screen.
            first = page.get_by_test_id("partner").first.bounding_box()
            assert first["y"] < PHONE["height"]
            screenshot(page, "phone-catalogue")

            toggle.click()
            page.get_by_label("Country").wait_for(state="visible")
            # Until Bootstrap's collapse has finished opening, the button is still moving and
            # a click can miss it on a loaded machine.
            expect(page.locator(".collapsing")).to_have_count(0)
            page.get_by_label("Country").select_option("FR")
            with page.expect_navigation(url="**country=FR**"):
                page.get_by_role("button", name="Apply filters").click()
            assert page.get_by_test_id("filters-toggle").inner_text().strip().endswith("1")
            assert not page.get_by_label("Country").is_visible()

            page.set_viewport_size({"width": 1280, "height": 900})
            assert not page.get_by_test_id("filters-toggle").is_visible()
            assert page.get_by_label("Country").is_visible()  # always open on a wide screen
        except Exception:
            screenshot(page, "FAILED-phone-catalogue")
            raise
