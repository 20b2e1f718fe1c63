"""A council's numbered invoice paid by card, on the page its signed link opens.

The same card flow as card pledges (see `card_payments`), for one charge made while the payer is
at the page: Stripe.js saves the card to a customer-less SetupIntent in the browser (3-D Secure
and outright refusals happen there), then the server writes the payment row for what is left of
the invoice and commits, and only then creates and confirms the PaymentIntent with that row's id
as idempotency key and in its metadata. A bank that asks the payer to confirm sends them through
`confirmCardPayment`, and on their return we ask Stripe where the payment stands; the webhook
finishes it just the same if the browser is closed. The invoice becomes paid in
`settle.mark_succeeded`, whichever of the two arrives first.

At most one card payment per instalment is open at a time (a partial unique index), so a double
click or a second tab finds the first one's payment, and its PaymentIntent, instead of charging
again. The amount is always the server's balance, never anything the browser sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.database import write_transaction
from app.extensions import db
from app.invoicing import invoices
from app.models import Invoice, InvoiceKind, InvoiceStatus, Payment, PaymentMethod, PaymentStatus, Pledge
from app.money import Money
from app.payments import card_payments, gateway, settle

LONDON = ZoneInfo("Europe/London")
OPEN = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


class Payability(Enum):
    PAYABLE = "payable"
    PROFORMA = "proforma"  # not payable until the campaign succeeds and the numbered invoice comes
    VOID = "void"
    PAID = "paid"


class NotPayable(ValueError):
    """The invoice cannot be paid by card now; the message is fit to show the payer."""


def invoice_from_token(token: str) -> Invoice | None:
    """The pledge's invoice a genuine, unexpired payment link names; None for anything else."""
    invoice_id = invoices.invoice_id_from_pay_token(token)
    invoice = db.session.get(Invoice, invoice_id) if invoice_id is not None else None
    if invoice is None or invoice.pledge is None or invoice.instalment is None:
        return None
    return invoice


def payability(invoice: Invoice) -> Payability:
    if invoice.status == InvoiceStatus.VOID:
        return Payability.VOID
    if invoice.kind != InvoiceKind.INVOICE:
        return Payability.PROFORMA
    if invoice.status == InvoiceStatus.PAID or invoices.balance(invoice).pence <= 0:
        return Payability.PAID
    return Payability.PAYABLE


def paid_on(invoice: Invoice) -> date | None:
    """The day the last money against the invoice's instalment arrived (UK date)."""
    latest = db.session.execute(
        select(func.max(Payment.received_on), func.max(Payment.succeeded_at)).where(
            Payment.instalment_id == invoice.instalment_id, Payment.status == PaymentStatus.SUCCEEDED
        )
    ).one()
    received, succeeded = latest
    days = [d for d in (received, succeeded.astimezone(LONDON).date() if succeeded else None) if d is not None]
    return max(days) if days else None


def open_payment(invoice: Invoice) -> Payment | None:
    """The card payment of the invoice's instalment that is still under way, if there is one."""
    return db.session.scalar(
        select(Payment).where(
            Payment.instalment_id == invoice.instalment_id,
            Payment.method == PaymentMethod.CARD,
            Payment.status.in_(OPEN),
        )
    )


def payment_of(invoice: Invoice, payment_id: int) -> Payment | None:
    """One of the invoice's card payments (None for any other payment)."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.method != PaymentMethod.CARD or payment.instalment_id != invoice.instalment_id:
        return None
    return payment


def start_card_entry(invoice: Invoice) -> gateway.CardEntry:
    """A SetupIntent for the payer's card, labelled with the invoice it is for."""
    return gateway.start_card_entry(metadata=_metadata(invoice))


def _metadata(invoice: Invoice) -> dict[str, str]:
    pledge = invoice.pledge
    assert pledge is not None  # noqa: S101 - invoice_from_token returns pledges' invoices only
    return {
        "invoice_id": str(invoice.id),
        "invoice_number": str(invoice.number or invoice.display_number),
        "pledge_id": str(pledge.id),
        "pledge_reference": pledge.reference,
        "campaign": pledge.campaign.slug,
    }


@dataclass(frozen=True)
class Attempt:
    payment: Payment
    reused: bool  # True when the payment was already under way (a double click, another tab)


def pay(invoice: Invoice, setup_intent_id: str, *, expected_pence: int | None = None) -> Attempt:
    """Charge what is left of the invoice to the card the browser saved in `setup_intent_id`.

    Raises `NotPayable` (nothing charged) when the invoice cannot be paid now or the amount left
    is no longer the `expected_pence` the payer saw, `card_payments.CardFlowError` for a card
    that was not saved for this invoice, and `gateway.GatewayUnavailable` when Stripe cannot be
    reached (the payment row stays pending; paying again finishes it with the same key).
    """
    saved = gateway.retrieve_setup(setup_intent_id)
    if saved.metadata.get("invoice_id") != str(invoice.id):
        raise card_payments.CardFlowError("That card was not entered for this invoice. Enter your card again.")
    if saved.status != "succeeded" or not saved.payment_method_id:
        raise card_payments.CardFlowError("Your card has not been accepted yet. Enter your card details and try again.")
    method_id = saved.payment_method_id
    attempt = _open_payment(invoice, expected_pence)
    payment = attempt.payment
    metadata = _metadata(invoice)
    card_payments.charge_once(
        payment,
        lambda: gateway.charge_card_now(
            payment_id=payment.id,
            amount_pence=payment.amount_pence,
            currency=payment.currency,
            payment_method_id=method_id,
            metadata=metadata,
        ),
    )
    return attempt


def _open_payment(invoice: Invoice, expected_pence: int | None) -> Attempt:
    """The instalment's open card payment, or a new one for the balance, written and committed."""
    with write_transaction():
        # The pledge first, as every payment change takes it (totals.tracking), then the invoice.
        db.session.execute(select(Pledge.id).where(Pledge.id == invoice.pledge_id).with_for_update())
        db.session.refresh(invoice, with_for_update=True)
        existing = open_payment(invoice)
        if existing is not None:
            db.session.commit()
            return Attempt(existing, reused=True)
        state = payability(invoice)
        if state != Payability.PAYABLE:
            db.session.rollback()
            raise NotPayable(_refusal(invoice, state))
        left = invoices.balance(invoice)
        if expected_pence is not None and left.pence != expected_pence:
            db.session.rollback()
            raise NotPayable(
                f"The amount left to pay on invoice {invoice.number} has changed to {left}. "
                "Check it, then pay again. Nothing has been charged."
            )
        assert invoice.instalment is not None  # noqa: S101 - invoice_from_token checks it
        try:
            payment = settle.open_card_payment(invoice.instalment, left.pence)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            payment = None
    if payment is not None:
        return Attempt(payment, reused=False)
    # Another request opened the instalment's card payment between our look and our insert.
    db.session.commit()
    raced = open_payment(invoice)
    if raced is None:
        raise NotPayable(
            f"Invoice {invoice.number} has already been paid by card. "
            "If you think this is wrong, contact us quoting the invoice number."
        )
    return Attempt(raced, reused=True)


def _refusal(invoice: Invoice, state: Payability) -> str:
    if state == Payability.PROFORMA:
        return "This is a pro-forma invoice. It cannot be paid yet: we will send the numbered invoice to pay."
    if state == Payability.VOID:
        return f"Invoice {invoice.display_number} has been cancelled. Do not pay it."
    return f"Invoice {invoice.number} has already been paid."


def refresh(payment: Payment) -> Payment:
    """Ask Stripe where the payment stands (the payer is back from their bank)."""
    return card_payments.refresh_payment(payment)


def client_secret_for(payment: Payment) -> str | None:
    return card_payments.client_secret_for(payment)


def left_to_pay(invoice: Invoice) -> Money:
    left = invoices.balance(invoice)
    return left if left.pence > 0 else Money.zero(invoice.currency)
