"""The match-funding and fair-share pages pass axe-core (WCAG 2.2 AA) in a real Chromium, with
their errors showing, and reflow on a phone. Their behaviour is tested in tests/matching."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import PledgerKind, Role
from tests.browser.browsing import Browse
from tests.factories import PASSWORD, CampaignFactory, SponsorFactory, UserFactory, make_offer, make_pledge

pytestmark = pytest.mark.browser


@pytest.fixture
def site() -> dict[str, object]:
    campaign = CampaignFactory(slug="pipeline", title="Pipeline community manager 2027/28")
    northgate = SponsorFactory(name="Northgate Civic Fund")
    offer = make_offer(campaign, northgate, ratio="1", cap="5000", eligibility="councils")
    make_offer(campaign, SponsorFactory(name="Eastfield Trust"), ratio="0.5", cap="1500", conditional=False)
    make_pledge(campaign, kind=PledgerKind.COUNCIL, pounds="2,000")
    make_pledge(campaign, pounds="25")
    UserFactory(email="sponsor@example.org", role=Role.SPONSOR, organisation=northgate)
    UserFactory(email="treasurer@example.org", role=Role.TREASURER)
    db.session.commit()
    return {"slug": campaign.slug, "offer": offer.id}


@pytest.mark.parametrize("path", ["/campaigns/{slug}", "/campaigns/{slug}/fair-share"])
def test_public_pages_are_accessible(browse: Browse, site: dict[str, object], path: str) -> None:
    browse.goto(path.format(**site))
    browse.assert_accessible()


@pytest.mark.parametrize(
    ("email", "path", "button"),
    [
        ("sponsor@example.org", "/sponsor/", None),
        ("sponsor@example.org", "/sponsor/offers/new", "Make this offer"),
        ("sponsor@example.org", "/sponsor/offers/{offer}/withdraw", None),
        ("treasurer@example.org", "/treasurer/campaigns/{slug}/offers", None),
        ("treasurer@example.org", "/treasurer/campaigns/{slug}/offers/new", "Make this offer"),
    ],
)
def test_signed_in_pages_and_their_errors_are_accessible(
    browse: Browse, site: dict[str, object], email: str, path: str, button: str | None
) -> None:
    browse.sign_in(email, PASSWORD)
    page = browse.goto(path.format(**site))
    browse.assert_accessible()
    if button:
        browse._expected_status = 400  # the form comes back with its errors
        page.get_by_label("The most the offer will add in total (the cap)").fill("99999999")
        with page.expect_navigation():
            page.get_by_role("button", name=button).click()
        assert page.title().startswith("Error: ")
        assert page.locator(".govuk-error-summary").is_visible()
        browse.assert_accessible()


@pytest.mark.parametrize("path", ["/campaigns/{slug}", "/campaigns/{slug}/fair-share"])
def test_pages_fit_a_phone_screen(browse: Browse, site: dict[str, object], path: str) -> None:
    browse.page.set_viewport_size({"width": 320, "height": 800})
    page = browse.goto(path.format(**site))
    scroll_width, client_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll_width <= client_width, f"{path} at 320px scrolls sideways: {scroll_width}px wide"
