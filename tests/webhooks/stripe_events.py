"""Stripe events as Stripe sends them: JSON we build, signed with the webhook secret.

The signature is computed here with plain `hmac` from Stripe's documented scheme
(`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`), not with the SDK the
app uses to check it, so the production verification is exercised, not mirrored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from app.models import Payment, Pledge

TEST_WEBHOOK_SECRET = "whsec_pledgeline_webhook_tests_0123456789abcdef"
API_VERSION = "2024-06-20"


def sign(payload: bytes, secret: str = TEST_WEBHOOK_SECRET, *, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send for `payload`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def event(type_: str, obj: dict[str, Any], *, event_id: str | None = None, livemode: bool = False) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
        "data": {"object": obj},
    }


def intent_id_for(payment: Payment) -> str:
    return f"pi_test_{payment.id:06d}"


def charge_id_for(payment: Payment) -> str:
    return f"ch_test_{payment.id:06d}"


# What the PaymentIntent looks like when Stripe sends each event type.
INTENT_STATUS = {
    "payment_intent.created": "requires_confirmation",
    "payment_intent.requires_action": "requires_action",
    "payment_intent.payment_failed": "requires_payment_method",
    "payment_intent.succeeded": "succeeded",
    "payment_intent.canceled": "canceled",
}


def payment_intent_event(
    type_: str,
    payment: Payment,
    *,
    intent_id: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
    metadata: dict[str, str] | None = None,
    event_id: str | None = None,
    livemode: bool = False,
) -> dict[str, Any]:
    """A `payment_intent.*` event for our payment, with the amounts and metadata our charge sets."""
    amount = payment.amount_pence if amount is None else amount
    status = INTENT_STATUS[type_]
    succeeded = status == "succeeded"
    pledge = payment.pledge
    obj: dict[str, Any] = {
        "id": intent_id or payment.stripe_payment_intent_id or intent_id_for(payment),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if succeeded else 0,
        "currency": (currency or payment.currency).lower(),
        "status": status,
        "customer": pledge.stripe_customer_id,
        "payment_method": pledge.stripe_payment_method_id,
        "latest_charge": charge_id_for(payment) if type_ != "payment_intent.created" else None,
        "livemode": livemode,
        "metadata": metadata
        if metadata is not None
        else {"pledge_id": str(pledge.id), "pledge_reference": pledge.reference, "payment_id": str(payment.id)},
        "last_payment_error": None,
        "next_action": {"type": "use_stripe_sdk"} if status == "requires_action" else None,
    }
    if type_ == "payment_intent.payment_failed":
        obj["last_payment_error"] = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
        }
    return event(type_, obj, event_id=event_id, livemode=livemode)


def charge_refunded_event(
    payment: Payment, *, amount_refunded: int, currency: str | None = None, event_id: str | None = None
) -> dict[str, Any]:
    """`charge.refunded`: Stripe sends the charge, whose `amount_refunded` is the running total."""
    obj = {
        "id": charge_id_for(payment),
        "object": "charge",
        "amount": payment.amount_pence,
        "amount_captured": payment.amount_pence,
        "amount_refunded": amount_refunded,
        "currency": (currency or payment.currency).lower(),
        "paid": True,
        "refunded": amount_refunded >= payment.amount_pence,
        "status": "succeeded",
        "payment_intent": payment.stripe_payment_intent_id or intent_id_for(payment),
        "metadata": {"payment_id": str(payment.id)},
    }
    return event("charge.refunded", obj, event_id=event_id)


def setup_intent_succeeded_event(pledge: Pledge, *, payment_method: str, event_id: str | None = None) -> dict[str, Any]:
    obj = {
        "id": pledge.stripe_setup_intent_id,
        "object": "setup_intent",
        "status": "succeeded",
        "usage": "off_session",
        "customer": pledge.stripe_customer_id,
        "payment_method": payment_method,
        "metadata": {"pledge_id": str(pledge.id), "pledge_reference": pledge.reference},
    }
    return event("setup_intent.succeeded", obj, event_id=event_id)
