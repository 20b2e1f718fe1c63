"""The pages added for open data, embedding, webhooks and personal data, in Chromium: accessible
(axe-core) and never wider than a phone's screen."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.invoicing import invoices
from app.models import InvoiceKind, Role, WebhookEndpoint
from app.money import Money
from app.treasury.dashboard import london_today
from tests.browser.browsing import Browse
from tests.factories import PASSWORD, CampaignFactory, OrganisationFactory, UserFactory, make_council_pledge


@pytest.fixture
def site() -> dict[str, object]:
    campaign = CampaignFactory(slug="pipeline", title="Pipeline community manager 2027/28", min_councils=3)
    council = OrganisationFactory(name="Leeds City Council")
    officer = UserFactory(email="officer@leeds.example", organisation=council)
    pledge = make_council_pledge(campaign, officer, council, pounds="2,000", conditional=False, po_number="PO-1")
    invoice = invoices.live_invoice(pledge.instalments[0].id, InvoiceKind.INVOICE)
    assert invoice is not None
    invoices.record_bank_transfer(invoice, Money.parse("2000"), london_today(), "LEEDS 1", None)
    admin = UserFactory(email="admin@example.org", role=Role.ADMIN)
    endpoint = WebhookEndpoint(
        url="https://crm.example.org/a/very/long/path/for/pledgeline/events/that/would/not/fit",
        events=["pledge.committed", "payment.succeeded"],
        secret="whsec_browser_test",
        owner=admin,
    )
    db.session.add(endpoint)
    db.session.commit()
    return {"slug": campaign.slug, "endpoint": endpoint.id}


def _fits(browse: Browse, path: str) -> None:
    scroll_width, client_width = browse.page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll_width <= client_width, f"{path} scrolls sideways: {scroll_width}px wide in {client_width}px"


PUBLIC = [
    "/campaigns/{slug}/transparency",
    "/embed/campaigns/{slug}",
    "/privacy",
    "/terms",
    "/contact",
    "/erased",
]
SIGNED_IN = [
    ("officer@leeds.example", "/council/spending"),
    ("officer@leeds.example", "/council/spending?year=banana"),
    ("officer@leeds.example", "/account/erase"),
    ("admin@example.org", "/admin/webhooks"),
    ("admin@example.org", "/admin/webhooks/new"),
    ("admin@example.org", "/admin/webhooks/{endpoint}"),
]


@pytest.mark.parametrize("width", [375, 1280])
def test_public_pages_are_accessible_and_fit_the_screen(browse: Browse, site: dict[str, object], width: int) -> None:
    browse.page.set_viewport_size({"width": width, "height": 800})
    for path in PUBLIC:
        browse.goto(path.format(**site))
        browse.assert_accessible()
        _fits(browse, path)


@pytest.mark.parametrize("width", [375, 1280])
def test_signed_in_pages_are_accessible_and_fit_the_screen(browse: Browse, site: dict[str, object], width: int) -> None:
    browse.page.set_viewport_size({"width": width, "height": 800})
    signed_in_as = None
    for email, path in SIGNED_IN:
        if email != signed_in_as:
            browse.page.context.clear_cookies()
            browse.sign_in(email, PASSWORD)
            signed_in_as = email
        browse.goto(path.format(**site), status=400 if "banana" in path else 200)
        browse.assert_accessible()
        _fits(browse, path)


def test_the_card_fits_a_narrow_frame_with_its_button_in_view(browse: Browse, site: dict[str, object]) -> None:
    """The snippet's 460 px frame holds the whole card, down to a 280 px wide column."""
    browse.page.set_viewport_size({"width": 280, "height": 460})
    page = browse.goto("/embed/campaigns/{slug}".format(**site))
    bottom = page.locator("main").evaluate("el => el.getBoundingClientRect().bottom")
    assert bottom <= 460, f"the card is {bottom}px tall"
    assert page.get_by_role("link", name="Make a pledge (opens in a new tab)").is_visible()
