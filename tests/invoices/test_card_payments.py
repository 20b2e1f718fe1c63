"""A council pays its invoice by card, through the page its signed link opens, against a real localstripe.

Nothing about Stripe is mocked: the test plays the payer's browser (confirming the SetupIntent
the page made, as Stripe.js would) and posts the page's own form; webhooks are signed with the
real secret and sent to /webhooks/stripe.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import stripe
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.database import write_transaction
from app.extensions import db
from app.invoicing import invoices
from app.ledger import totals
from app.models import (
    AuditEntry,
    Campaign,
    EmailMessage,
    InstalmentStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Organisation,
    Payment,
    PaymentMethod,
    PaymentStatus,
    PledgeStatus,
    User,
)
from app.money import Money
from tests.factories import make_council_pledge
from tests.invoices.conftest import pdf_text
from tests.stripe_server import TEST_WEBHOOK_SECRET, LocalStripe, save_card
from tests.webhooks.stripe_events import encode, event, sign

pytestmark = pytest.mark.stripe

TODAY = datetime.now(ZoneInfo("Europe/London")).date()
DECLINED_AT_CHARGE = "4000000000000341"
THREE_D_SECURE = "4000002500003155"


def _invoice(campaign: Campaign, contact: User, council: Organisation, pounds: str = "1200") -> Invoice:
    pledge = make_council_pledge(campaign, contact, council, pounds=pounds, conditional=False)
    invoice = invoices.live_invoice(pledge.instalments[0].id, InvoiceKind.INVOICE)
    assert invoice is not None and invoice.status == InvoiceStatus.ISSUED
    return invoice


def _pay_url(invoice: Invoice) -> str:
    return f"/invoices/pay/{invoices.pay_token(invoice.id)}"


def _open_page(client: FlaskClient, url: str) -> dict[str, str]:
    """What the payer's browser reads off the page: CSRF token, amount shown and SetupIntent."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', html)
    assert secret, "no card form on the page"
    return {
        "csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)[1],  # type: ignore[index]
        "expected_pence": re.search(r'name="expected_pence" type="hidden" value="([^"]+)"', html)[1],  # type: ignore[index]
        "setup_intent": secret[1].split("_secret_")[0],
        "html": html,
    }


def _enter_card(localstripe: LocalStripe, form: dict[str, str], card: str = "pm_card_visa") -> dict[str, str]:
    """Stripe.js's confirmCardSetup in the payer's browser; the page then posts the form."""
    save_card(localstripe.client(), form["setup_intent"], card)
    return {k: form[k] for k in ("csrf_token", "expected_pence", "setup_intent")}


def _pay(client: FlaskClient, localstripe: LocalStripe, invoice: Invoice, card: str = "pm_card_visa"):  # type: ignore[no-untyped-def]
    url = _pay_url(invoice)
    data = _enter_card(localstripe, _open_page(client, url), card)
    return client.post(url, data=data)


def _stripe_intents(localstripe: LocalStripe) -> list:
    return list(localstripe.client().v1.payment_intents.list().auto_paging_iter())


def _fresh(invoice: Invoice) -> Invoice:
    db.session.rollback()
    return db.session.get_one(Invoice, invoice.id)


def test_paying_an_issued_invoice_by_card_pays_it_and_moves_the_campaign(
    client: FlaskClient, localstripe: LocalStripe, campaign, contact, council
) -> None:
    invoice = _invoice(campaign, contact, council, pounds="1200")
    page = _open_page(client, _pay_url(invoice))
    html = page["html"]
    assert invoice.number in html and "Borsetshire County Council" in html
    assert 'data-figure="left-to-pay">£1,200.00<' in html and page["expected_pence"] == "120000"

    response = client.post(_pay_url(invoice), data=_enter_card(localstripe, page))

    assert response.status_code == 302
    result = client.get(response.location)
    text = result.get_data(as_text=True)
    assert result.status_code == 200 and "Payment received" in text and "is now paid in full" in text
    assert f"£1,200.00 for invoice<br><strong>{invoice.number}</strong>" in text  # markup, not shown as text
    invoice = _fresh(invoice)
    assert invoice.status == InvoiceStatus.PAID
    payment = db.session.scalars(select(Payment)).one()
    assert (payment.status, payment.method, payment.amount_pence) == (
        PaymentStatus.SUCCEEDED,
        PaymentMethod.CARD,
        120000,
    )
    assert payment.instalment is not None and payment.instalment.status == InstalmentStatus.PAID
    assert payment.pledge.status == PledgeStatus.FULFILLED
    [intent] = _stripe_intents(localstripe)
    assert (intent.id, intent.status, intent.amount, intent.currency) == (
        payment.stripe_payment_intent_id,
        "succeeded",
        120000,
        "gbp",
    )
    assert intent.metadata["payment_id"] == str(payment.id)
    assert intent.metadata["invoice_number"] == invoice.number
    assert intent.metadata["pledge_reference"] == payment.pledge.reference
    db.session.refresh(campaign)
    assert campaign.collected_pence == 120000
    assert totals.verify() == []
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "invoice.card_payment_received"))
    assert audit is not None and "£0.00 left to pay" in audit.summary
    receipts = db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "receipt")).all()
    assert len(receipts) == 1 and "£1,200.00" in receipts[0].body

    # The same link now says the invoice is paid, and when; posting again charges nothing.
    again = client.get(_pay_url(invoice)).get_data(as_text=True)
    assert "This invoice has been paid in full, on" in again and "card-element" not in again
    assert len(_stripe_intents(localstripe)) == 1


def test_card_pays_what_a_part_payment_left(
    client: FlaskClient, localstripe: LocalStripe, campaign, contact, council
) -> None:
    invoice = _invoice(campaign, contact, council, pounds="1000")
    with write_transaction():
        invoices.record_bank_transfer(
            db.session.get_one(Invoice, invoice.id), Money.parse("400"), TODAY, "BACS 1", None
        )
        db.session.commit()

    response = _pay(client, localstripe, invoice)

    assert response.status_code == 302
    [intent] = _stripe_intents(localstripe)
    assert intent.amount == 60000
    assert _fresh(invoice).status == InvoiceStatus.PAID
    db.session.refresh(campaign)
    assert campaign.collected_pence == 100000
    assert totals.verify() == []


def test_a_bank_transfer_after_the_page_opened_stops_the_charge(
    client: FlaskClient, localstripe: LocalStripe, campaign, contact, council
) -> None:
    """The page showed £1,000; by the time the payer posts, £300 has arrived: nothing is charged."""
    invoice = _invoice(campaign, contact, council, pounds="1000")
    data = _enter_card(localstripe, _open_page(client, _pay_url(invoice)))
    with write_transaction():
        invoices.record_bank_transfer(
            db.session.get_one(Invoice, invoice.id), Money.parse("300"), TODAY, "BACS 2", None
        )
        db.session.commit()

    response = client.post(_pay_url(invoice), data=data)

    assert response.status_code == 409
    assert "has changed to £700.00" in response.get_data(as_text=True)
    assert _stripe_intents(localstripe) == []
    assert db.session.scalar(select(func.count()).select_from(Payment).where(Payment.method == PaymentMethod.CARD)) == 0


def test_a_declined_card_says_why_and_the_invoice_stays_payable(
    client: FlaskClient, localstripe: LocalStripe, campaign, contact, council
) -> None:
    invoice = _invoice(campaign, contact, council)

    response = _pay(client, localstripe, invoice, DECLINED_AT_CHARGE)

    assert response.status_code == 402
    text = response.get_data(as_text=True)
    assert "Your card was declined. Try another card, or contact your bank." in text
    assert 'id="card-element"' in text  # the card field again, to try another card
    invoice = _fresh(invoice)
    assert invoice.status == InvoiceStatus.ISSUED
    assert invoice.instalment is not None and invoice.instalment.status == InstalmentStatus.SCHEDULED
    failed = db.session.scalars(select(Payment)).one()
    assert failed.status == PaymentStatus.FAILED
    assert not db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "payment_failed")).all()

    # Another card then pays it, and the failed attempt's page no longer offers to try again.
    assert _pay(client, localstripe, invoice).status_code == 302
    assert _fresh(invoice).status == InvoiceStatus.PAID
    earlier = client.get(f"{_pay_url(invoice)}/payments/{failed.id}").get_data(as_text=True)
    assert "Your card was not charged" in earlier and "has since been paid in full" in earlier
    assert "Try again" not in earlier
    assert totals.verify() == []


def test_a_card_refused_when_entered_reaches_no_payment(
    localstripe: LocalStripe, client, campaign, contact, council
) -> None:
    """4000 0000 0000 0002 is refused by Stripe.js in the browser, before our server is asked to charge."""
    invoice = _invoice(campaign, contact, council)
    page = _open_page(client, _pay_url(invoice))
    with pytest.raises(stripe.CardError, match="declined"):
        save_card(localstripe.client(), page["setup_intent"], "4000000000000002")
    # Were the page posted anyway, the server checks the card with Stripe and charges nothing.
    response = client.post(
        _pay_url(invoice), data={k: page[k] for k in ("csrf_token", "expected_pence", "setup_intent")}
    )
    assert response.status_code == 402
    assert "Your card has not been accepted yet" in response.get_data(as_text=True)
    assert _stripe_intents(localstripe) == []
    assert _fresh(invoice).status == InvoiceStatus.ISSUED


def test_three_d_secure_is_finished_by_the_webhook_when_the_browser_closes(
    app: Flask, client: FlaskClient, localstripe: LocalStripe, campaign, contact, council
) -> None:
    invoice = _invoice(campaign, contact, council, pounds="500")

    response = _pay(client, localstripe, invoice, THREE_D_SECURE)

    assert response.status_code == 302
    confirm = client.get(response.location).get_data(as_text=True)
    assert "Confirm your payment with your bank" in confirm
    secret = re.search(r'data-client-secret="([^"]+)"', confirm)
    assert secret and secret[1]
    db.session.rollback()
    payment = db.session.scalars(select(Payment)).one()
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert not db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "confirm_payment")).all()
    # While it waits, the link leads back to the bank's check, not to a second charge.
    assert client.get(_pay_url(invoice)).location.endswith(f"/payments/{payment.id}")

    # The payer passes their bank's check, then closes the browser: only Stripe's webhook is left.
    localstripe.authenticate(payment.stripe_payment_intent_id, secret[1])
    intent = localstripe.client().v1.payment_intents.retrieve(payment.stripe_payment_intent_id).to_dict()
    body = encode(event("payment_intent.succeeded", intent))
    answer = app.test_client().post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body, TEST_WEBHOOK_SECRET)}
    )

    assert answer.status_code == 200 and answer.get_json()["outcome"] == "processed"
    invoice = _fresh(invoice)
    assert invoice.status == InvoiceStatus.PAID
    payment = db.session.scalars(select(Payment)).one()
    assert payment.status == PaymentStatus.SUCCEEDED
    db.session.refresh(campaign)
    assert campaign.collected_pence == 50000
    # The browser coming back later changes nothing.
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', confirm)[1]  # type: ignore[index]
    back = client.post(response.location, data={"csrf_token": csrf})
    assert back.status_code == 302 and "Payment received" in client.get(back.location).get_data(as_text=True)
    db.session.rollback()
    assert campaign.collected_pence == 50000
    assert totals.verify() == []
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "invoice.card_payment_received")
        )
        == 1
    )


def test_two_submits_at_once_make_one_payment_intent(
    app: Flask, localstripe: LocalStripe, campaign, contact, council
) -> None:
    """A double click, or the invoice open in two tabs: each posts its own card, one charge is made."""
    invoice = _invoice(campaign, contact, council, pounds="750")
    clients = [app.test_client(), app.test_client()]
    url = _pay_url(invoice)
    forms = [_enter_card(localstripe, _open_page(c, url)) for c in clients]
    db.session.commit()
    start = threading.Barrier(2)
    answers: list[int] = []
    errors: list[BaseException] = []

    def submit(index: int) -> None:
        try:
            with app.app_context():
                start.wait()
                answers.append(clients[index].post(url, data=forms[index]).status_code)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    # The second either joins the first's payment (302 to it) or, if the first has finished, is
    # told the invoice is paid (409); neither charges.
    assert sorted(answers) in ([302, 302], [302, 409])
    assert len(_stripe_intents(localstripe)) == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    # Whichever request lost the race may still see it pending: a refresh settles it once.
    assert _fresh(invoice).status in (InvoiceStatus.PAID, InvoiceStatus.ISSUED)
    payment = db.session.scalars(select(Payment)).one()
    if payment.status == PaymentStatus.PENDING:
        pytest.fail("the request that charged must have applied the result")
    assert payment.status == PaymentStatus.SUCCEEDED and _fresh(invoice).status == InvoiceStatus.PAID
    db.session.refresh(campaign)
    assert campaign.collected_pence == 75000
    assert totals.verify() == []


def test_pro_forma_void_and_paid_invoices_are_not_payable(
    client: FlaskClient, localstripe: LocalStripe, campaign, contact, council
) -> None:
    proforma_pledge = make_council_pledge(campaign, contact, council, conditional=True)
    proforma = invoices.live_invoice(proforma_pledge.instalments[0].id, InvoiceKind.PROFORMA)
    assert proforma is not None
    paid = _invoice(campaign, contact, council, pounds="100")
    with write_transaction():
        invoices.record_bank_transfer(db.session.get_one(Invoice, paid.id), Money.parse("100"), TODAY, "BACS 3", None)
        db.session.commit()
    void = _invoice(campaign, contact, council, pounds="200")
    void.status = InvoiceStatus.VOID
    db.session.commit()

    expected = {
        proforma.id: "This is a pro-forma invoice, so it is not payable yet",
        paid.id: f"This invoice has been paid in full, on {TODAY.day}",
        void.id: "This invoice has been cancelled. Do not pay it.",
    }
    for invoice_id, says in expected.items():
        url = f"/invoices/pay/{invoices.pay_token(invoice_id)}"
        page = client.get(url)
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and says in text, url
        assert "card-element" not in text and "stripe" not in text.lower()
        # Even a hand-made post with a card saved for it charges nothing.
        setup = localstripe.client().v1.setup_intents.create(
            params={"usage": "on_session", "metadata": {"invoice_id": str(invoice_id)}}
        )
        save_card(localstripe.client(), setup.id)
        csrf = re.search(
            r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/account/sign-in").get_data(as_text=True)
        )
        assert csrf
        refused = client.post(url, data={"csrf_token": csrf[1], "setup_intent": setup.id, "expected_pence": "10000"})
        assert refused.status_code == 409, url
    assert _stripe_intents(localstripe) == []
    assert db.session.scalar(select(func.count()).select_from(Payment).where(Payment.method == PaymentMethod.CARD)) == 0


def test_a_card_entered_for_another_invoice_is_refused(
    client: FlaskClient, localstripe: LocalStripe, campaign, contact, council
) -> None:
    mine = _invoice(campaign, contact, council, pounds="100")
    other = _invoice(campaign, contact, council, pounds="200")
    page = _open_page(client, _pay_url(mine))
    theirs = _enter_card(localstripe, _open_page(client, _pay_url(other)))

    response = client.post(_pay_url(mine), data={**theirs, "csrf_token": page["csrf_token"], "expected_pence": "10000"})

    assert response.status_code == 402 and "not entered for this invoice" in response.get_data(as_text=True)
    assert _stripe_intents(localstripe) == []


def test_altered_expired_and_pdf_tokens_are_not_found(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, campaign, contact, council
) -> None:
    invoice = _invoice(campaign, contact, council)
    token = invoices.pay_token(invoice.id)
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: 1_000_000_000.0)  # 2001: long past 90 days
        expired = invoices.pay_token(invoice.id)
    for bad in (
        token[:-2] + ("xx" if not token.endswith("xx") else "yy"),
        expired,
        invoices.pdf_token(invoice.id),
        "nothing",
    ):
        assert client.get(f"/invoices/pay/{bad}").status_code == 404, bad
        assert client.get(f"/invoices/pay/{bad}/payments/1").status_code == 404, bad


def test_the_invoice_pdf_and_email_carry_the_payment_link(app: Flask, campaign, contact, council) -> None:
    invoice = _invoice(campaign, contact, council)
    link = invoices.pay_url(invoice)
    assert link is not None and "/invoices/pay/" in link

    text = pdf_text(invoices.render_pdf(invoice))
    assert "Pay online with a debit, credit or purchasing card at:" in text
    assert link.split("/invoices/pay/")[1][:20] in text.replace(" ", "")
    assert "we will arrange it with you" not in text

    issued = db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "invoice_issued")).one()
    assert link in issued.body and "pay by card" in issued.body
