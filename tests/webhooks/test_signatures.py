"""Only events Stripe really signed, recently, for our mode, are acted on; the rest get 400 and change nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask, url_for
from werkzeug.routing import IntegerConverter

from app.models import PaymentStatus
from tests.webhooks.stripe_events import encode, payment_intent_event, sign
from tests.webhooks.support import URL, Stripe, card_payment, database_state

NOT_JSON = b'{"id": "evt_1", "type": "payment_intent.succeeded", '  # cut short


def _altered(body: bytes) -> tuple[bytes, str]:
    signature = sign(body)
    altered = body.replace(b'"amount":2500,', b'"amount":1,', 1)
    assert altered != body
    return altered, signature


BAD_DELIVERIES: dict[str, Callable[[bytes], tuple[bytes, str | None]]] = {
    "missing header": lambda body: (body, None),
    "wrong secret": lambda body: (body, sign(body, "whsec_somebody_elses_endpoint_secret")),
    "altered body": _altered,
    # Half a minute past the five-minute window each way: a slow test machine taking a few seconds
    # between signing and checking must not carry a timestamp back inside it.
    "timestamp 330 s old": lambda body: (body, sign(body, timestamp=int(time.time()) - 330)),
    "timestamp 330 s in the future": lambda body: (body, sign(body, timestamp=int(time.time()) + 330)),
    "body not JSON, validly signed": lambda body: (NOT_JSON, sign(NOT_JSON)),
    "empty signature header": lambda body: (body, ""),
}


@pytest.mark.parametrize("case", BAD_DELIVERIES)
def test_badly_signed_event_is_refused_and_writes_nothing(stripe: Stripe, case: str) -> None:
    payment = card_payment(pounds="25")
    event = payment_intent_event("payment_intent.succeeded", payment)
    body, signature = BAD_DELIVERIES[case](encode(event))
    before = database_state()

    response = stripe.post(body, signature)

    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid signature"}
    assert database_state() == before  # no StripeEvent, payment still pending, no receipt queued

    # The very same event, properly signed, is credited: the refusal was for the signature alone.
    assert stripe.deliver(event) == "processed"
    assert payment.status == PaymentStatus.SUCCEEDED


def test_live_event_sent_to_a_test_mode_site_is_refused(stripe: Stripe) -> None:
    """Signed correctly, but `livemode: true` while our key is a test key: real money we never asked for."""
    payment = card_payment()
    before = database_state()

    response = stripe.send(payment_intent_event("payment_intent.succeeded", payment, livemode=True))

    assert response.status_code == 400
    assert response.get_json() == {"error": "livemode mismatch"}
    assert database_state() == before


def test_test_event_sent_to_a_live_site_is_refused(stripe: Stripe, app: Flask, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_live_not-a-real-key")
    payment = card_payment()
    before = database_state()

    response = stripe.send(payment_intent_event("payment_intent.succeeded", payment, livemode=False))

    assert response.status_code == 400
    assert database_state() == before


@pytest.mark.parametrize("offset", [-270, 270])
def test_timestamps_inside_the_five_minute_window_are_accepted(stripe: Stripe, offset: int) -> None:
    payment = card_payment()
    body = encode(payment_intent_event("payment_intent.succeeded", payment))

    response = stripe.post(body, sign(body, timestamp=int(time.time()) + offset))

    assert response.status_code == 200
    assert payment.status == PaymentStatus.SUCCEEDED


def test_rolled_secret_still_verifies_when_one_of_several_signatures_matches(stripe: Stripe) -> None:
    """While an endpoint secret is being rolled, Stripe signs with both old and new secrets."""
    payment = card_payment()
    body = encode(payment_intent_event("payment_intent.succeeded", payment))
    t = int(time.time())
    old = sign(body, "whsec_the_old_secret", timestamp=t).split(",v1=")[1]
    header = f"{sign(body, timestamp=t)},v1={old}"

    response = stripe.post(body, header)

    assert response.status_code == 200
    assert payment.status == PaymentStatus.SUCCEEDED


def test_webhook_is_the_only_post_that_needs_no_csrf_token(app: Flask, client) -> None:
    """Every other POST route refuses a request without a CSRF token before its view runs."""
    refused, reached = [], []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()):
            continue
        values = {
            name: 1 if isinstance(converter, IntegerConverter) else "x" for name, converter in rule._converters.items()
        }
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        response = client.post(url, data={"anything": "1"})
        is_csrf_refusal = response.status_code == 400 and "form had expired" in response.get_data(as_text=True)
        (refused if is_csrf_refusal else reached).append(rule.endpoint)

    assert reached == ["webhooks.stripe"]
    assert len(refused) >= 5  # sign-in, pledging, treasurer actions … really were checked


def test_webhook_answers_json_without_a_csrf_token(stripe: Stripe, client) -> None:
    payment = card_payment()

    accepted = stripe.send(payment_intent_event("payment_intent.succeeded", payment))
    wrong_method = client.get(URL)

    assert accepted.status_code == 200
    assert accepted.mimetype == "application/json"
    assert accepted.get_json() == {"received": True, "outcome": "processed"}
    assert wrong_method.status_code == 405
    assert wrong_method.mimetype == "application/json"
