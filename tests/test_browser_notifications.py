"""The digest preview in headless Chromium: reachable from the navigation, and its frame as tall
as the mail it shows (issue 11.13)."""

import pytest

from .browser import screenshot
from .test_browser import browser, demo_site, log_in  # noqa: F401 (fixtures)


@pytest.mark.committed
@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_the_digest_preview_is_linked_and_shows_the_whole_mail(demo_site, browser, role):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        log_in(page, demo_site, f"{role}@example.edu")
        page.wait_for_url(f"{demo_site}/home")
        page.get_by_test_id("user-name").click()
        page.get_by_test_id("nav-digest-preview").click()
        page.wait_for_url(f"{demo_site}/notifications/digest-preview")
        frame_element = page.get_by_test_id("digest")
        frame = frame_element.element_handle().content_frame()
        frame.wait_for_load_state()
        page.wait_for_function(
            "() => { const f = document.querySelector('[data-testid=digest]');"
            " return f.contentDocument && f.contentDocument.readyState === 'complete'"
            " && f.getBoundingClientRect().height"
            " >= f.contentDocument.documentElement.scrollHeight; }",
            timeout=5000,
        )
        box = frame_element.bounding_box()
        content_height = frame.evaluate("document.documentElement.scrollHeight")
        # As tall as the mail: nothing cut off at the bottom, no empty band below it.
        assert abs(box["height"] - content_height) <= 2, (box["height"], content_height)
        # The mail's last line (its footer) lies inside the frame's box, not below a scroll.
        footer = frame.get_by_text("This message was sent by Exchange")
        footer_box = footer.bounding_box()
        assert footer_box["y"] + footer_box["height"] <= box["y"] + box["height"] + 1
        screenshot(page, f"digest-preview-{role}")
        assert errors == []  # nothing blocked by the CSP (no inline script or style)
    except Exception:
        screenshot(page, f"digest-preview-{role}-failed")
        raise
    finally:
        page.close()


@pytest.mark.committed
def test_a_student_sees_no_digest_preview_link(demo_site, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        log_in(page, demo_site, "student@example.edu")
        page.wait_for_url(f"{demo_site}/home")
        page.get_by_test_id("user-name").click()
        assert page.get_by_test_id("nav-digest-preview").count() == 0
    finally:
        page.close()
