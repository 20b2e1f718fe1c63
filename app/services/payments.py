"""Recording money received against a pledge: the ledger side of every payment method.

The Stripe flow writes a payment row with `open_card_payment` *before* calling Stripe, then
reports the outcome with `mark_succeeded` / `mark_failed`; bank transfers are recorded directly.
Each outcome moves the totals in the same transaction.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Instalment,
    InstalmentStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Pledge,
    PledgeStatus,
    User,
    utcnow,
)
from app.money import Money
from app.services import pledges, totals


class PaymentError(ValueError):
    """A payment that cannot be recorded; the message is fit to show a person."""


def open_card_payment(instalment: Instalment) -> Payment:
    """Write the pending payment row for an instalment; the database refuses a second open one."""
    payment = Payment(
        pledge_id=instalment.pledge_id,
        instalment=instalment,
        amount_pence=instalment.amount_pence,
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
    _advance(pledge, actor)


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
    mark_succeeded(payment, actor=actor)
    return payment


def _advance(pledge: Pledge, actor: User | None) -> None:
    """After a payment: a pledge with every instalment paid is fulfilled, otherwise active."""
    if pledge.status not in (PledgeStatus.COMMITTED, PledgeStatus.ACTIVE):
        return
    outstanding = [i for i in pledge.instalments if i.status != InstalmentStatus.PAID]
    target = PledgeStatus.ACTIVE if outstanding else PledgeStatus.FULFILLED
    if target != pledge.status:
        pledges.change_status(pledge, target, reason="Payment received", actor=actor)
