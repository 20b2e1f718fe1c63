"""The pages about campaign update emails pass axe-core (WCAG 2.2 AA) in a real Chromium, work by
keyboard-reachable buttons, and reflow on a phone. Their behaviour is tested in
tests/views/test_update_emails.py and tests/reports/test_impact.py."""

from __future__ import annotations

import pytest

from app import links
from app.extensions import db
from app.models import Role
from app.reporting import impact
from tests.browser.browsing import Browse
from tests.factories import PASSWORD, CampaignFactory, OrganisationFactory, UserFactory, make_pledge

pytestmark = pytest.mark.browser


@pytest.fixture
def site() -> dict[str, str]:
    campaign = CampaignFactory(slug="pipeline", title="Pipeline community manager 2027/28")
    pledge = make_pledge(campaign, email="ada@example.org", name="Ada Lovelace", wants_updates=True)
    make_pledge(campaign, email="bob@example.org")
    update = impact.publish_update(campaign, "Our first event", "Forty people came.", None)
    UserFactory(email="admin@example.org", role=Role.ADMIN)
    UserFactory(email="contact@example.org", organisation=OrganisationFactory(name="Leeds City Council"))
    db.session.commit()
    return {
        "slug": campaign.slug,
        "stop": "/stop-updates/" + links.stop_updates_token(pledge.id),
        "mine": "/my-pledges/" + links.my_pledges_token(pledge.id),
        "confirmation": "/pledges/" + links.pledge_token(pledge.id),
        "email_update": f"/admin/updates/{update.id}/email",
    }


def _fits(browse: Browse, width: int = 320) -> None:
    scroll_width, client_width = browse.page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll_width <= client_width, f"{browse.page.url} at {width}px scrolls sideways: {scroll_width}px"


def test_stopping_and_restarting_from_the_emailed_link(browse: Browse, site: dict[str, str]) -> None:
    browse.page.set_viewport_size({"width": 320, "height": 800})
    page = browse.goto(site["stop"])
    browse.assert_accessible()
    _fits(browse)
    with page.expect_navigation():
        page.get_by_role("button", name="Stop these emails").click()
    assert page.get_by_text("You will not get any more update emails").is_visible()
    browse.assert_accessible()
    _fits(browse)
    with page.expect_navigation():
        page.get_by_role("button", name="Email me the updates again").click()
    assert page.get_by_role("button", name="Stop these emails").is_visible()


@pytest.mark.parametrize("which", ["mine", "confirmation"])
def test_the_pledgers_own_pages_are_accessible(browse: Browse, site: dict[str, str], which: str) -> None:
    browse.page.set_viewport_size({"width": 320, "height": 800})
    browse.goto(site[which])
    browse.assert_accessible()
    _fits(browse)


def test_the_admins_email_page_and_the_council_form_are_accessible(browse: Browse, site: dict[str, str]) -> None:
    browse.sign_in("admin@example.org", PASSWORD)
    page = browse.goto(site["email_update"])
    assert page.get_by_text("Of those, agreed to get updates").is_visible()
    assert page.get_by_role("button", name="Email this update to 1 pledger").is_visible()
    browse.assert_accessible()
    browse.page.context.clear_cookies()
    browse.sign_in("contact@example.org", PASSWORD)  # a council's officer: only they may pledge for it
    browse.goto(f"/campaigns/{site['slug']}/pledge/council")
    browse.assert_accessible()
