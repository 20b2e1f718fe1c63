"""Bad input on every POST form and JSON endpoint: a clear 4xx and no table changed (plan A).

The forms are found from `app.url_map`: every rule that takes POST is requested as the actor the
access table (tests/data/access.toml) lets in, its form read from the page it serves, and filled
with values that the last submission of each sweep proves valid. A new form is swept as soon as it
has its row in the access table; a field whose name is not below gets the page's own value.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import count
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.extensions import db, limiter
from app.models import Campaign, Invoice, Payment
from tests.factories import ACTORS, PASSWORD, make_council_pledge, make_pledge, make_route_world
from tests.helpers import csrf_token, load_access_table, route_keys, route_url, sign_in
from tests.security.forms import Field, Form, changed_tables, post_form, snapshot

TABLE = load_access_table()
ROUTES: dict[str, dict[str, Any]] = TABLE["routes"]
MAX_BODY = 1024 * 1024  # MAX_CONTENT_LENGTH in config.py

# Valid values for fields the page leaves empty, by field name (the data-driven part: a new form
# whose fields are named differently adds them here).
VALID: dict[str, str | list[str]] = {
    "email": "ada@example.org",
    "password": PASSWORD,
    "current_password": PASSWORD,
    "new_password": "a much longer new passphrase",
    "confirm": "a much longer new passphrase",
    "amount": "25",
    "cap": "1,000",
    "ratio": "1",
    "value": "3",
    "note": "From the quarterly survey",
    "description": "Room hire",
    "title": "A new collaboration",
    "text": "Three councils now share one booking system.",
    "body": "We have news.",
    "link": "https://example.org/story",
    "reason": "Agreed at the board meeting",
    "po_number": "PO-1234",
    "billing_contact": "Alex Accounts",
    "billing_email": "accounts@example.org",
    "billing_address": "Town Hall\nHigh Street",
    "consent": "y",
    "period": "2026-27",
    "recorded_on": ["1", "6", "2026"],
    "spent_on": ["1", "6", "2026"],
    "received_on": ["1", "6", "2026"],
    "published_on": ["1", "6", "2026"],
    "closes_on": ["1", "6", "2099"],
    "slug": "a-new-campaign",
    "summary": "A shared role for councils that collaborate.",
    "target": "45,000",
    "funding_period": "2099-00",
    # A public address written as one, so no name has to be looked up here.
    "url": "https://93.184.215.14/pledgeline-events",
    "events": "pledge.committed",
}

# Each kind of bad input and the value sent. Blank and control characters go into every box at
# once; the payloads into every box that takes a number, an amount, an email or a date (in free
# text they are fine, and shown escaped: tests/reports/test_report_safety.py); money values into
# the amount boxes, the other boxes staying valid.
EVERY_BOX = {
    "empty": "",
    "spaces only (no-break, em, tab)": "\u00a0\u2003\t ",
    "NUL and control characters": "25\x00\x07",
}
STRICT_BOX = {
    "odd Unicode (zero-width, right-to-left override)": "2\u200b5\u202e\ufeff",
    "HTML payload": '"><script>alert(1)</script><img src=x onerror=alert(1)>',
    "SQL payload": "1' OR '1'='1'; DROP TABLE pledge; --",
    "wrong type (words)": "twenty five",
}
MONEY = {
    "zero": "0",
    "negative": "-25",
    "over any cap": "£100,000,001",
    "too many digits for a bigint": "9" * 30,
    "fractional pence": "£1.005",
    "two decimal points": "1.2.3",
    "exponent": "1e3",
}
KEPT_HIDDEN = {"csrf_token", "next"}
# Field names that take an amount of money, and those whose value has a shape (a number, a date).
MONEY_NAMES = ("amount", "cap", "target", "pounds", "fee")
STRICT_NAMES = (*MONEY_NAMES, "email", "day", "month", "year", "date", "number_of", "instalments", "ratio")

# Forms whose valid submission cannot go through with make_route_world's samples, and why.
BASELINE_NOT_VALID: dict[str, str] = {}


def _paid_payment(samples: dict[str, str]) -> dict[str, str]:
    """A card pledge with its one instalment paid: a payment there is something to refund of."""
    campaign = db.session.scalars(select(Campaign).where(Campaign.slug == samples["campaign_slug"])).one()
    pledge = make_pledge(campaign, email="paid@example.org", paid_instalments=1)
    payment = db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id)).one()
    payment.stripe_payment_intent_id = "pi_bad_input_sweep"  # as if charged through Stripe
    db.session.commit()
    return {"payment_id": str(payment.id)}


def _issued_invoice(samples: dict[str, str]) -> dict[str, str]:
    """A council's unconditional pledge: its invoice is issued and waits for a bank transfer."""
    campaign = db.session.scalars(select(Campaign).where(Campaign.slug == samples["campaign_slug"])).one()
    pledge = make_council_pledge(campaign, conditional=False)
    invoice = db.session.scalars(select(Invoice).where(Invoice.pledge_id == pledge.id)).one()
    return {"invoice_id": str(invoice.id)}


# Routes whose form make_route_world's samples do not show (its payment is pending, its invoice a
# pro-forma): what to make first, returning the samples to use instead.
SAMPLES_FOR = {
    "treasurer.refund_payment": _paid_payment,
    "treasurer.resend_receipt": _paid_payment,
    "treasurer.record_bank_transfer": _issued_invoice,
}

_addresses = count(1)


def _address() -> str:
    n = next(_addresses)
    return f"10.77.{n // 256 % 256}.{n % 256}"


def _post_rows() -> list[str]:
    keys = []
    for key in ROUTES:
        method, endpoint = key.split(" (", 1)[0].split(" ", 1)
        if method == "POST" and "(" not in key and endpoint != "webhooks.stripe":
            keys.append(endpoint)
    return sorted(keys)


def _actor_for(endpoint: str, row: dict[str, Any]) -> str:
    """The actor the route is for: the narrowest role that gets in, or a signed-in pledger for public forms."""
    allowed = [a for a in ACTORS if row.get(a) == "ok"] or [a for a in ACTORS if row.get(a) == "404"]
    assert allowed, "no actor reaches this route"
    if len(allowed) == len(ACTORS):
        return "anonymous" if endpoint == "account.sign_in" else "pledger"  # signed in, sign-in forwards
    for actor in ("officer_a", "sponsor", "treasurer", "admin", "pledger", "anonymous"):
        if actor in allowed:
            return actor
    return allowed[0]


def _money(item: Field) -> bool:
    return any(part in item.name.lower() for part in MONEY_NAMES)


def _strict(item: Field) -> bool:
    """A box whose value has a shape: an amount, a number, an email address or part of a date."""
    return item.kind in ("email", "number") or any(part in item.name.lower() for part in STRICT_NAMES)


def _valid(item: Field) -> str | list[str]:
    if item.kind in ("select", "radio"):
        return item.value or next((o for o in item.options if o), "")
    if item.kind == "checkbox":
        return item.value or str(VALID.get(item.name, ""))
    if item.boxes > 1 and all(item.filled):
        return item.filled  # a date the page filled in, box by box
    return item.value or VALID.get(item.name, "")


def _fill(form: Form, token: str | None, overrides: dict[str, str] | None = None) -> dict[str, str | list[str]]:
    overrides = overrides or {}
    data = {name: _valid(item) for name, item in form.fields.items()}
    for name, value in overrides.items():
        boxes = form.fields[name].boxes if name in form.fields else 1
        data[name] = value if boxes == 1 else [value] * boxes  # a bad date: the same in each box
    data = {k: v for k, v in data.items() if v != "" or k in overrides}
    if token is None:
        data.pop("csrf_token", None)
    else:
        data["csrf_token"] = token
    return data


def _submissions(form: Form, token: str) -> list[tuple[str, dict[str, str | list[str]]]]:
    """(kind, form data) for every bad submission of this form."""
    typed = [f for f in form.fields.values() if f.typed]
    strict = [f for f in typed if _strict(f)]
    money = [f for f in typed if _money(f)]
    choices = [f for f in form.fields.values() if f.kind in ("select", "radio")]
    hidden = [f for f in form.fields.values() if f.kind == "hidden" and f.name not in KEPT_HIDDEN]
    out: list[tuple[str, dict[str, str | list[str]]]] = []
    if typed:
        for kind, value in EVERY_BOX.items():
            out.append((kind, _fill(form, token, {f.name: value for f in typed})))
    if strict:
        for kind, value in STRICT_BOX.items():
            out.append((kind, _fill(form, token, {f.name: value for f in strict})))
    for kind, value in MONEY.items() if money else ():
        out.append((f"money: {kind}", _fill(form, token, {f.name: value for f in money})))
    for item in typed:
        # One box at a time, the others valid: ten times its limit, or ten times the longest any
        # form here takes (1,000 characters in a box, 10,000 in a text area) if the page sets none.
        limit = item.maxlength or (10_000 if item.kind == "textarea" else 1_000)
        out.append(("10x too long", _fill(form, token, {item.name: "x" * 10 * limit})))
    for item in choices:
        out.append(("wrong choice", _fill(form, token, {item.name: "not-one-of-the-choices"})))
    for item in hidden:
        out.append(("tampered hidden field", _fill(form, token, {item.name: "1' OR '1'='1" + "x" * 1000})))
    if typed or choices:
        # Fields nobody offered (a role, a status, an amount in pence) on top of empty boxes.
        extra = {"role": "admin", "status": "fulfilled", "amount_pence": "1", "is_admin": "1", "user_id": "1"}
        out.append(("unexpected fields", {**_fill(form, token, {f.name: "" for f in typed}), **extra}))
    out.append(("missing CSRF token", _fill(form, None)))
    out.append(("body over the size limit", _fill(form, token, {"padding": "x" * (MAX_BODY + 1)})))
    return out


def _names_a_problem(response: TestResponse, kind: str) -> str | None:
    """What is wrong with the answer, or None when it is a clear refusal."""
    html = response.get_data(as_text=True)
    if kind == "body over the size limit":
        return None if response.status_code == 413 else f"HTTP {response.status_code}, wanted 413"
    if response.status_code not in (400, 422):
        return f"HTTP {response.status_code}, wanted 400 or 422"
    if kind == "missing CSRF token":
        return None if "The form had expired" in html else "no word of the missing CSRF token"
    summary = re.search(r"govuk-error-summary__list[^>]*>(.*?)</ul>", html, re.S)
    if summary and "<li" in summary[1]:
        pass  # the form again, its error summary listing what to fix
    elif not re.search(r'<h1 class="govuk-heading-l">[^<]*</h1>\s*<p class="govuk-body">(?!If you)', html):
        return "neither a GOV.UK error summary nor an error page saying what was wrong"
    if "<script>alert(1)</script>" in html:
        return "the HTML payload came back unescaped"
    return None


# Counted as the sweep runs; tests/security/conftest.py prints them at the end of the run.
FIGURES: Counter[str] = Counter()


@pytest.mark.parametrize("endpoint", _post_rows())
def test_every_form_refuses_bad_input_clearly_and_changes_nothing(app: Flask, endpoint: str) -> None:
    key = f"POST {endpoint}"
    row = ROUTES[key]
    actor = _actor_for(endpoint, row)
    users, samples = make_route_world()
    if endpoint in SAMPLES_FOR:
        samples |= SAMPLES_FOR[endpoint](samples)
    client: FlaskClient = app.test_client()
    if actor != "anonymous":
        assert sign_in(client, users[actor].email, PASSWORD).status_code == 302
    rule = next(rule for k, rule, _ in route_keys(app) if k == key)
    url = route_url(app, rule, row, TABLE, samples)

    form = None
    if "GET" in (rule.methods or ()):
        page = client.get(url, environ_base={"REMOTE_ADDR": _address()})
        if page.status_code == 200:
            form = post_form(page.get_data(as_text=True), url.split("?")[0])
    if form is None:  # a button posted from elsewhere: the access table's fields, if any
        form = Form(action=url)
        for name, value in (row.get("form") or {}).items():
            form.fields[name] = Field(name, "hidden", str(value).format(**samples))
    if "csrf_token" in form.fields:
        token = form.fields["csrf_token"].value
    else:  # this session's token, from a page that always has a form
        token = csrf_token(client, "/account/sign-in" if actor == "anonymous" else "/account/password")

    before = snapshot()
    problems = []
    submissions = _submissions(form, token)
    for kind, data in submissions:
        limiter.reset()
        response = client.post(url, data=data, environ_base={"REMOTE_ADDR": _address()})
        wrong = _names_a_problem(response, kind)
        if wrong:
            problems.append(f"{kind}: {wrong}")
        changed = changed_tables(before, snapshot())
        if changed:
            problems.append(f"{kind}: HTTP {response.status_code} changed {changed}")
            before = snapshot()
    FIGURES["submissions"] += len(submissions)
    FIGURES["forms"] += 1
    FIGURES["forms with fields to fill"] += any(f.editable for f in form.fields.values())
    FIGURES["kinds"] = max(FIGURES["kinds"], len({kind for kind, _ in submissions}))
    if any(f.editable for f in form.fields.values()) and endpoint not in BASELINE_NOT_VALID:
        # The same form with the valid values goes through: the refusals above were the bad values'.
        limiter.reset()
        response = client.post(url, data=_fill(form, token), environ_base={"REMOTE_ADDR": _address()})
        # 503 is the "try again" page of a form that got past validation to an unreachable Stripe.
        if response.status_code in (400, 413, 422) or (response.status_code >= 500 and response.status_code != 503):
            errors = re.findall(r'<a href="#[^"]*">([^<]*)</a>', response.get_data(as_text=True))
            problems.append(f"the valid submission was refused (HTTP {response.status_code}: {errors}): add to VALID")
    assert not problems, f"POST {url} as {actor}:\n  " + "\n  ".join(problems)


# The one JSON endpoint that takes a POST: Stripe's webhooks. Every bad body is refused with a 400
# (its signature cannot match), or 413 when too large, and nothing is written.
JSON_BODIES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "application/json"),
    "not JSON": (b"not json at all", "application/json"),
    "wrong type (a list)": (b"[1, 2, 3]", "application/json"),
    "wrong type (a string)": (b'"payment_intent.succeeded"', "application/json"),
    "NUL and odd Unicode": ('{"id": "evt_\u0000\u202e", "type": "x"}'.encode(), "application/json"),
    "invalid UTF-8": (b'{"id": "\xff\xfe"}', "application/json"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "zero and negative amounts": (
        json.dumps({"type": "payment_intent.succeeded", "data": {"object": {"amount": -1}}}).encode(),
        "application/json",
    ),
    "HTML payload": (b'{"type": "<script>alert(1)</script>"}', "application/json"),
    "SQL payload": (b"{\"id\": \"evt_1' OR '1'='1\"}", "application/json"),
    "unexpected fields": (b'{"id": "evt_1", "type": "payment_intent.succeeded", "is_admin": true}', "application/json"),
    "form data instead of JSON": (b"id=evt_1&type=payment_intent.succeeded", "application/x-www-form-urlencoded"),
    "body over the size limit": (b'{"pad": "' + b"x" * (MAX_BODY + 1) + b'"}', "application/json"),
}


@pytest.mark.parametrize("signature", ["no signature", "a forged signature"])
def test_the_webhook_refuses_every_bad_body_and_writes_nothing(client: FlaskClient, signature: str) -> None:
    make_route_world()
    headers = {} if signature == "no signature" else {"Stripe-Signature": "t=1700000000,v1=" + "0" * 64}
    before = snapshot()
    problems = []
    for kind, (body, content_type) in JSON_BODIES.items():
        response = client.post("/webhooks/stripe", data=body, content_type=content_type, headers=headers)
        wanted = 413 if kind == "body over the size limit" else 400
        if response.status_code != wanted:
            problems.append(f"{kind}: HTTP {response.status_code}, wanted {wanted}")
        elif wanted == 400 and "error" not in (response.get_json(silent=True) or {}):
            problems.append(f"{kind}: the answer does not say what was wrong")
        if changed := changed_tables(before, snapshot()):
            problems.append(f"{kind}: changed {changed}")
    FIGURES["JSON submissions"] += len(JSON_BODIES)
    FIGURES["JSON endpoints"] = 1
    assert not problems, "\n".join(problems)
