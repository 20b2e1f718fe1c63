"""Refunding a card payment through Stripe: never more than is left, never twice.

The order of work is the card flow's: write our `Refund` row and commit (checking, with the
payment locked, that the amount is still there to refund), then ask Stripe with that row's id in
the idempotency key, then record the outcome. The same form sent twice carries the same token
and finds the same row, so it cannot refund twice; if Stripe could not be reached the row stays
pending and sending the form again retries it with the same key.

What the payment records as refunded follows Stripe's running total for the charge, exactly as
the `charge.refunded` webhook does, so whichever of the two arrives first records the refund and
the other finds nothing left to add.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update

from app import audit, links
from app.database import write_transaction
from app.extensions import db
from app.models import (
    Outcome,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Pledge,
    PledgeStatus,
    Refund,
    RefundStatus,
    Source,
    User,
    utcnow,
)
from app.money import Money
from app.notifications import email
from app.payments import gateway, settle
from app.pledging import pledges

log = logging.getLogger(__name__)

# A claim older than this is from a request that died mid-call; the idempotency key makes a retry safe.
STALE_ATTEMPT = timedelta(minutes=15)
# A pledge may be marked refunded (it stops counting toward the target) from these states.
ENDABLE = (PledgeStatus.ACTIVE, PledgeStatus.FULFILLED, PledgeStatus.CANCELLED)


class RefundError(ValueError):
    """A refund that cannot be made; the message is fit to show a treasurer."""


@dataclass(frozen=True)
class Refundable:
    """What is left to refund of a payment, and what is already on its way back."""

    left: Money
    in_flight: Money

    @property
    def any(self) -> bool:
        return self.left.pence > 0


def in_flight(payment: Payment) -> list[Refund]:
    """Refunds we have asked for (or are asking for) that are not yet recorded against the payment."""
    return list(
        db.session.scalars(
            select(Refund)
            .where(Refund.payment_id == payment.id, Refund.status == RefundStatus.PENDING)
            .order_by(Refund.id)
        )
    )


def by_token(token: str) -> Refund | None:
    """The refund a form with this one-time token has already asked for, if any."""
    if not token:
        return None
    return db.session.scalar(select(Refund).where(Refund.submission_token == token))


def refundable(payment: Payment) -> Refundable:
    """The most that may be refunded now: the payment, less what is refunded and what is on its way."""
    pending = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount_pence), 0)).where(
            Refund.payment_id == payment.id, Refund.status == RefundStatus.PENDING
        )
    )
    pending = int(pending or 0)
    if payment.status != PaymentStatus.SUCCEEDED:
        return Refundable(Money.zero(payment.currency), Money(pending, payment.currency))
    left = max(0, payment.amount_pence - payment.refunded_pence - pending)
    return Refundable(Money(left, payment.currency), Money(pending, payment.currency))


def check_refundable(payment: Payment) -> None:
    """Refuse, in words a treasurer understands, a payment that cannot be refunded through Stripe."""
    if payment.method != PaymentMethod.CARD:
        raise RefundError(
            "This payment arrived by bank transfer, so it cannot be refunded through Stripe. "
            "Return the money by bank transfer."
        )
    if payment.status != PaymentStatus.SUCCEEDED:
        raise RefundError(
            f"This payment is {payment.status.value.replace('_', ' ')}: only money received can be refunded."
        )
    if not payment.stripe_payment_intent_id:
        raise RefundError("We have no Stripe record of this payment, so it cannot be refunded through Stripe.")


def may_end_pledge(pledge: Pledge, payment: Payment, amount: Money) -> bool:
    """Whether, after refunding `amount` of `payment`, nothing the pledge paid would be left collected."""
    if pledge.status not in ENDABLE:
        return False
    collected = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount_pence - Payment.refunded_pence), 0)).where(
            Payment.pledge_id == pledge.id, Payment.status == PaymentStatus.SUCCEEDED
        )
    )
    return int(collected or 0) - amount.pence <= 0


def _lock(payment_id: int) -> Payment:
    """The payment, locked until commit (PostgreSQL; SQLite's writing transaction is the lock) and read afresh."""
    return db.session.scalars(
        select(Payment).where(Payment.id == payment_id).with_for_update().execution_options(populate_existing=True)
    ).one()


def refund_payment(
    payment: Payment,
    amount: Money,
    *,
    reason: str,
    actor: User | None,
    token: str,
    end_pledge: bool = False,
) -> Refund:
    """Refund `amount` of a card payment through Stripe and record it; returns our refund row.

    Raises `RefundError` when the refund is not allowed (nothing is sent to Stripe) or Stripe
    refuses it, and `gateway.GatewayUnavailable` when Stripe cannot be reached (the row stays
    pending: call again with the same token to finish it). A token already used returns its row.
    """
    refund, new = _write_request(payment.id, amount, reason=reason, actor=actor, token=token, end_pledge=end_pledge)
    if refund.status != RefundStatus.PENDING:
        return refund  # the same form again: it was done (or refused) the first time
    return _send(refund, actor=actor, end_pledge=end_pledge, retry=not new)


def _write_request(
    payment_id: int, amount: Money, *, reason: str, actor: User | None, token: str, end_pledge: bool
) -> tuple[Refund, bool]:
    """The form's refund row, and whether this call wrote it (False: the same form came before)."""
    with write_transaction():
        try:
            refund, new = _checked_request(
                payment_id, amount, reason=reason, actor=actor, token=token, end_pledge=end_pledge
            )
        except RefundError:
            db.session.rollback()
            raise
        db.session.commit()
    return refund, new


def _checked_request(
    payment_id: int, amount: Money, *, reason: str, actor: User | None, token: str, end_pledge: bool
) -> tuple[Refund, bool]:
    """The form's refund row: the one already written for this token, or a new one within the limits."""
    # Lock first: a second copy of the form waits here, then finds the first one's row below.
    payment = _lock(payment_id)
    existing = db.session.scalar(select(Refund).where(Refund.submission_token == token))
    if existing is not None:
        if existing.payment_id != payment_id:
            raise RefundError("This form was for another payment. Start again from the payment.")
        return existing, False
    check_refundable(payment)
    if amount.currency != payment.currency:
        raise RefundError(f"This payment is in {payment.currency}.")
    if amount.pence <= 0:
        raise RefundError("Enter a refund greater than zero.")
    available = refundable(payment)
    if amount > available.left:
        if available.left.pence <= 0:
            raise RefundError(f"Nothing is left to refund of this {payment.amount} payment.")
        waiting = f" ({available.in_flight} more is already on its way back)" if available.in_flight else ""
        raise RefundError(
            f"You can refund at most {available.left} of this payment{waiting}: "
            f"{Money(payment.refunded_pence, payment.currency)} of {payment.amount} is already refunded."
        )
    if end_pledge and not may_end_pledge(payment.pledge, payment, amount):
        raise RefundError(
            "Only a pledge whose every payment is refunded in full can stop counting toward the target. "
            "Refund the rest too, or cancel the pledge instead."
        )
    refund = Refund(
        payment_id=payment.id,
        amount_pence=amount.pence,
        currency=amount.currency,
        status=RefundStatus.PENDING,
        reason=reason,
        submission_token=token,
        requested_by_id=actor.id if actor is not None else None,
    )
    db.session.add(refund)
    db.session.flush()
    return refund, True


def _claim(refund: Refund) -> bool:
    refund_id, now = refund.id, utcnow()
    with write_transaction():
        claimed = db.session.execute(
            update(Refund)
            .where(
                Refund.id == refund_id,
                Refund.status == RefundStatus.PENDING,
                or_(Refund.attempt_started_at.is_(None), Refund.attempt_started_at < now - STALE_ATTEMPT),
            )
            .values(attempt_started_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def _release(refund_id: int) -> None:
    db.session.rollback()
    with write_transaction():
        db.session.execute(
            update(Refund)
            .where(Refund.id == refund_id)
            .values(attempt_started_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def _already_made(refund: Refund, intent_id: str) -> gateway.RefundResult | None:
    """Stripe's refund for our row, if an earlier attempt made it and we never heard the answer.

    Stripe's idempotency key would return that refund anyway; asking first also keeps a stand-in
    without idempotency (localstripe) from refunding twice.
    """
    made = gateway.refunds_of(intent_id)
    ours = next((r for r in made if r.metadata.get("refund_id") == str(refund.id) and r.status == "succeeded"), None)
    if ours is None:
        return None
    total = sum(r.amount_pence for r in made if r.status in ("succeeded", "pending"))
    return gateway.RefundResult(ours.refund_id, ours.amount_pence, ours.status, charge_refunded_pence=total)


def _send(refund: Refund, *, actor: User | None, end_pledge: bool, retry: bool) -> Refund:
    if not _claim(refund):
        db.session.refresh(refund)
        return refund  # another request is asking Stripe right now
    payment = refund.payment
    assert payment.stripe_payment_intent_id is not None  # noqa: S101 - checked before the row was written
    if retry:
        try:
            made = _already_made(refund, payment.stripe_payment_intent_id)
        except gateway.GatewayError as error:
            _release(refund.id)
            if isinstance(error, gateway.GatewayUnavailable):
                raise
            raise gateway.GatewayUnavailable(error.message, retryable=True) from error
        if made is not None:
            return _record_success(refund.id, made, actor=actor, end_pledge=end_pledge)
    try:
        result = gateway.refund(
            payment_intent_id=payment.stripe_payment_intent_id,
            amount_pence=refund.amount_pence,
            payment_id=payment.id,
            refund_number=refund.id,
        )
    except gateway.GatewayUnavailable:
        _release(refund.id)
        raise
    except gateway.GatewayError as error:
        _record_failure(refund.id, error.message, actor)
        raise RefundError(f"Stripe refused the refund, so nothing was refunded: {error.message}") from error
    return _record_success(refund.id, result, actor=actor, end_pledge=end_pledge)


def _record_failure(refund_id: int, message: str, actor: User | None) -> None:
    db.session.rollback()
    with write_transaction():
        refund = db.session.get_one(Refund, refund_id, populate_existing=True)
        refund.status = RefundStatus.FAILED
        refund.failure_message = message[:500]
        refund.completed_at = utcnow()
        audit.record(
            "payment.refund_failed",
            actor=actor,
            target=refund.payment,
            summary=f"Stripe refused a refund of {refund.amount} of {refund.payment.pledge.reference}: {message}",
            detail={"refund_id": refund.id, "amount_pence": refund.amount_pence},
        )
        db.session.commit()


def _record_success(refund_id: int, result: gateway.RefundResult, *, actor: User | None, end_pledge: bool) -> Refund:
    with write_transaction():
        refund = db.session.get_one(Refund, refund_id, populate_existing=True)
        payment = _lock(refund.payment_id)
        pledge = payment.pledge
        refund.status = RefundStatus.SUCCEEDED
        refund.stripe_refund_id = result.refund_id
        refund.completed_at = utcnow()
        # Stripe's running total for the charge; without it, at least this refund.
        total = result.charge_refunded_pence
        if total is None:
            total = payment.refunded_pence + refund.amount_pence
        if total > payment.amount_pence:
            log.error("payment %s: Stripe reports %s refunded of %s", payment.id, total, payment.amount_pence)
            total = payment.amount_pence
        extra = total - payment.refunded_pence
        if extra > 0:
            settle.settle(
                payment,
                Outcome.REFUNDED,
                source=Source.REFUND,
                amount_pence=extra,
                actor=actor,
                reference=result.refund_id,
            )
        ended = False
        if end_pledge and may_end_pledge(pledge, payment, Money.zero(payment.currency)):
            pledges.change_status(pledge, PledgeStatus.REFUNDED, reason=f"Refunded: {refund.reason}", actor=actor)
            ended = True
        audit.record(
            "payment.refunded",
            actor=actor,
            target=payment,
            summary=f"Refunded {refund.amount} of {payment.amount} on {pledge.reference}: {refund.reason}",
            detail={
                "refund_id": refund.id,
                "stripe_refund_id": result.refund_id,
                "amount_pence": refund.amount_pence,
                "refunded_pence": payment.refunded_pence,
                "pledge_id": pledge.id,
                "pledge_marked_refunded": ended,
            },
        )
        email.queue(
            "refund",
            pledge.email,
            f"We have refunded {refund.amount} of your payment to {pledge.campaign.title}",
            pledge=pledge,
            payment=payment,
            refund=refund,
            ended=ended,
            my_pledges_url=links.my_pledges_url(pledge),
        )
        email.commit_and_deliver()
    return refund
