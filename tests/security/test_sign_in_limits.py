"""Guessing at sign-in: the 11th failure gets 429 with Retry-After, and nothing in the answers tells
an address with an account from one without (plan F). tests/views/test_account.py checks the
limits per account and per address; this checks they cannot be used to find out who has an account.
"""

from __future__ import annotations

import re

from flask import Flask
from werkzeug.test import TestResponse

from tests.factories import UserFactory
from tests.helpers import csrf_token

ATTEMPTS_ALLOWED = 10


def _attempt(app: Flask, email: str, ip: str) -> TestResponse:
    client = app.test_client()
    token = csrf_token(client, "/account/sign-in")
    return client.post(
        "/account/sign-in",
        data={"email": email, "password": "a wrong guess", "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )


def _comparable(response: TestResponse, email: str) -> str:
    html = response.get_data(as_text=True).replace(email, "EMAIL")
    html = re.sub(r'(name="csrf_token" type="hidden" value=")[^"]+', r"\1", html)
    return re.sub(r'nonce="[^"]+"', "", html)


def _guess(app: Flask, email: str, network: int) -> list[TestResponse]:
    """Eleven wrong passwords for one address, each from a different client address."""
    return [_attempt(app, email, f"10.{network}.0.{n}") for n in range(1, ATTEMPTS_ALLOWED + 2)]


def test_an_address_without_an_account_is_locked_exactly_like_one_with(app: Flask) -> None:
    UserFactory(email="ada@example.org")

    known = _guess(app, "ada@example.org", 31)
    unknown = _guess(app, "nobody@example.org", 32)

    for answers in (known, unknown):
        assert [r.status_code for r in answers] == [200] * ATTEMPTS_ALLOWED + [429]
        retry_after = int(answers[-1].headers["Retry-After"])
        assert 0 < retry_after <= 5 * 60
    for k, u in zip(known, unknown, strict=True):
        assert _comparable(k, "ada@example.org") == _comparable(u, "nobody@example.org")
        assert sorted(h for h, _ in k.headers if not h.lower().startswith("x-ratelimit")) == sorted(
            h for h, _ in u.headers if not h.lower().startswith("x-ratelimit")
        )
