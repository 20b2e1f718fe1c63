"""Webhook test support: a signing "Stripe" that POSTs to /webhooks/stripe, and the payments it talks about.

Each delivery is made from its own thread with its own test client, so the request runs in its
own app context and database session exactly as in production (the session is removed, and so
rolled back, when the request ends) rather than sharing the test's session.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import (
    Campaign,
    EmailMessage,
    Frequency,
    Payment,
    Pledge,
    PledgeStatus,
    StripeEvent,
)
from app.payments import settle
from tests.factories import CampaignFactory, make_pledge
from tests.webhooks.stripe_events import encode, sign

URL = "/webhooks/stripe"


class Stripe:
    """Sends events to our webhook the way Stripe does: raw JSON body plus Stripe-Signature."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def post(self, body: bytes, signature: str | None) -> TestResponse:
        db.session.commit()  # what the test set up must be visible to the request
        with ThreadPoolExecutor(max_workers=1) as pool:
            response = pool.submit(self.post_from_this_thread, body, signature).result()
        db.session.commit()  # end the test's read transaction, so it sees what the request did
        return response

    def post_from_this_thread(self, body: bytes, signature: str | None) -> TestResponse:
        headers = {} if signature is None else {"Stripe-Signature": signature}
        return self.app.test_client().post(URL, data=body, headers=headers, content_type="application/json")

    def send(self, event: dict[str, Any]) -> TestResponse:
        """One delivery attempt, signed now (each of Stripe's retries carries a fresh timestamp)."""
        body = encode(event)
        return self.post(body, sign(body))

    def deliver(self, event: dict[str, Any]) -> str:
        """Send an event that must be accepted; returns the outcome we answered with."""
        response = self.send(event)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.is_json
        return str(response.get_json()["outcome"])


def card_payment(
    campaign: Campaign | None = None,
    *,
    pounds: str = "25",
    frequency: Frequency = Frequency.ONE_OFF,
    instalments: int | None = None,
    conditional: bool = False,
    intent_stored: bool = True,
) -> Payment:
    """A card pledge with a saved card and its first instalment's payment written, as before a charge.

    An unconditional pledge is still pending when it is first charged; a conditional one was
    committed when the card was saved and is charged when the campaign succeeds. With
    `intent_stored=False` we crashed after Stripe made the PaymentIntent but before we saved its id.
    """
    campaign = campaign or CampaignFactory()
    pledge = make_pledge(
        campaign,
        pounds=pounds,
        frequency=frequency,
        instalments=instalments,
        conditional=conditional,
        status=PledgeStatus.COMMITTED if conditional else PledgeStatus.PENDING,
    )
    pledge.stripe_customer_id = f"cus_test_{pledge.id:06d}"
    pledge.stripe_setup_intent_id = f"seti_test_{pledge.id:06d}"
    pledge.stripe_payment_method_id = f"pm_test_{pledge.id:06d}"
    payment = settle.open_card_payment(pledge.instalments[0])
    if intent_stored:
        payment.stripe_payment_intent_id = f"pi_test_{payment.id:06d}"
    db.session.commit()
    return payment


def database_state() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: equal before and after means nothing at all was written."""
    state = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        state[table.name] = [tuple(row) for row in rows]
    return state


def stored_events() -> list[StripeEvent]:
    return list(db.session.scalars(select(StripeEvent).order_by(StripeEvent.id)))


def emails(kind: str, pledge: Pledge | None = None) -> int:
    query = select(func.count()).select_from(EmailMessage).where(EmailMessage.kind == kind)
    if pledge is not None:
        query = query.where(EmailMessage.pledge_id == pledge.id)
    return int(db.session.scalar(query) or 0)
