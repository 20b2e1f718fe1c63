"""Recording money received against a pledge: the ledger side of every payment method.

The Stripe flow writes a payment row with `open_card_payment` *before* calling Stripe, then
reports the outcome with `mark_succeeded` / `mark_failed`; bank transfers are recorded directly.
Each outcome moves the totals in the same transaction.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from app import audit
from app.extensions import db
from app.ledger import totals
from app.models import (
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Outcome,
    Payment,
    PaymentEvent,
    PaymentMethod,
    PaymentStatus,
    Pledge,
    PledgeStatus,
    Source,
    User,
    utcnow,
)
from app.money import Money
from app.outgoing import events
from app.pledging import pledges


class PaymentError(ValueError):
    """A payment that cannot be recorded; the message is fit to show a person."""


# The payment state each outcome leaves behind; replaying an outcome already reached does nothing.
_REACHED = {
    Outcome.SUCCEEDED: PaymentStatus.SUCCEEDED,
    Outcome.FAILED: PaymentStatus.FAILED,
    Outcome.ABANDONED: PaymentStatus.CANCELLED,
}


def settle(
    payment: Payment | None,
    outcome: Outcome,
    *,
    source: Source,
    amount_pence: int | None = None,
    fee_pence: int = 0,
    actor: User | None = None,
    reference: str | None = None,
    note: str = "",
) -> bool:
    """Apply one payment outcome from any source, in the caller's transaction; True if it changed anything.

    The one place a payment's outcome moves the payment, its instalment, its invoice, its pledge and
    the campaign's totals, and records one `PaymentEvent`. Replaying an outcome the payment has
    already reached (or a refund already recorded under the same reference) changes nothing and
    records nothing more. Mismatches, unknown payments and out-of-order events are recorded and
    credit nothing. A failure part-way raises, and the caller's rollback leaves no partial rows.
    """
    if payment is not None and _replayed(payment, outcome, reference):
        return False
    changed = False
    if payment is not None:
        if outcome == Outcome.SUCCEEDED:
            changed = payment.status != PaymentStatus.SUCCEEDED
            mark_succeeded(payment, fee_pence=fee_pence, actor=actor)
        elif outcome in (Outcome.FAILED, Outcome.ABANDONED):
            changed = payment.status != PaymentStatus.SUCCEEDED
            mark_failed(payment, note or "The card payment did not go through.")
            if changed and outcome == Outcome.ABANDONED:
                payment.status = PaymentStatus.CANCELLED
        elif outcome == Outcome.REFUNDED:
            if amount_pence is None:
                raise PaymentError("A refund needs an amount.")
            record_refund(payment, Money(amount_pence, payment.currency), actor=actor)
            changed = True
    db.session.add(
        PaymentEvent(
            payment_id=payment.id if payment is not None else None,
            source=source,
            outcome=outcome,
            amount_pence=amount_pence if amount_pence else (payment.amount_pence if payment is not None else None),
            reference=reference[:255] if reference else None,
            note=note[:2000],
        )
    )
    db.session.flush()
    return changed


def _replayed(payment: Payment, outcome: Outcome, reference: str | None) -> bool:
    if payment.id is None:
        return False
    if outcome in _REACHED:
        return payment.status == _REACHED[outcome] or (
            payment.status == PaymentStatus.SUCCEEDED  # a late failure never undoes a success
        )
    if outcome == Outcome.REFUNDED and reference:
        seen = db.session.scalar(
            select(func.count(PaymentEvent.id)).where(
                PaymentEvent.payment_id == payment.id,
                PaymentEvent.outcome == Outcome.REFUNDED,
                PaymentEvent.reference == reference,
            )
        )
        return bool(seen)
    return False


def open_card_payment(instalment: Instalment, amount_pence: int | None = None) -> Payment:
    """Write the pending payment row for an instalment; the database refuses a second open one.

    The amount is the instalment's unless given (an invoice paid by card pays what is left of it).
    """
    payment = Payment(
        pledge_id=instalment.pledge_id,
        instalment=instalment,
        amount_pence=instalment.amount_pence if amount_pence is None else amount_pence,
        currency=instalment.currency,
        method=PaymentMethod.CARD,
        status=PaymentStatus.PENDING,
    )
    db.session.add(payment)
    db.session.flush()
    return payment


def mark_succeeded(payment: Payment, *, fee_pence: int = 0, actor: User | None = None) -> None:
    """Money arrived. Idempotent: a payment that already succeeded is left as it is."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return
    pledge = db.session.get_one(Pledge, payment.pledge_id)
    with totals.tracking(pledge):
        payment.status = PaymentStatus.SUCCEEDED
        payment.fee_pence = fee_pence
        payment.succeeded_at = utcnow()
        payment.failure_message = None
        # A part payment (a council's bank transfer can be) leaves the instalment owing the rest.
        if payment.instalment is not None and _paid_in_full(payment.instalment):
            payment.instalment.status = InstalmentStatus.PAID
            payment.instalment.paid_at = payment.succeeded_at
        _settle_invoice(payment, actor)
    _advance(pledge, actor)
    events.emit("payment.succeeded", events.payment_data(payment, pledge))


def _settle_invoice(payment: Payment, actor: User | None) -> None:
    """Mark the instalment's numbered invoice paid once nothing is left to pay on it.

    Every way money arrives (a card charge applied by the browser's return or by a webhook, a bank
    transfer) passes through `mark_succeeded`, so this is the one place an invoice becomes paid:
    in the same transaction as the payment, under the pledge's lock that `totals.tracking` holds,
    and idempotently (an invoice already paid or void is left alone).
    """
    if payment.instalment_id is None:
        return
    invoice = db.session.scalar(
        select(Invoice).where(
            Invoice.instalment_id == payment.instalment_id,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status == InvoiceStatus.ISSUED,
        )
    )
    if invoice is None:
        return
    db.session.flush()
    received = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount_pence - Payment.refunded_pence), 0)).where(
            Payment.instalment_id == payment.instalment_id, Payment.status == PaymentStatus.SUCCEEDED
        )
    )
    left = invoice.amount_pence - int(received or 0)
    if left <= 0:
        invoice.status = InvoiceStatus.PAID
    if payment.method == PaymentMethod.CARD:
        # Bank transfers are audited by the treasurer's own action (invoices.record_bank_transfer).
        audit.record(
            "invoice.card_payment_received",
            actor=actor,
            target=invoice,
            summary=f"{payment.amount} received by card for {invoice.number}; "
            f"{Money(max(left, 0), invoice.currency)} left to pay",
            detail={"payment_id": payment.id, "amount_pence": payment.amount_pence, "balance_pence": max(left, 0)},
        )


def _paid_in_full(instalment: Instalment) -> bool:
    db.session.flush()
    received = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount_pence), 0)).where(
            Payment.instalment_id == instalment.id, Payment.status == PaymentStatus.SUCCEEDED
        )
    )
    return int(received or 0) >= instalment.amount_pence


def mark_failed(payment: Payment, message: str) -> None:
    """The charge did not go through. A payment that already succeeded is never undone."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return
    payment.status = PaymentStatus.FAILED
    payment.failure_message = message[:500]
    # A declined card leaves an invoice payable (by another card or by bank transfer), so an
    # invoice's instalment stays scheduled; a card pledge's instalment waits for a new card.
    if payment.pledge.method == PaymentMethod.INVOICE:
        return
    if payment.instalment is not None and payment.instalment.status != InstalmentStatus.PAID:
        payment.instalment.status = InstalmentStatus.FAILED


def record_refund(payment: Payment, amount: Money, *, actor: User | None = None) -> None:
    """Take a refund off a succeeded payment; never more than is left of it."""
    if payment.status != PaymentStatus.SUCCEEDED:
        raise PaymentError("Only a payment that has been received can be refunded.")
    if amount.currency != payment.currency:
        raise PaymentError(f"Refunds of this payment are in {payment.currency}.")
    remaining = payment.amount_pence - payment.refunded_pence
    if amount.pence <= 0:
        raise PaymentError("Enter a refund greater than zero.")
    if amount.pence > remaining:
        raise PaymentError(f"You can refund at most {Money(remaining, payment.currency)} of this payment.")
    pledge = db.session.get_one(Pledge, payment.pledge_id)
    with totals.tracking(pledge):
        payment.refunded_pence += amount.pence
    events.emit("payment.refunded", {**events.payment_data(payment, pledge), "refund_pence": amount.pence})


def record_bank_transfer(
    pledge: Pledge,
    instalment: Instalment | None,
    amount: Money,
    *,
    received_on: date,
    reference: str,
    actor: User | None = None,
) -> Payment:
    """A treasurer records money that arrived by bank transfer."""
    if amount.currency != pledge.currency:
        raise PaymentError(f"This pledge is in {pledge.currency}.")
    payment = Payment(
        pledge_id=pledge.id,
        instalment=instalment,
        amount_pence=amount.pence,
        currency=amount.currency,
        method=PaymentMethod.BANK_TRANSFER,
        status=PaymentStatus.PENDING,
        bank_reference=reference,
        received_on=received_on,
    )
    db.session.add(payment)
    db.session.flush()
    settle(payment, Outcome.SUCCEEDED, source=Source.BANK_TRANSFER, actor=actor, reference=reference)
    return payment


def _advance(pledge: Pledge, actor: User | None) -> None:
    """After a payment: a pledge with every instalment paid is fulfilled, otherwise active."""
    if pledge.status not in (PledgeStatus.COMMITTED, PledgeStatus.ACTIVE):
        return
    outstanding = [i for i in pledge.instalments if i.status != InstalmentStatus.PAID]
    target = PledgeStatus.ACTIVE if outstanding else PledgeStatus.FULFILLED
    if target != pledge.status:
        pledges.change_status(pledge, target, reason="Payment received", actor=actor)
