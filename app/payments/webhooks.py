"""Stripe webhook events: stored once, then handed to one handler per event type.

Events may arrive twice, late, or in any order. Each handler finds our record from the event,
and applies it through the same code as the direct flow (`card_payments.apply_result`), which
only ever moves a payment forward and never credits a mismatched amount.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import NOT_CREDITED, Outcome, Payment, PaymentStatus, Pledge, PledgeStatus, Source, StripeEvent
from app.money import Money
from app.notifications import email
from app.payments import card_payments, gateway, settle

log = logging.getLogger(__name__)

T = TypeVar("T")
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


def _locked(query: Select[T]) -> T | None:
    """The row, locked until we commit and read afresh once we hold the lock.

    Another event, or the direct card flow, may be changing the same payment or pledge at this
    moment. Acting on what we read before it committed would credit it twice (a second receipt,
    the pledge counted twice in the campaign's totals) or write a failure over its success. On
    PostgreSQL the lock makes us wait for it and then see its result; SQLite has one writer at a
    time, and this transaction is already writing (the event row). Payment or pledge first, then
    the campaign (in `totals.tracking`): the order the card flow takes them in too.
    """
    return db.session.scalar(query.with_for_update().execution_options(populate_existing=True))


def _stripe_id(obj: dict[str, Any], key: str = "id") -> str | None:
    """A Stripe id from an event's object, or None if it is missing, empty or not text.

    Never look a row up by a missing id: `column == None` is `IS NULL`, which matches every row
    of ours that has no Stripe id yet (a bank transfer, a payment about to be sent).
    """
    value = obj.get(key)
    return value if isinstance(value, str) and value.strip() and len(value) <= 255 else None


def _payment_for_intent(obj: dict[str, Any]) -> Payment | None:
    intent_id = _stripe_id(obj)
    if intent_id is None:
        return None
    payment = _locked(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))
    if payment is not None:
        return payment
    # Our row is written before Stripe is called, so a crash before we saved the PaymentIntent
    # id still leaves the payment findable by the id we put in the metadata.
    payment_id = (obj.get("metadata") or {}).get("payment_id")
    if isinstance(payment_id, str) and payment_id.isdigit():
        candidate = _locked(select(Payment).where(Payment.id == int(payment_id)))
        if candidate is not None and candidate.stripe_payment_intent_id in (None, intent_id):
            return candidate
    return None


def _intent_event(status: str) -> Handler:
    def handle(obj: dict[str, Any]) -> tuple[str, str]:
        payment = _payment_for_intent(obj)
        if payment is None:
            note = f"No payment of ours for PaymentIntent {obj.get('id')}."
            settle.settle(None, Outcome.UNKNOWN_PAYMENT, source=Source.WEBHOOK, reference=_stripe_id(obj), note=note)
            return "unmatched", note
        result = gateway.intent_from_dict({**obj, "status": status})
        outcome = card_payments.apply_result(payment, result, source=Source.WEBHOOK)
        if outcome.kind in NOT_CREDITED:
            return "mismatch", outcome.note
        return ("processed" if outcome.applied else "ignored"), outcome.note

    return handle


def _charge_refunded(obj: dict[str, Any]) -> tuple[str, str]:
    charge_id, intent_id = _stripe_id(obj), _stripe_id(obj, "payment_intent")
    payment = None
    if charge_id is not None:
        payment = _locked(select(Payment).where(Payment.stripe_charge_id == charge_id))
    if payment is None and intent_id is not None:
        payment = _locked(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))
    if payment is None:
        note = f"No payment of ours for charge {obj.get('id')}."
        settle.settle(None, Outcome.UNKNOWN_PAYMENT, source=Source.WEBHOOK, reference=charge_id, note=note)
        return "unmatched", note
    refunded = obj.get("amount_refunded")
    if not isinstance(refunded, int) or str(obj.get("currency", "")).upper() != payment.currency:
        return "mismatch", "Refund amount or currency is not usable."
    if refunded > payment.amount_pence:
        return "mismatch", f"Stripe reports {refunded} refunded of a {payment.amount_pence} payment."
    if payment.status != PaymentStatus.SUCCEEDED and obj.get("status") == "succeeded":
        # Only a charge that succeeded can be refunded, so this event overtook payment_intent.succeeded
        # (Stripe does not promise order). Credit the charge first, with the usual amount checks:
        # otherwise the refund is dropped here and never recorded once the success arrives.
        amount, intent, charge_id = obj.get("amount"), obj.get("payment_intent"), obj.get("id")
        credited = card_payments.apply_result(
            payment,
            gateway.ChargeResult(
                status="succeeded",
                payment_intent_id=intent if isinstance(intent, str) else None,
                amount_pence=amount if isinstance(amount, int) else 0,
                currency=str(obj.get("currency") or "").upper(),
                charge_id=charge_id if isinstance(charge_id, str) else None,
            ),
            source=Source.WEBHOOK,
        )
        if credited.kind in NOT_CREDITED:
            return "mismatch", credited.note
    if payment.status != PaymentStatus.SUCCEEDED:
        return "ignored", "The payment has not succeeded here; reconciliation will report it."
    # The event carries the running total, so an old or repeated event never refunds twice.
    extra = refunded - payment.refunded_pence
    if extra <= 0:
        return "ignored", "Refund already recorded."
    # Keyed by the running total: the same total told again is a replay, a higher one a new refund.
    reference = f"{charge_id or intent_id}:{refunded}"
    settle.settle(payment, Outcome.REFUNDED, source=Source.WEBHOOK, amount_pence=extra, reference=reference)
    return "processed", f"Recorded a refund of {Money(extra, payment.currency)}."


def _setup_succeeded(obj: dict[str, Any]) -> tuple[str, str]:
    setup_id = _stripe_id(obj)
    pledge = _locked(select(Pledge).where(Pledge.stripe_setup_intent_id == setup_id)) if setup_id else None
    pledge_id = (obj.get("metadata") or {}).get("pledge_id")
    if pledge is None and isinstance(pledge_id, str) and pledge_id.isdigit():
        pledge = _locked(select(Pledge).where(Pledge.id == int(pledge_id)))
    method = obj.get("payment_method")
    if isinstance(method, dict):
        method = method.get("id")
    if pledge is None or not isinstance(method, str):
        return "unmatched", f"No pledge of ours for SetupIntent {obj.get('id')}."
    if pledge.stripe_payment_method_id == method:
        return "ignored", "The card was already recorded."
    # A pledger whose charge failed may save another card: record it, unless this event is about
    # an older SetupIntent than the pledge's latest and would put back a card they replaced.
    if pledge.stripe_payment_method_id and obj.get("id") != pledge.stripe_setup_intent_id:
        return "ignored", "A newer card has been saved for this pledge."
    customer = obj.get("customer")
    card_payments.use_card(pledge, method, customer if isinstance(customer, str) else None)
    if pledge.status == PledgeStatus.PENDING and pledge.is_conditional:
        card_payments.commit_conditional(pledge)
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
