"""Logging in through the real form in headless Chromium."""

import pytest
from playwright.sync_api import expect

from exchange.extensions import db

from .browser import chromium, live_server, screenshot


@pytest.fixture
def demo_site(committed_app):
    with committed_app.app_context():
        result = committed_app.test_cli_runner().invoke(args=["seed", "demo"])
        assert result.exit_code == 0, result.output
        db.session.remove()
    with live_server(committed_app) as url:
        yield url


@pytest.fixture
def browser():
    with chromium() as b:
        yield b


def log_in(page, base, email, password="exchange-demo"):
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.committed
@pytest.mark.parametrize(
    "role,heading",
    [
        ("student", "Welcome, Li Wei"),
        ("advisor", "Welcome, Zhang Min"),
        ("coordinator", "International office"),
        ("admin", "Administration"),
    ],
)
def test_each_demo_user_logs_in_to_their_home(demo_site, browser, role, heading):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        log_in(page, demo_site, f"{role}@example.edu")
        page.wait_for_url(f"{demo_site}/home")
        assert page.get_by_role("heading", level=1).inner_text() == heading
        # Bootstrap's CSS and JS load from static/ (the CSP allows nothing else).
        navbar_bg = page.eval_on_selector(".app-navbar", "e => getComputedStyle(e).backgroundImage")
        assert "linear-gradient" in navbar_bg
        assert page.evaluate("typeof bootstrap") == "object"
        screenshot(page, f"home-{role}")
        assert errors == []

        page.get_by_test_id("user-name").click()
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{demo_site}/login")
        expect(page.get_by_text("You have been logged out.")).to_be_visible()
    except Exception:
        screenshot(page, f"FAILED-home-{role}")
        raise


@pytest.mark.committed
def test_wrong_password_shows_an_inline_error(demo_site, browser):
    page = browser.new_page()
    log_in(page, demo_site, "student@example.edu", "wrong password")
    error = page.locator(".invalid-feedback")
    assert error.inner_text() == "The e-mail or password is not correct."
    assert page.get_by_label("E-mail").input_value() == "student@example.edu"
    screenshot(page, "login-error")


@pytest.mark.committed
def test_admin_creates_a_unit_in_the_browser(demo_site, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, demo_site, "admin@example.edu")
    page.get_by_role("link", name="Units", exact=True).click()
    page.get_by_role("link", name="New unit").click()
    page.get_by_label("Code").fill("PHYS")
    page.get_by_label("Name", exact=True).fill("School of Physics")
    page.get_by_label("Kind").select_option("school")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{demo_site}/admin/units")
    expect(page.get_by_text("Unit PHYS saved.")).to_be_visible()
    expect(page.get_by_role("cell", name="School of Physics")).to_be_visible()
    page.get_by_role("link", name="Users", exact=True).click()
    screenshot(page, "admin-users")
