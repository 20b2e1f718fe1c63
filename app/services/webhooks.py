"""Stripe webhook events: stored once, then handed to one handler per event type.

Events may arrive twice, late, or in any order. Each handler finds our record from the event,
and applies it through the same code as the direct flow (`card_payments.apply_result`), which
only ever moves a payment forward and never credits a mismatched amount.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Payment, PaymentStatus, Pledge, PledgeStatus, StripeEvent
from app.money import Money
from app.payments import gateway
from app.services import card_payments, email, payments

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], tuple[str, str]]


class LivemodeMismatch(ValueError):
    pass


def handle_event(event: dict[str, Any]) -> str:
    """Record the event and act on it in one transaction; returns the stored outcome.

    A duplicate returns "duplicate" without doing anything. If a handler fails, the whole
    transaction (the event row included) is rolled back, so Stripe's retry gets a clean slate.
    """
    if bool(event.get("livemode")) != gateway.livemode():
        raise LivemodeMismatch("The event's livemode does not match our Stripe key.")
    data = event.get("data") or {}
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        obj = {}
    row = StripeEvent(
        stripe_id=event["id"],
        type=event["type"],
        livemode=bool(event.get("livemode")),
        object_id=obj.get("id") if isinstance(obj.get("id"), str) else None,
        payload=event,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    handler = HANDLERS.get(event["type"])
    if handler is None:
        row.outcome, row.note = "ignored", "We do not act on this event type."
    else:
        row.outcome, row.note = handler(obj)
    email.commit_and_deliver()
    log.info("stripe event %s (%s): %s", row.stripe_id, row.type, row.outcome)
    return row.outcome


def _payment_for_intent(obj: dict[str, Any]) -> Payment | None:
    intent_id = obj.get("id")
    payment = db.session.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))
    if payment is not None:
        return payment
    # Our row is written before Stripe is called, so a crash before we saved the PaymentIntent
    # id still leaves the payment findable by the id we put in the metadata.
    payment_id = (obj.get("metadata") or {}).get("payment_id")
    if isinstance(payment_id, str) and payment_id.isdigit():
        candidate = db.session.get(Payment, int(payment_id))
        if candidate is not None and candidate.stripe_payment_intent_id in (None, intent_id):
            return candidate
    return None


def _intent_event(status: str) -> Handler:
    def handle(obj: dict[str, Any]) -> tuple[str, str]:
        payment = _payment_for_intent(obj)
        if payment is None:
            return "unmatched", f"No payment of ours for PaymentIntent {obj.get('id')}."
        result = gateway.intent_from_dict({**obj, "status": status})
        outcome = card_payments.apply_result(payment, result)
        if not outcome.applied and "not credited" in outcome.note:
            return "mismatch", outcome.note
        return ("processed" if outcome.applied else "ignored"), outcome.note

    return handle


def _charge_refunded(obj: dict[str, Any]) -> tuple[str, str]:
    payment = db.session.scalar(select(Payment).where(Payment.stripe_charge_id == obj.get("id")))
    if payment is None and obj.get("payment_intent"):
        payment = db.session.scalar(select(Payment).where(Payment.stripe_payment_intent_id == obj.get("payment_intent")))
    if payment is None:
        return "unmatched", f"No payment of ours for charge {obj.get('id')}."
    refunded = obj.get("amount_refunded")
    if not isinstance(refunded, int) or str(obj.get("currency", "")).upper() != payment.currency:
        return "mismatch", "Refund amount or currency is not usable."
    if payment.status != PaymentStatus.SUCCEEDED:
        return "ignored", "The payment has not succeeded here; reconciliation will report it."
    if refunded > payment.amount_pence:
        return "mismatch", f"Stripe reports {refunded} refunded of a {payment.amount_pence} payment."
    # The event carries the running total, so an old or repeated event never refunds twice.
    extra = refunded - payment.refunded_pence
    if extra <= 0:
        return "ignored", "Refund already recorded."
    payments.record_refund(payment, Money(extra, payment.currency))
    return "processed", f"Recorded a refund of {Money(extra, payment.currency)}."


def _setup_succeeded(obj: dict[str, Any]) -> tuple[str, str]:
    pledge = db.session.scalar(select(Pledge).where(Pledge.stripe_setup_intent_id == obj.get("id")))
    pledge_id = (obj.get("metadata") or {}).get("pledge_id")
    if pledge is None and isinstance(pledge_id, str) and pledge_id.isdigit():
        pledge = db.session.get(Pledge, int(pledge_id))
    method = obj.get("payment_method")
    if isinstance(method, dict):
        method = method.get("id")
    if pledge is None or not isinstance(method, str):
        return "unmatched", f"No pledge of ours for SetupIntent {obj.get('id')}."
    if pledge.stripe_payment_method_id:
        return "ignored", "The card was already recorded."
    customer = obj.get("customer")
    card_payments._use_card(pledge, method, customer if isinstance(customer, str) else None)
    if pledge.status == PledgeStatus.PENDING and pledge.is_conditional:
        card_payments._commit_conditional(pledge)
    # An unconditional pledge is charged by the browser flow, or by `payments collect-due`.
    return "processed", "Card recorded."


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _intent_event("succeeded"),
    "payment_intent.payment_failed": _intent_event("failed"),
    "payment_intent.requires_action": _intent_event("requires_action"),
    "payment_intent.canceled": _intent_event("canceled"),
    "charge.refunded": _charge_refunded,
    "setup_intent.succeeded": _setup_succeeded,
}
