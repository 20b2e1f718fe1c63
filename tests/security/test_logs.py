"""What the logs of a realistic run hold: who signed in, who failed and who was refused, and never a
secret, a card number, a password, a cookie or a signed link (plan I).

The run: a failed sign-in, a sign-in with "remember me", a page the account may not see (403), a
card pledge paid with 4242 4242 4242 4242 through localstripe, Stripe's signed webhook for it, a
password change and signing out. Every record of every logger is captured at DEBUG, with its
arguments and any traceback, and searched for each secret the run handled.
"""

from __future__ import annotations

import logging
import re
import secrets

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Payment, PaymentStatus, Pledge, Role
from tests.factories import PASSWORD, CampaignFactory, UserFactory
from tests.helpers import csrf_token, sign_in
from tests.stripe_server import LocalStripe, save_card
from tests.webhooks.stripe_events import encode, payment_intent_event, sign

pytestmark = pytest.mark.stripe

CARD = "4242424242424242"
WRONG_PASSWORD = "Tr0ub4dor&3-is-not-it"
NEW_PASSWORD = "a brand new passphrase for ada"
# Counted by the run; tests/security/conftest.py prints them at the end.
FIGURES: dict[str, int] = {}
SECRET_SHAPES = re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{6,}|\bwhsec_[A-Za-z0-9]{6,}")


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html)
    assert match, f"no {name} on the page"
    return match[1]


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), str(getattr(record, "exc_text", "") or "")]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def test_a_realistic_run_logs_the_right_events_and_no_secret(
    app: Flask, localstripe: LocalStripe, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    # Keys shaped like real ones, so a leak of either would show (localstripe accepts any key).
    secret_key = "sk_test_" + secrets.token_hex(16)
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", secret_key)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", localstripe.url)
    webhook_secret = app.config["STRIPE_WEBHOOK_SECRET"]
    assert webhook_secret.startswith("whsec_")
    campaign = CampaignFactory()
    UserFactory(email="ada@example.org", role=Role.PLEDGER)
    client = app.test_client()
    cookies: set[str] = set()

    def keep_cookies() -> None:
        for name in ("pledgeline_session", "remember_token"):
            if (cookie := client.get_cookie(name)) is not None:
                cookies.add(cookie.value)

    client.get("/account/sign-in")
    keep_cookies()

    # Sign-in: a wrong password, then the right one with "remember me"; then a page Ada may not see.
    assert sign_in(client, "ada@example.org", WRONG_PASSWORD).status_code == 200
    assert sign_in(client, "ada@example.org", PASSWORD, remember=True).status_code == 302
    assert client.get_cookie("pledgeline_session") and client.get_cookie("remember_token")
    keep_cookies()
    assert client.get("/treasurer/").status_code == 403

    # A card pledge, its card saved and charged through localstripe, as Stripe.js would do it.
    form_page = client.get(f"/campaigns/{campaign.slug}/pledge").get_data(as_text=True)
    response = client.post(
        f"/campaigns/{campaign.slug}/pledge",
        data={
            "csrf_token": _hidden(form_page, "csrf_token"),
            "submission_token": _hidden(form_page, "submission_token"),
            "amount": "40",
            "frequency": "one_off",
            "conditional": "no",
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "visibility": "public",
            "consent": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    card_url = response.location
    pledge_token = card_url.split("/pledges/", 1)[1].split("/", 1)[0]
    card_page = client.get(card_url).get_data(as_text=True)
    client_secret = re.search(r'data-client-secret="([^"]+)"', card_page)
    assert client_secret, "the card page carries no client secret"
    setup_intent = client_secret[1].split("_secret_", 1)[0]
    save_card(localstripe.client(), setup_intent, CARD)
    response = client.post(
        card_url, data={"csrf_token": _hidden(card_page, "csrf_token"), "setup_intent": setup_intent}
    )
    assert response.status_code == 302 and "/card" not in response.location
    db.session.rollback()
    pledge = db.session.scalars(select(Pledge).where(Pledge.email == "ada@example.org")).one()
    payment = db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id)).one()
    assert payment.status == PaymentStatus.SUCCEEDED

    # Stripe's webhook for that payment, signed with the webhook secret.
    body = encode(payment_intent_event("payment_intent.succeeded", payment))
    response = app.test_client().post(
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": sign(body, webhook_secret)},
        content_type="application/json",
    )
    assert response.status_code == 200
    # ... and a forged one.
    forged = app.test_client().post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body, "whsec_" + "f" * 32)}
    )
    assert forged.status_code == 400

    # A password change, then signing out.
    token = csrf_token(client, "/account/password")
    response = client.post(
        "/account/password",
        data={"csrf_token": token, "current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    keep_cookies()
    assert (
        client.post("/account/sign-out", data={"csrf_token": csrf_token(client, "/account/password")}).status_code
        == 302
    )

    records = list(caplog.records)
    texts = [(r.name, _record_text(r)) for r in records]
    messages = [r.getMessage() for r in records]

    # What must be logged: sign-ins, failures, refusals, and the money's path.
    for wanted in ("sign-in: user", "sign-in failed", "forbidden: user", "password changed: user", "stripe event"):
        assert any(wanted in m for m in messages), f"nothing logged for {wanted!r}; logged: {messages}"

    # What must never be.
    never = {
        "the Stripe secret key": secret_key,
        "the Stripe webhook secret": webhook_secret,
        "the app's SECRET_KEY": app.config["SECRET_KEY"],
        "the card number": CARD,
        "the card number, spaced": "4242 4242 4242 4242",
        "the password": PASSWORD,
        "the wrong password typed": WRONG_PASSWORD,
        "the new password": NEW_PASSWORD,
        **{f"a session or remember-me cookie ({n})": value for n, value in enumerate(sorted(cookies), 1)},
        "the pledge's signed link": pledge_token,
        "the SetupIntent's client secret": client_secret[1],
        "the CSRF token": token,
    }
    leaks = [
        f"{what} in a {name} record: {text[:200]!r}"
        for what, value in never.items()
        for name, text in texts
        if value and value in text
    ]
    leaks += [
        f"a key-shaped secret in a {name} record: {text[:200]!r}" for name, text in texts if SECRET_SHAPES.search(text)
    ]
    assert not leaks, "\n".join(leaks)
    assert len(records) >= 8, f"too few records to mean anything: {messages}"
    FIGURES.update(records=len(records), loggers=len({r.name for r in records}), secrets=len(never))
