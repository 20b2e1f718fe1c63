"""A real localstripe process for the tests (a stateful Stripe stand-in from PyPI).

Nothing about Stripe is mocked in the tests that use it: the app's gateway talks HTTP to this
server with stripe-python, exactly as it would to Stripe.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import stripe
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
TEST_WEBHOOK_SECRET = "whsec_test_only_" + "0" * 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalStripe:
    """One localstripe server process on loopback, which can be stopped and started again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scripts.localstripe_server", "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/js.stripe.com/v3/", timeout=1):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("localstripe did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def flush(self) -> None:
        request = urllib.request.Request(f"{self.url}/_config/data", method="DELETE")  # noqa: S310
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass

    def register_webhook(self, url: str, secret: str) -> None:
        data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
        request = urllib.request.Request(f"{self.url}/_config/webhooks/tests", data=data, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass

    def unregister_webhook(self) -> None:
        """localstripe has no way to remove a webhook: point ours at a port where nothing listens."""
        self.register_webhook(f"http://127.0.0.1:{free_port()}/nowhere", TEST_WEBHOOK_SECRET)

    def client(self) -> stripe.StripeClient:
        """A Stripe client for the test itself (playing the pledger's browser or Stripe's dashboard)."""
        return stripe.StripeClient("sk_test_tests", base_addresses={"api": self.url}, max_network_retries=0)

    def authenticate(self, payment_intent_id: str, client_secret: str, *, success: bool = True) -> Any:
        """What the pledger's bank does when they pass (or fail) 3-D Secure."""
        import json

        body = json.dumps({"key": "pk_test_tests", "client_secret": client_secret}).encode()
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}/v1/payment_intents/{payment_intent_id}/_authenticate?success={str(success).lower()}",
            data=body,
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return json.loads(response.read())


@contextmanager
def pointed_at(app: Flask, server: LocalStripe) -> Iterator[None]:
    """Point the (session-wide) app's Stripe settings at `server` for one test."""
    keys = ("STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET", "STRIPE_JS_ORIGIN", "STRIPE_API_ORIGIN", "STRIPE_SECRET_KEY")
    saved = {key: app.config.get(key) for key in keys}
    app.config.update(
        STRIPE_API_BASE=server.url,
        STRIPE_WEBHOOK_SECRET=TEST_WEBHOOK_SECRET,
        STRIPE_JS_ORIGIN=server.url,
        STRIPE_API_ORIGIN=server.url,
        STRIPE_SECRET_KEY="",
    )
    try:
        yield
    finally:
        app.config.update(saved)


def save_card(client: stripe.StripeClient, setup_intent_id: str, card: str = "pm_card_visa") -> str:
    """Confirm a SetupIntent as Stripe.js would in the pledger's browser; returns the card's id.

    `card` is a test PaymentMethod id, or a test card number (for cards with no such id).
    """
    if card.startswith("pm_"):
        intent = client.v1.setup_intents.confirm(setup_intent_id, params={"payment_method": card})
    else:
        intent = client.v1.setup_intents.confirm(
            setup_intent_id,
            params={
                "payment_method_data": {
                    "type": "card",
                    "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
                }
            },  # type: ignore[typeddict-item]
        )
        if intent.status == "requires_action":  # 3-D Secure when saving: the pledger passes it
            intent = client.v1.setup_intents.confirm(setup_intent_id, params={})
    assert intent.status == "succeeded", intent.status
    return str(intent.payment_method)


@contextmanager
def unreachable(app: Flask) -> Iterator[None]:
    """Point the app at a loopback port nothing listens on, as if Stripe were down."""
    saved = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"
    try:
        yield
    finally:
        app.config["STRIPE_API_BASE"] = saved
