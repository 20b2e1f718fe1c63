"""charge.refunded carries the charge's running refund total; we follow it and never overshoot."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from app.extensions import db
from app.ledger import totals
from app.models import Campaign, Payment, PaymentStatus
from tests.webhooks.stripe_events import charge_refunded_event, payment_intent_event
from tests.webhooks.support import Stripe, card_payment, database_state, stored_events


def _paid(stripe: Stripe, pounds: str = "25") -> tuple[Payment, Campaign]:
    payment = card_payment(pounds=pounds)
    assert stripe.deliver(payment_intent_event("payment_intent.succeeded", payment)) == "processed"
    return payment, db.session.get_one(Campaign, payment.pledge.campaign_id)


def _without_event_log(state: dict[str, Any]) -> dict[str, Any]:
    return {table: rows for table, rows in state.items() if table not in ("stripe_event", "payment_event")}


PARTIAL, FULL = 10_00, 25_00


@pytest.mark.parametrize("order", list(itertools.permutations(["partial", "full"])), ids="-then-".join)
def test_partial_and_full_refund_in_either_order_and_duplicated(stripe: Stripe, order: tuple[str, str]) -> None:
    payment, campaign = _paid(stripe)
    events = {
        "partial": charge_refunded_event(payment, amount_refunded=PARTIAL),
        "full": charge_refunded_event(payment, amount_refunded=FULL),
    }
    highest = 0
    for name in order:
        running_total = events[name]["data"]["object"]["amount_refunded"]
        highest = max(highest, running_total)
        for _ in range(3):  # Stripe's duplicate deliveries of the same event
            stripe.deliver(events[name])
        # The same total told again in a different event (e.g. after a retried refund request).
        stripe.deliver(charge_refunded_event(payment, amount_refunded=running_total))

        assert payment.refunded_pence == highest
        assert campaign.collected_pence == FULL - highest
        assert totals.verify() == []

    assert payment.refunded_pence == FULL
    assert payment.status == PaymentStatus.SUCCEEDED
    assert campaign.collected_pence == 0
    outcomes = [e.outcome for e in stored_events() if e.type == "charge.refunded"]
    assert outcomes.count("processed") == (2 if order == ("partial", "full") else 1)


def test_refund_claiming_more_than_was_paid_is_a_mismatch_and_changes_nothing(stripe: Stripe) -> None:
    payment, campaign = _paid(stripe)
    stripe.deliver(charge_refunded_event(payment, amount_refunded=PARTIAL))
    before = _without_event_log(database_state())

    outcome = stripe.deliver(charge_refunded_event(payment, amount_refunded=FULL + 1))

    assert outcome == "mismatch"
    assert _without_event_log(database_state()) == before
    assert payment.refunded_pence == PARTIAL
    assert campaign.collected_pence == FULL - PARTIAL
    assert stored_events()[-1].outcome == "mismatch"


def test_refund_in_another_currency_is_a_mismatch(stripe: Stripe) -> None:
    payment, _ = _paid(stripe)
    before = _without_event_log(database_state())

    assert stripe.deliver(charge_refunded_event(payment, amount_refunded=PARTIAL, currency="eur")) == "mismatch"
    assert _without_event_log(database_state()) == before


def test_refund_of_a_charge_we_do_not_know_is_unmatched(stripe: Stripe) -> None:
    payment, _ = _paid(stripe)
    event = charge_refunded_event(payment, amount_refunded=PARTIAL)
    event["data"]["object"].update(id="ch_not_ours", payment_intent="pi_not_ours")
    before = _without_event_log(database_state())

    assert stripe.deliver(event) == "unmatched"
    assert _without_event_log(database_state()) == before


def test_refund_arriving_before_the_success_it_refunds_is_not_lost(stripe: Stripe) -> None:
    """Stripe does not promise order: a delayed payment_intent.succeeded can come after charge.refunded.

    A refund proves the charge succeeded, so once both have arrived (either way round) the
    payment is paid and refunded, and the campaign counts what is left.
    """
    payment = card_payment(pounds="25")
    campaign = db.session.get_one(Campaign, payment.pledge.campaign_id)

    stripe.deliver(charge_refunded_event(payment, amount_refunded=PARTIAL))
    stripe.deliver(payment_intent_event("payment_intent.succeeded", payment))

    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.refunded_pence == PARTIAL
    assert campaign.collected_pence == FULL - PARTIAL
    assert totals.verify() == []
