"""The only module that imports `stripe`.

Everything else calls these functions and gets our own types and exceptions back, with messages
fit to show a pledger. With no STRIPE_SECRET_KEY configured the gateway talks to localstripe
(a local stand-in for Stripe) at STRIPE_API_BASE, so the whole journey works offline.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import current_app


def lazy_module(name: str) -> Any:
    """The module `name`, executed on first attribute access (importlib's LazyLoader)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named {name!r}")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import stripe
else:
    # The Stripe library (~15 MB) loads on first use, so a web worker that serves only pages
    # never pays for it; `stripe` here is the real module as soon as anything touches it.
    stripe = lazy_module("stripe")

log = logging.getLogger(__name__)

LOCAL_SECRET_KEY = "sk_test_localstripe"  # noqa: S105 - localstripe accepts any key
LOCAL_PUBLISHABLE_KEY = "pk_test_localstripe"
LOCAL_API_BASE = "http://127.0.0.1:8420"

# Plain-English messages for the decline codes people meet most.
DECLINE_MESSAGES = {
    "card_declined": "Your card was declined. Try another card, or contact your bank.",
    "insufficient_funds": "Your card was declined because there is not enough money in the account.",
    "expired_card": "Your card has expired. Try another card.",
    "incorrect_cvc": "The security code (CVC) is wrong. Check the 3 digits on the back of your card.",
    "processing_error": "There was a problem processing your card. Try again in a few minutes.",
    "lost_card": "Your card was declined. Try another card, or contact your bank.",
    "stolen_card": "Your card was declined. Try another card, or contact your bank.",
    "authentication_required": "Your bank needs you to confirm this payment.",
}


class GatewayError(Exception):
    """Stripe refused or failed. `message` is fit to show a person."""

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


class CardDeclined(GatewayError):
    pass


class GatewayUnavailable(GatewayError):
    """Stripe could not be reached: nothing happened there, or we cannot tell yet. Try again."""


class InvalidSignature(Exception):
    """A webhook whose signature, age or shape is wrong."""


@dataclass(frozen=True)
class SetupSession:
    customer_id: str
    setup_intent_id: str
    client_secret: str


@dataclass(frozen=True)
class CardEntry:
    """A SetupIntent for a card typed in now, to be charged once while its holder is at the page."""

    setup_intent_id: str
    client_secret: str


@dataclass(frozen=True)
class SavedCard:
    setup_intent_id: str
    status: str  # "succeeded" when the card is saved
    payment_method_id: str | None
    customer_id: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class ChargeResult:
    """Where a PaymentIntent stands: succeeded, requires_action, processing or failed."""

    status: str
    payment_intent_id: str | None
    amount_pence: int
    currency: str
    client_secret: str | None = None
    charge_id: str | None = None
    failure_message: str | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    amount_pence: int
    status: str
    # Everything refunded of the charge so far, this refund included (Stripe's running total).
    charge_refunded_pence: int | None = None


@dataclass(frozen=True)
class StripeCharge:
    """A charge as reconciliation sees it."""

    charge_id: str
    payment_intent_id: str | None
    status: str  # Stripe's: succeeded, pending or failed
    amount_pence: int
    refunded_pence: int
    currency: str
    created: datetime
    metadata: dict[str, str]


@dataclass(frozen=True)
class StripeIntent:
    """A PaymentIntent as reconciliation sees it: `result` is what the card flow would make of it."""

    result: ChargeResult
    stripe_status: str  # Stripe's own word: succeeded, processing, requires_payment_method, ...
    created: datetime
    charge: StripeCharge | None

    @property
    def payment_intent_id(self) -> str:
        return str(self.result.payment_intent_id)


@dataclass(frozen=True)
class StripeRefund:
    refund_id: str
    charge_id: str | None
    payment_intent_id: str | None
    status: str
    amount_pence: int
    currency: str
    created: datetime
    metadata: dict[str, str]
    charge: StripeCharge | None


def _settings(config: Any = None) -> dict[str, Any]:
    config = config if config is not None else current_app.config
    secret = config.get("STRIPE_SECRET_KEY") or LOCAL_SECRET_KEY
    base = config.get("STRIPE_API_BASE") or ("" if config.get("STRIPE_SECRET_KEY") else LOCAL_API_BASE)
    return {"secret": secret, "base": base}


def is_local() -> bool:
    return not current_app.config.get("STRIPE_SECRET_KEY")


def publishable_key() -> str:
    return str(current_app.config.get("STRIPE_PUBLISHABLE_KEY") or LOCAL_PUBLISHABLE_KEY)


def js_url() -> str:
    """Stripe.js: the real one, or localstripe's stand-in served beside its API."""
    base = _settings()["base"]
    return f"{base}/js.stripe.com/v3/" if base else "https://js.stripe.com/v3/"


def origins_for(config: Any) -> tuple[str, str]:
    """(script origin, API origin) for the Content-Security-Policy."""
    base = _settings(config)["base"]
    if base:
        return base, base
    return "https://js.stripe.com", "https://api.stripe.com"


def livemode() -> bool:
    return str(current_app.config.get("STRIPE_SECRET_KEY", "")).startswith(("sk_live_", "rk_live_"))


def _client() -> stripe.StripeClient:
    settings = _settings()
    kwargs: dict[str, Any] = {"max_network_retries": 0}
    if settings["base"]:
        kwargs["base_addresses"] = {"api": settings["base"]}
    return stripe.StripeClient(settings["secret"], **kwargs)


def _translate(error: stripe.StripeError) -> GatewayError:
    """Turn a Stripe error into ours, logging the detail but never the key."""
    if isinstance(error, stripe.CardError):
        code = getattr(error.error, "decline_code", None) or error.code or "card_declined"
        message = DECLINE_MESSAGES.get(code) or DECLINE_MESSAGES["card_declined"]
        return CardDeclined(message, code=code)
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        log.warning("stripe unavailable: %s", type(error).__name__)
        return GatewayUnavailable(
            "We could not reach our card payment provider. Nothing has been charged. Try again in a few minutes.",
            retryable=True,
        )
    log.error("stripe error %s: %s", type(error).__name__, error.user_message or error.code)
    if isinstance(error, stripe.APIError):
        return GatewayUnavailable(
            "Our card payment provider had a problem. Nothing has been charged. Try again in a few minutes.",
            retryable=True,
        )
    return GatewayError("Something went wrong with the card payment. Nothing has been charged.", code=error.code)


def start_card_setup(
    *, email: str, name: str, metadata: dict[str, str], customer_id: str | None = None
) -> SetupSession:
    """Create (or reuse) a Customer and a SetupIntent to save a card for later charges."""
    client = _client()
    try:
        if customer_id is None:
            customer = client.v1.customers.create(params={"email": email, "name": name, "metadata": metadata})
            customer_id = customer.id
        params: Any = {
            "customer": customer_id,
            "usage": "off_session",
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        intent = client.v1.setup_intents.create(params=params)
    except stripe.StripeError as error:
        raise _translate(error) from error
    return SetupSession(customer_id=customer_id, setup_intent_id=intent.id, client_secret=str(intent.client_secret))


def start_card_entry(*, metadata: dict[str, str]) -> CardEntry:
    """A SetupIntent with no Customer, for a card that pays one thing now (a council's invoice).

    The browser confirms it with Stripe.js (`confirmCardSetup`, which runs any 3-D Secure check
    and turns a card refused outright into a message there), and the server then charges the
    card with `charge_card_now`. Nothing is kept for later charges.
    """
    params: Any = {"usage": "on_session", "payment_method_types": ["card"], "metadata": metadata}
    try:
        intent = _client().v1.setup_intents.create(params=params)
    except stripe.StripeError as error:
        raise _translate(error) from error
    return CardEntry(setup_intent_id=intent.id, client_secret=str(intent.client_secret))


def save_test_card(setup_intent_id: str) -> str:
    """Demo only: confirm a SetupIntent with Stripe's test Visa, as a pledger's browser would.

    Refused unless we are talking to localstripe, so it can never touch a real account.
    """
    if not is_local():
        raise GatewayError("Test cards can only be saved in the demo.")
    try:
        intent = _client().v1.setup_intents.confirm(setup_intent_id, params={"payment_method": "pm_card_visa"})
    except stripe.StripeError as error:
        raise _translate(error) from error
    return str(intent.payment_method)


def retrieve_setup(setup_intent_id: str) -> SavedCard:
    try:
        intent = _client().v1.setup_intents.retrieve(setup_intent_id)
    except stripe.StripeError as error:
        raise _translate(error) from error
    data = intent.to_dict()
    method = data.get("payment_method")
    if isinstance(method, dict):
        method = method.get("id")
    customer = data.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return SavedCard(
        setup_intent_id=intent.id,
        status=str(data.get("status")),
        payment_method_id=method,
        customer_id=customer,
        metadata=dict(data.get("metadata") or {}),
    )


def intent_from_dict(data: dict[str, Any]) -> ChargeResult:
    """Read a PaymentIntent (from the API or a webhook event) into our own result type."""
    return _charge_result(data)


def _charge_result(data: dict[str, Any]) -> ChargeResult:
    charge = data.get("latest_charge")
    if isinstance(charge, dict):
        charge = charge.get("id")
    error = data.get("last_payment_error") or {}
    status = str(data.get("status"))
    if status == "requires_payment_method" and error:
        status = "failed"
    failure = None
    if status == "failed":
        code = error.get("decline_code") or error.get("code") or "card_declined"
        failure = DECLINE_MESSAGES.get(code, DECLINE_MESSAGES["card_declined"])
    return ChargeResult(
        status=status,
        payment_intent_id=data.get("id"),
        amount_pence=int(data.get("amount_received") or data.get("amount") or 0),
        currency=str(data.get("currency") or "").upper(),
        client_secret=data.get("client_secret"),
        charge_id=charge,
        failure_message=failure,
        metadata=dict(data.get("metadata") or {}),
    )


def charge_saved_card(
    *,
    payment_id: int,
    amount_pence: int,
    currency: str,
    customer_id: str,
    payment_method_id: str,
    metadata: dict[str, str],
) -> ChargeResult:
    """Charge a saved card off-session. Our payment row's id is the idempotency key.

    A decline comes back as a failed result, not an exception; a charge that needs the pledger to
    authenticate comes back as `requires_action` with the client secret to complete it.
    """
    return _create_intent(
        {"customer": customer_id, "payment_method": payment_method_id, "off_session": True},
        payment_id=payment_id,
        amount_pence=amount_pence,
        currency=currency,
        metadata=metadata,
    )


def charge_card_now(
    *, payment_id: int, amount_pence: int, currency: str, payment_method_id: str, metadata: dict[str, str]
) -> ChargeResult:
    """Charge a card its holder has just entered (on-session), once; our payment row's id keys it.

    Results as for `charge_saved_card`: a bank that wants the payer to confirm gives
    `requires_action` and the client secret for Stripe.js's `confirmCardPayment`.
    """
    return _create_intent(
        {"payment_method": payment_method_id, "payment_method_types": ["card"]},
        payment_id=payment_id,
        amount_pence=amount_pence,
        currency=currency,
        metadata=metadata,
    )


def _create_intent(
    params: dict[str, Any], *, payment_id: int, amount_pence: int, currency: str, metadata: dict[str, str]
) -> ChargeResult:
    """Create and confirm a PaymentIntent for our payment row `payment_id`."""
    full: Any = {
        **params,
        "amount": amount_pence,
        "currency": currency.lower(),
        "confirm": True,
        "metadata": {**metadata, "payment_id": str(payment_id)},
    }
    try:
        intent = _client().v1.payment_intents.create(
            params=full, options={"idempotency_key": f"pledgeline-payment-{payment_id}"}
        )
    except stripe.CardError as error:
        intent_data: Any = getattr(error.error, "payment_intent", None)
        data: dict[str, Any] = intent_data.to_dict() if hasattr(intent_data, "to_dict") else dict(intent_data or {})
        translated = _translate(error)
        status = "requires_action" if translated.code == "authentication_required" else "failed"
        return ChargeResult(
            status=status,
            payment_intent_id=data.get("id"),
            amount_pence=amount_pence,
            currency=currency,
            client_secret=data.get("client_secret"),
            failure_message=None if status == "requires_action" else translated.message,
            metadata=metadata,
        )
    except stripe.StripeError as error:
        raise _translate(error) from error
    return _charge_result(intent.to_dict())


def retrieve_charge(payment_intent_id: str) -> ChargeResult:
    try:
        intent = _client().v1.payment_intents.retrieve(payment_intent_id)
    except stripe.StripeError as error:
        raise _translate(error) from error
    return _charge_result(intent.to_dict())


def refund(*, payment_intent_id: str, amount_pence: int, payment_id: int, refund_number: int) -> RefundResult:
    """Refund part or all of a PaymentIntent's charge; our ids make the idempotency key.

    The charge comes back expanded, so the caller learns Stripe's running total of refunds in
    the same answer (the `charge.refunded` webhook carries the same total).
    """
    try:
        result = _client().v1.refunds.create(
            params={
                "payment_intent": payment_intent_id,
                "amount": amount_pence,
                "metadata": {"payment_id": str(payment_id), "refund_id": str(refund_number)},
                "expand": ["charge"],
            },
            options={"idempotency_key": f"pledgeline-refund-{payment_id}-{refund_number}"},
        )
    except stripe.StripeError as error:
        raise _translate(error) from error
    data = result.to_dict()
    charge = data.get("charge")
    refunded = charge.get("amount_refunded") if isinstance(charge, dict) else None
    return RefundResult(
        refund_id=str(data.get("id")),
        amount_pence=int(data.get("amount") or 0),
        status=str(data.get("status")),
        charge_refunded_pence=refunded if isinstance(refunded, int) else None,
    )


# --- Reading recent objects back, for reconciliation ------------------------------------------


def _timestamp(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value or 0), tz=UTC)


def _charge_from_dict(data: dict[str, Any]) -> StripeCharge:
    intent = data.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return StripeCharge(
        charge_id=str(data.get("id")),
        payment_intent_id=intent if isinstance(intent, str) else None,
        status=str(data.get("status")),
        amount_pence=int(data.get("amount") or 0),
        refunded_pence=int(data.get("amount_refunded") or 0),
        currency=str(data.get("currency") or "").upper(),
        created=_timestamp(data.get("created")),
        metadata=dict(data.get("metadata") or {}),
    )


def _intent_from_dict(data: dict[str, Any]) -> StripeIntent:
    charge = data.get("latest_charge")
    return StripeIntent(
        result=_charge_result(data),
        stripe_status=str(data.get("status")),
        created=_timestamp(data.get("created")),
        charge=_charge_from_dict(charge) if isinstance(charge, dict) else None,
    )


def _created_filter(since: datetime) -> dict[str, Any]:
    # localstripe (any API base of our own) refuses a `created` filter on most lists; there the
    # caller's own check of each object's date is enough.
    return {} if _settings()["base"] else {"created": {"gte": int(since.timestamp())}}


def list_payment_intents(since: datetime) -> Iterator[StripeIntent]:
    """Every PaymentIntent created since `since`, each with its latest charge."""
    params: Any = {"limit": 100, "expand": ["data.latest_charge"], **_created_filter(since)}
    try:
        for intent in _client().v1.payment_intents.list(params=params).auto_paging_iter():
            found = _intent_from_dict(intent.to_dict())
            if found.created >= since:
                yield found
    except stripe.StripeError as error:
        raise _translate(error) from error


def list_charges(since: datetime) -> Iterator[StripeCharge]:
    """Every charge created since `since` (those made without a PaymentIntent included)."""
    params: Any = {"limit": 100, "created": {"gt": int(since.timestamp()) - 1}}
    try:
        for charge in _client().v1.charges.list(params=params).auto_paging_iter():
            found = _charge_from_dict(charge.to_dict())
            if found.created >= since:
                yield found
    except stripe.StripeError as error:
        raise _translate(error) from error


def list_refunds(since: datetime) -> Iterator[StripeRefund]:
    """Every refund created since `since`, each with its charge (for the charge's running total)."""
    params: Any = {"limit": 100, "expand": ["data.charge"], **_created_filter(since)}
    try:
        for item in _client().v1.refunds.list(params=params).auto_paging_iter():
            data = item.to_dict()
            charge = data.get("charge")
            intent = data.get("payment_intent")
            found = StripeRefund(
                refund_id=str(data.get("id")),
                charge_id=charge.get("id") if isinstance(charge, dict) else charge,
                payment_intent_id=intent if isinstance(intent, str) else None,
                status=str(data.get("status")),
                amount_pence=int(data.get("amount") or 0),
                currency=str(data.get("currency") or "").upper(),
                created=_timestamp(data.get("created")),
                metadata=dict(data.get("metadata") or {}),
                charge=_charge_from_dict(charge) if isinstance(charge, dict) else None,
            )
            if found.created >= since:
                yield found
    except stripe.StripeError as error:
        raise _translate(error) from error


def refunds_of(payment_intent_id: str) -> list[StripeRefund]:
    """Every refund of one PaymentIntent's charge, newest first."""
    params: Any = {"payment_intent": payment_intent_id, "limit": 100}
    try:
        return [
            StripeRefund(
                refund_id=str(data.get("id")),
                charge_id=data.get("charge") if isinstance(data.get("charge"), str) else None,
                payment_intent_id=payment_intent_id,
                status=str(data.get("status")),
                amount_pence=int(data.get("amount") or 0),
                currency=str(data.get("currency") or "").upper(),
                created=_timestamp(data.get("created")),
                metadata=dict(data.get("metadata") or {}),
                charge=None,
            )
            for data in (r.to_dict() for r in _client().v1.refunds.list(params=params).auto_paging_iter())
        ]
    except stripe.StripeError as error:
        raise _translate(error) from error


def find_payment_intent(payment_intent_id: str) -> StripeIntent | None:
    """One PaymentIntent with its latest charge, or None if Stripe has never heard of it."""
    try:
        intent = _client().v1.payment_intents.retrieve(payment_intent_id, params={"expand": ["latest_charge"]})
    except stripe.InvalidRequestError as error:
        if error.http_status == 404 or error.code == "resource_missing":
            return None
        raise _translate(error) from error
    except stripe.StripeError as error:
        raise _translate(error) from error
    return _intent_from_dict(intent.to_dict())


def construct_event(
    payload: bytes, signature: str | None, secret: str, tolerance: int = 300, now: float | None = None
) -> dict[str, Any]:
    """Verify a webhook's signature on the raw body and return the event as a plain dict.

    Stripe's own check refuses old timestamps; we also refuse ones more than `tolerance`
    seconds in the future, so a captured signature cannot be pre-dated for later replay.
    """
    if not signature:
        raise InvalidSignature("Missing Stripe-Signature header")
    if not secret:
        raise InvalidSignature("No webhook secret is configured")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature, secret, tolerance)
        timestamp = int(dict(p.split("=", 1) for p in signature.split(",") if "=" in p)["t"])
    except (stripe.SignatureVerificationError, UnicodeDecodeError, KeyError, ValueError) as error:
        raise InvalidSignature(str(error)) from error
    if timestamp > (now or time.time()) + tolerance:
        raise InvalidSignature("Timestamp is in the future")
    try:
        event = json.loads(text)
    except ValueError as error:
        raise InvalidSignature("Body is not valid JSON") from error
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise InvalidSignature("Not a Stripe event")
    return event
