"""A council's invoice paid by card as its finance officer would: the link, Stripe.js (localstripe's), a browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from app.extensions import db
from app.invoicing import invoices
from app.ledger import totals
from app.models import CouncilType, Invoice, InvoiceKind, InvoiceStatus, Payment, PaymentStatus
from tests.browser.browsing import AXE_TAGS, Browse, describe
from tests.factories import CampaignFactory, OrganisationFactory, UserFactory, make_council_pledge
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
    """axe-core on the page, leaving out the card field where asked: on Stripe it is Stripe's own
    labelled iframe; here it is localstripe's bare stand-in, which is not ours to fix."""
    result = page.evaluate(
        "async ([tags, exclude]) => await axe.run({exclude: exclude.map(s => [s])}, "
        "{runOnly: {type: 'tag', values: tags}})",
        [AXE_TAGS, exclude or []],
    )
    assert not result["violations"], describe(result["violations"])


def _issued_invoice(pounds: str = "1200", *, conditional: bool = False) -> Invoice:
    council = OrganisationFactory(name="Borsetshire County Council", council_type=CouncilType.COUNTY)
    contact = UserFactory(name="Jo Contact", email="jo@borsetshire.example", organisation=council)
    campaign = CampaignFactory(title="A community manager for councils")
    pledge = make_council_pledge(campaign, contact, council, pounds=pounds, conditional=conditional)
    kind = InvoiceKind.PROFORMA if conditional else InvoiceKind.INVOICE
    invoice = invoices.live_invoice(pledge.instalments[0].id, kind)
    assert invoice is not None
    db.session.commit()
    return invoice


def test_a_council_pays_its_invoice_with_a_card(browse: Browse, localstripe: LocalStripe) -> None:
    invoice = _issued_invoice("1200")
    number, path = invoice.number, f"/invoices/pay/{invoices.pay_token(invoice.id)}"

    page = browse.goto(path)
    expect(page.get_by_role("heading", name=f"Pay invoice {number} by card")).to_be_visible()
    expect(page.locator("[data-figure=left-to-pay]")).to_have_text("£1,200.00")
    _accessible(page, exclude=["#card-element"])
    _fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Pay £1,200.00").click()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.locator(".govuk-panel__body strong")).to_have_text(number)
    expect(page.get_by_text(f"Invoice {number} is now paid in full.")).to_be_visible()
    _accessible(page)
    browse.assert_no_console_errors()
    db.session.rollback()
    assert db.session.get_one(Invoice, invoice.id).status == InvoiceStatus.PAID
    assert db.session.scalar(select(Payment.status)) == PaymentStatus.SUCCEEDED
    assert len(list(localstripe.client().v1.payment_intents.list().auto_paging_iter())) == 1
    assert totals.verify() == []

    # The same link, opened again, says it is paid and offers no card field.
    page = browse.goto(path)
    expect(page.get_by_text("This invoice has been paid in full, on")).to_be_visible()
    expect(page.locator("#card-element")).to_have_count(0)
    _accessible(page)


def test_a_declined_card_is_explained_and_nothing_is_charged(browse: Browse, localstripe: LocalStripe) -> None:
    invoice = _issued_invoice("300")
    page = browse.goto(f"/invoices/pay/{invoices.pay_token(invoice.id)}")
    _fill_card(page, "4000000000000002")
    page.get_by_role("button", name="Pay £300.00").click()

    expect(page.locator("#card-error")).to_contain_text("declined")
    expect(page.get_by_role("button", name="Pay £300.00")).to_be_enabled()
    _accessible(page, exclude=["#card-element"])
    db.session.rollback()
    assert db.session.get_one(Invoice, invoice.id).status == InvoiceStatus.ISSUED
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0

    # A card charged and then declined by the bank: our own message, and the card field again.
    _fill_card(page, "4000000000000341")
    page.get_by_role("button", name="Pay £300.00").click()
    expect(page.get_by_text("Your card was declined. Try another card, or contact your bank.").first).to_be_visible()
    expect(page.locator("#card-element")).to_be_visible()
    _accessible(page, exclude=["#card-element"])
    db.session.rollback()
    assert db.session.get_one(Invoice, invoice.id).status == InvoiceStatus.ISSUED


def test_a_pro_forma_says_it_is_not_payable_yet(browse: Browse, localstripe: LocalStripe) -> None:
    proforma = _issued_invoice("500", conditional=True)
    page = browse.goto(f"/invoices/pay/{invoices.pay_token(proforma.id)}")
    expect(page.get_by_text("This is a pro-forma invoice, so it is not payable yet.")).to_be_visible()
    expect(page.locator("#card-element")).to_have_count(0)
    _accessible(page)
