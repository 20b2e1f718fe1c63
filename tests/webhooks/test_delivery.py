"""Stripe delivers at least once, in any order, and retries what fails: each event counts exactly once."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.ledger import totals
from app.models import (
    Campaign,
    EmailMessage,
    EmailStatus,
    Frequency,
    InstalmentStatus,
    Payment,
    PaymentStatus,
    PledgeEvent,
    PledgeStatus,
    StripeEvent,
)
from app.payments import webhooks
from tests.factories import CampaignFactory
from tests.webhooks.stripe_events import charge_id_for, charge_refunded_event, encode, payment_intent_event, sign
from tests.webhooks.support import Stripe, card_payment, database_state, emails, stored_events

COPIES = 50


def _assert_credited_once(payment: Payment) -> None:
    """What the pledger and the treasurer see after one £25 payment, however often Stripe told us."""
    pledge = payment.pledge
    campaign = db.session.get_one(Campaign, pledge.campaign_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert len(stored_events()) == 1
    (receipt,) = db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "receipt"))
    assert receipt.to_address == pledge.email
    assert receipt.status == EmailStatus.SENT
    assert f"Reference: {pledge.reference}" in receipt.body and "Amount paid: £25.00" in receipt.body
    assert pledge.status == PledgeStatus.FULFILLED
    assert pledge.instalments[0].status == InstalmentStatus.PAID
    history = db.session.scalars(select(PledgeEvent.to_status).where(PledgeEvent.pledge_id == pledge.id))
    assert sorted(history) == sorted([PledgeStatus.PENDING, PledgeStatus.COMMITTED, PledgeStatus.FULFILLED])
    assert campaign.collected_pence == 25_00
    assert campaign.pledged_pence == 25_00
    assert campaign.pledge_count == 1
    assert totals.verify() == []


def test_same_event_fifty_times_credits_once(stripe: Stripe) -> None:
    payment = card_payment(pounds="25")
    event = payment_intent_event("payment_intent.succeeded", payment)

    outcomes = [stripe.deliver(event) for _ in range(COPIES)]

    assert outcomes == ["processed"] + ["duplicate"] * (COPIES - 1)
    _assert_credited_once(payment)


def test_same_event_fifty_times_at_once_credits_once(stripe: Stripe, app: Flask) -> None:
    """50 deliveries racing, each from its own thread and client (its own database session).

    On PostgreSQL this is the real race: the unique event id makes 49 of them wait and then find
    the event already stored. SQLite runs one writer at a time, but must still give one credit.
    """
    payment = card_payment(pounds="25")
    event = payment_intent_event("payment_intent.succeeded", payment)
    body = encode(event)
    db.session.commit()
    start = threading.Barrier(COPIES)

    def deliver() -> tuple[int, Any]:
        client = app.test_client()
        start.wait(timeout=30)
        response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body)})
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=COPIES) as pool:
        results = list(pool.map(lambda _: deliver(), range(COPIES)))
    db.session.commit()

    assert [status for status, _ in results] == [200] * COPIES, results
    outcomes = sorted(body["outcome"] for _, body in results)
    assert outcomes == ["duplicate"] * (COPIES - 1) + ["processed"]
    _assert_credited_once(payment)


# --- Order independence ----------------------------------------------------------------------

INTENT_EVENTS = (
    "payment_intent.created",
    "payment_intent.requires_action",
    "payment_intent.payment_failed",
    "payment_intent.succeeded",
)

# One-off and charged at once (the pledge is still pending), or the first of three monthly
# instalments of a conditional pledge charged when the campaign succeeds (already committed).
SHAPES = {
    "one-off": ({"frequency": Frequency.ONE_OFF}, PledgeStatus.FULFILLED),
    "monthly": ({"frequency": Frequency.MONTHLY, "instalments": 3, "conditional": True}, PledgeStatus.ACTIVE),
}


def _final_state(payment: Payment) -> dict[str, Any]:
    pledge = payment.pledge
    return {
        "payment": payment.status,
        "intent": payment.stripe_payment_intent_id == f"pi_test_{payment.id:06d}",
        "charge": payment.stripe_charge_id == charge_id_for(payment),
        "failure message": payment.failure_message,
        "instalments": [i.status for i in pledge.instalments],
        "pledge": pledge.status,
        "collected": payment.collected_pence,
        "receipts": emails("receipt", pledge),
    }


def _run_orders(
    stripe: Stripe, campaign: Campaign, types: tuple[str, ...], shape: dict[str, Any]
) -> dict[tuple[str, ...], Any]:
    """Deliver every order of `types`, each on a fresh pledge and payment in `campaign`."""
    payments = {}
    for order in itertools.permutations(types):
        payment = card_payment(campaign, pounds="25", **shape)
        for type_ in order:
            stripe.deliver(payment_intent_event(type_, payment))
        payments[order] = payment
    return {order: _final_state(payment) for order, payment in payments.items()}


@pytest.mark.parametrize("shape", SHAPES)
def test_all_24_orders_of_intent_events_end_in_the_same_success(stripe: Stripe, shape: str) -> None:
    """A late failure or "requires action" never undoes a success, whatever order they arrive in."""
    options, paid_pledge = SHAPES[shape]
    campaign = CampaignFactory()

    states = _run_orders(stripe, campaign, INTENT_EVENTS, options)

    assert len(states) == 24
    rest = [InstalmentStatus.SCHEDULED] * (2 if shape == "monthly" else 0)
    expected = {
        "payment": PaymentStatus.SUCCEEDED,
        "intent": True,
        "charge": True,
        "failure message": None,
        "instalments": [InstalmentStatus.PAID, *rest],
        "pledge": paid_pledge,
        "collected": 25_00,
        "receipts": 1,
    }
    different = {order: state for order, state in states.items() if state != expected}
    assert different == {}
    assert campaign.collected_pence == 24 * 25_00
    assert totals.verify() == []


@pytest.mark.parametrize("shape", SHAPES)
def test_orders_without_a_success_all_end_failed(stripe: Stripe, shape: str) -> None:
    options, _ = SHAPES[shape]
    unpaid_pledge = PledgeStatus.COMMITTED if options.get("conditional") else PledgeStatus.PENDING
    campaign = CampaignFactory()

    states = _run_orders(stripe, campaign, INTENT_EVENTS[:3], options)

    assert len(states) == 6
    rest = [InstalmentStatus.SCHEDULED] * (2 if shape == "monthly" else 0)
    expected = {
        "payment": PaymentStatus.FAILED,
        "intent": True,
        "charge": False,  # only a successful charge is recorded
        "failure message": "Your card was declined because there is not enough money in the account.",
        "instalments": [InstalmentStatus.FAILED, *rest],
        "pledge": unpaid_pledge,
        "collected": 0,
        "receipts": 0,
    }
    different = {order: state for order, state in states.items() if state != expected}
    assert different == {}
    assert campaign.collected_pence == 0
    assert totals.verify() == []


# --- A handler that fails half-way -----------------------------------------------------------


def test_handler_failing_half_way_answers_5xx_writes_nothing_and_the_retry_succeeds(
    stripe: Stripe, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An injected fault, the one thing mocked in these tests: the real payment_intent.succeeded
    handler runs (payment marked succeeded, receipt queued, campaign totals moved, all in the
    request's transaction) and then the process fails before the webhook commits.
    """
    payment = card_payment(pounds="25")
    event = payment_intent_event("payment_intent.succeeded", payment)
    real_handler = webhooks.HANDLERS["payment_intent.succeeded"]

    def fails_half_way(obj: dict[str, Any]) -> tuple[str, str]:
        real_handler(obj)
        db.session.flush()  # the partial rows really reach the database's transaction
        raise RuntimeError("injected fault: the worker died half-way through the handler")

    monkeypatch.setitem(webhooks.HANDLERS, "payment_intent.succeeded", fails_half_way)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production: a 500, not a raise
    before = database_state()

    response = stripe.send(event)

    assert response.status_code == 500
    assert response.is_json
    assert database_state() == before  # no StripeEvent row, payment pending, no receipt, totals unmoved

    # Stripe retries the same event later; by then the fault is gone.
    monkeypatch.setitem(webhooks.HANDLERS, "payment_intent.succeeded", real_handler)
    assert stripe.deliver(event) == "processed"
    _assert_credited_once(payment)
    assert db.session.scalar(select(StripeEvent.stripe_id)) == event["id"]


RACES = {
    "success and refund": ("payment_intent.succeeded", "charge.refunded"),
    "failure, action and success": (
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
        "payment_intent.succeeded",
    ),
}


@pytest.mark.parametrize("race", RACES)
def test_different_events_racing_for_one_payment_credit_it_once(stripe: Stripe, app: Flask, race: str) -> None:
    """Different events about one payment arriving at the same moment, each in its own session.

    On PostgreSQL each would otherwise act on what it read before the others committed: a late
    failure written over the success, a second receipt, the pledge counted twice in the totals.
    (charge.refunded credits a payment whose success it overtook, so it races the success too.)
    """
    campaign = CampaignFactory()
    payments = [card_payment(campaign, pounds="25") for _ in range(10)]
    bodies = [
        encode(
            charge_refunded_event(payment, amount_refunded=10_00)
            if type_ == "charge.refunded"
            else payment_intent_event(type_, payment)
        )
        for payment in payments
        for type_ in RACES[race]
    ]
    db.session.commit()
    start = threading.Barrier(len(bodies))

    def deliver(body: bytes) -> int:
        client = app.test_client()
        start.wait(timeout=30)
        return client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body)}).status_code

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        statuses = list(pool.map(deliver, bodies))
    db.session.commit()

    assert statuses == [200] * len(bodies)
    refunded = 10_00 if "charge.refunded" in RACES[race] else 0
    for payment in payments:
        assert payment.status == PaymentStatus.SUCCEEDED
        assert payment.failure_message is None
        assert payment.refunded_pence == refunded
        assert payment.pledge.instalments[0].status == InstalmentStatus.PAID
        assert payment.pledge.status == PledgeStatus.FULFILLED
        assert emails("receipt", payment.pledge) == 1
        history = db.session.scalars(select(PledgeEvent.to_status).where(PledgeEvent.pledge_id == payment.pledge_id))
        assert sorted(history) == sorted([PledgeStatus.PENDING, PledgeStatus.COMMITTED, PledgeStatus.FULFILLED])
    assert campaign.pledged_pence == 10 * 25_00
    assert campaign.collected_pence == 10 * (25_00 - refunded)
    assert totals.verify() == []
