"""An admin creates, previews and publishes a campaign in a real browser, on a desktop and a phone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from app.extensions import db
from app.models import Role
from tests.browser.browsing import Browse
from tests.browser.conftest import LiveServer
from tests.factories import PASSWORD, UserFactory

PHONE = {"width": 375, "height": 812}
# Set SCREENSHOTS=folder to keep a picture of each page, to look at.
SHOTS = os.environ.get("SCREENSHOTS")


def _shot(browse: Browse, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        width = browse.page.viewport_size["width"] if browse.page.viewport_size else 0
        browse.page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)


def _fits(browse: Browse) -> None:
    width = browse.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{browse.page.url} is {width[0]} px wide in a {width[1]} px window"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_an_admin_creates_previews_and_publishes_a_campaign(
    context: BrowserContext, live_server: LiveServer, axe_source: str, viewport: str
) -> None:
    UserFactory(email="admin@example.org", name="Ada Admin", role=Role.ADMIN)
    db.session.commit()
    page = context.new_page()
    if viewport == "phone":
        page.set_viewport_size(PHONE)
    browse = Browse(page, live_server.url, axe_source)
    browse.sign_in("admin@example.org", PASSWORD)

    browse.goto("/admin/campaigns")
    browse.assert_accessible()
    _fits(browse)
    _shot(browse, "admin-campaigns")
    with page.expect_navigation():
        page.get_by_role("button", name="Create a campaign").click()
    browse.assert_accessible()

    # Saved empty: every problem is listed, in words, and the page is still accessible.
    browse._expected_status = 400
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary").inner_text()
    assert "Enter a web address for the campaign" in summary and "Enter the target in pounds" in summary
    browse.assert_accessible()
    _fits(browse)
    _shot(browse, "admin-campaign-errors")
    browse._expected_status = 200

    page.get_by_label("Title", exact=True).fill("Shared data officer 2027/28")
    page.get_by_label("Web address").fill(f"shared-data-officer-{viewport}")
    page.get_by_label("Summary", exact=True).fill("Fund a data officer shared by councils for a year.")
    page.get_by_label("Description", exact=True).fill("Councils share one officer.\n\nThe officer publishes open data.")
    page.get_by_label("Target", exact=True).fill("45,000")
    page.get_by_label("Minimum number of councils").fill("5")
    page.get_by_label("Day", exact=True).fill("31")
    page.get_by_label("Month", exact=True).fill("3")
    page.get_by_label("Year", exact=True).fill("2099")
    page.get_by_label("Funding period", exact=True).fill("2099-00")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert "Shared data officer 2027/28" in page.locator("h1").inner_text()
    assert "draft" in page.locator("main").inner_text().lower()
    browse.assert_accessible()
    _fits(browse)
    _shot(browse, "admin-campaign-draft")

    # Nobody else sees a draft; the preview shows the admin the page as it will look.
    with page.expect_navigation():
        page.get_by_role("link", name="Preview the page").click()
    assert "Fund a data officer shared by councils" in page.locator("main").inner_text()
    _fits(browse)
    _shot(browse, "admin-campaign-preview")
    page.go_back()

    with page.expect_navigation():
        page.get_by_role("button", name="Publish the campaign").click()
    browse.assert_accessible()
    public = browse.goto(f"/campaigns/shared-data-officer-{viewport}")
    assert "£45,000" in public.locator("main").inner_text()
    _fits(browse)
    _shot(browse, "public-campaign-new")
    browse.assert_no_console_errors()
