"""A card pledge made the way a person makes one: the real form, Stripe.js (localstripe's), a browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.ledger import totals
from app.models import Payment, PaymentStatus, Pledge, PledgeStatus
from tests.browser.browsing import AXE_TAGS, Browse, describe
from tests.factories import CampaignFactory
from tests.stripe_server import LocalStripe

pytestmark = [pytest.mark.browser, pytest.mark.stripe]


def _fill_card(page: Page, number: str) -> None:
    # localstripe's stand-in for the Stripe card field: plain inputs inside #card-element.
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("LS1 1UR")


def _accessible(page: Page, *, exclude: list[str] | None = None) -> None:
    """axe-core on the page, leaving out the card field: on Stripe it is Stripe's own labelled
    iframe; here it is localstripe's bare stand-in, which is not ours to fix."""
    result = page.evaluate(
        "async ([tags, exclude]) => await axe.run({exclude: exclude.map(s => [s])}, "
        "{runOnly: {type: 'tag', values: tags}})",
        [AXE_TAGS, exclude or []],
    )
    assert not result["violations"], describe(result["violations"])


def _start_pledge(browse: Browse, slug: str, *, amount: str, conditional: bool) -> Page:
    page = browse.goto(f"/campaigns/{slug}")
    page.get_by_role("button", name="Make a pledge").click()
    page.get_by_label("How much would you like to give?").fill(amount)
    page.get_by_label("Only if the campaign succeeds" if conditional else "Now, whatever happens").check()
    page.get_by_label("Your full name").fill("Browser Pledger")
    page.get_by_label("Email address").fill("browser@example.org")
    if conditional:
        page.get_by_label("I agree that LocalGov Digital may charge my card").check()
    page.get_by_role("button", name="Continue to card details").click()
    expect(page.get_by_role("heading", name="Your card details")).to_be_visible()
    return page


def test_a_card_pledge_moves_the_campaign_total(browse: Browse, localstripe: LocalStripe) -> None:
    campaign = CampaignFactory(title="Shared role for councils")
    db.session.commit()

    page = browse.goto(f"/campaigns/{campaign.slug}/pledge")
    browse.assert_accessible()
    page = _start_pledge(browse, campaign.slug, amount="35", conditional=False)
    _accessible(page, exclude=["#card-element"])
    _fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Confirm and pay").click()

    expect(page.get_by_text("Pledge confirmed")).to_be_visible()
    reference = page.locator(".govuk-panel__body strong").inner_text()
    _accessible(page)
    db.session.rollback()
    pledge = db.session.scalar(select(Pledge))
    assert pledge is not None and reference == pledge.reference
    assert pledge.status == PledgeStatus.FULFILLED

    page = browse.goto(f"/campaigns/{campaign.slug}")
    expect(page.locator("[data-figure=pledged]")).to_have_text("£35.00")
    expect(page.locator("[data-figure=collected]")).to_have_text("£35.00")
    assert totals.verify() == []
    browse.assert_no_console_errors()


def test_three_d_secure_in_the_browser(browse: Browse, localstripe: LocalStripe) -> None:
    campaign = CampaignFactory()
    db.session.commit()

    page = _start_pledge(browse, campaign.slug, amount="80", conditional=False)
    _fill_card(page, "4000002500003155")
    # Saving this card asks for 3-D Secure, and so does the charge: the pledger completes both.
    page.get_by_role("button", name="Confirm and pay").click()
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_role("heading", name="Confirm your payment with your bank")).to_be_visible()
    _accessible(page)
    db.session.rollback()
    assert db.session.scalar(select(Payment.status)) == PaymentStatus.REQUIRES_ACTION
    page.get_by_role("button", name="Confirm with my bank").click()
    page.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_text("Pledge confirmed")).to_be_visible()
    db.session.rollback()
    assert db.session.scalar(select(Payment.status)) == PaymentStatus.SUCCEEDED


def test_a_declined_card_is_explained(browse: Browse, localstripe: LocalStripe) -> None:
    campaign = CampaignFactory()
    db.session.commit()

    page = _start_pledge(browse, campaign.slug, amount="20", conditional=False)
    _fill_card(page, "4000000000000341")
    page.get_by_role("button", name="Confirm and pay").click()

    expect(page.get_by_text("Your card was declined. Try another card, or contact your bank.").first).to_be_visible()
    _accessible(page, exclude=["#card-element"])
    db.session.rollback()
    assert db.session.scalar(select(Pledge.status)) == PledgeStatus.PENDING
