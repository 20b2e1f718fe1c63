"""What each payment_intent event does to our records, and what it must never do."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.ledger import totals
from app.models import Campaign, PaymentStatus, PledgeStatus
from tests.factories import CampaignFactory
from tests.webhooks.stripe_events import event, payment_intent_event
from tests.webhooks.support import Stripe, card_payment, database_state, emails, stored_events


def _without_event_log(state: dict[str, Any]) -> dict[str, Any]:
    return {table: rows for table, rows in state.items() if table not in ("stripe_event", "payment_event")}


def _only_event() -> tuple[str, str]:
    (row,) = stored_events()
    return row.outcome, row.note


MISMATCHES = {
    "a penny short": {"amount": 25_00 - 1},
    "a penny over": {"amount": 25_00 + 1},
    "euros": {"currency": "eur"},
    "dollars": {"currency": "usd"},
}


@pytest.mark.parametrize("case", MISMATCHES)
def test_success_for_the_wrong_amount_or_currency_is_not_credited(stripe: Stripe, case: str) -> None:
    payment = card_payment(pounds="25")
    campaign = db.session.get_one(Campaign, payment.pledge.campaign_id)
    before = database_state()

    outcome = stripe.deliver(payment_intent_event("payment_intent.succeeded", payment, **MISMATCHES[case]))

    assert outcome == "mismatch"
    assert _without_event_log(database_state()) == _without_event_log(before)
    assert payment.status == PaymentStatus.PENDING
    assert payment.pledge.status == PledgeStatus.PENDING
    assert campaign.collected_pence == 0
    assert emails("receipt") == 0
    assert _only_event()[0] == "mismatch"
    assert totals.verify() == []


def test_mismatched_success_after_a_real_one_changes_nothing(stripe: Stripe) -> None:
    payment = card_payment(pounds="25")
    stripe.deliver(payment_intent_event("payment_intent.succeeded", payment))
    before = _without_event_log(database_state())

    outcome = stripe.deliver(payment_intent_event("payment_intent.succeeded", payment, amount=250_00))

    assert outcome == "mismatch"
    assert _without_event_log(database_state()) == before


@pytest.mark.parametrize("type_", ["customer.created", "invoice.paid", "payout.paid", "payment_intent.created"])
def test_event_types_we_do_not_act_on_are_stored_as_ignored(stripe: Stripe, type_: str) -> None:
    payment = card_payment()
    if type_.startswith("payment_intent"):
        obj = payment_intent_event(type_, payment)["data"]["object"]
    else:  # something that names our payment, to tempt a careless handler
        obj = {
            "id": "obj_test_1",
            "object": type_.split(".")[0],
            "amount": 25_00,
            "metadata": {"payment_id": str(payment.id)},
        }
    before = _without_event_log(database_state())

    outcome = stripe.deliver(event(type_, obj))

    assert outcome == "ignored"
    assert _without_event_log(database_state()) == before
    assert _only_event()[0] == "ignored"


def test_event_with_no_object_at_all_is_stored_as_ignored(stripe: Stripe) -> None:
    body = event("balance.available", {})
    body["data"] = None

    assert stripe.deliver(body) == "ignored"


def test_success_for_a_payment_intent_we_do_not_know_is_unmatched(stripe: Stripe) -> None:
    payment = card_payment()
    before = _without_event_log(database_state())

    outcome = stripe.deliver(
        payment_intent_event("payment_intent.succeeded", payment, intent_id="pi_someone_else", metadata={})
    )

    assert outcome == "unmatched"
    assert _without_event_log(database_state()) == before
    assert "pi_someone_else" in _only_event()[1]


def test_payment_intent_id_never_saved_is_found_by_the_payment_id_in_its_metadata(stripe: Stripe) -> None:
    """We crashed after Stripe created the PaymentIntent and before we stored its id."""
    payment = card_payment(pounds="25", intent_stored=False)
    campaign = db.session.get_one(Campaign, payment.pledge.campaign_id)

    outcome = stripe.deliver(payment_intent_event("payment_intent.succeeded", payment, intent_id="pi_never_stored"))

    assert outcome == "processed"
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.stripe_payment_intent_id == "pi_never_stored"
    assert payment.pledge.status == PledgeStatus.FULFILLED
    assert campaign.collected_pence == 25_00
    assert emails("receipt", payment.pledge) == 1
    assert totals.verify() == []


def test_mismatched_success_found_by_metadata_is_not_credited_but_is_linked(stripe: Stripe) -> None:
    """Not credited; the PaymentIntent is tied to the payment so collect-due asks Stripe about it
    rather than charging the pledger a second time."""
    payment = card_payment(pounds="25", intent_stored=False)

    outcome = stripe.deliver(
        payment_intent_event("payment_intent.succeeded", payment, intent_id="pi_never_stored", amount=24_99)
    )

    assert outcome == "mismatch"
    assert payment.status == PaymentStatus.PENDING
    assert payment.stripe_payment_intent_id == "pi_never_stored"
    assert emails("receipt") == 0
    assert totals.verify() == []


def test_metadata_naming_a_payment_that_has_another_payment_intent_is_not_trusted(stripe: Stripe) -> None:
    """One PaymentIntent never pays for a payment already tied to a different one."""
    payment = card_payment(pounds="25")  # its PaymentIntent is pi_test_…
    before = _without_event_log(database_state())

    outcome = stripe.deliver(payment_intent_event("payment_intent.succeeded", payment, intent_id="pi_another_one"))

    assert outcome == "unmatched"
    assert _without_event_log(database_state()) == before


def test_metadata_naming_no_payment_of_ours_is_unmatched(stripe: Stripe) -> None:
    payment = card_payment(intent_stored=False)
    before = _without_event_log(database_state())

    outcome = stripe.deliver(
        payment_intent_event("payment_intent.succeeded", payment, intent_id="pi_x", metadata={"payment_id": "999999"})
    )

    assert outcome == "unmatched"
    assert _without_event_log(database_state()) == before


def test_failure_after_success_with_a_new_event_id_leaves_the_money_counted(stripe: Stripe) -> None:
    campaign = CampaignFactory()
    payment = card_payment(campaign, pounds="25")
    stripe.deliver(payment_intent_event("payment_intent.succeeded", payment))

    outcome = stripe.deliver(payment_intent_event("payment_intent.payment_failed", payment))

    assert outcome == "ignored"
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.failure_message is None
    assert campaign.collected_pence == 25_00
    assert emails("payment_failed") == 0


@pytest.mark.parametrize("missing", ["no id", "null id", "empty id", "a number for an id"])
@pytest.mark.parametrize("type_", ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"])
def test_an_event_whose_object_has_no_id_never_reaches_a_payment_without_one(
    stripe: Stripe, missing: str, type_: str
) -> None:
    """Security review, finding 6: `stripe id == None` is `IS NULL` in SQL, and so matched whichever
    payment of ours had no Stripe id yet. Here one is waiting for its PaymentIntent, for the very
    amount the event names, and the event names no payment in its metadata."""
    waiting = card_payment(pounds="25", intent_stored=False)
    sent = payment_intent_event(
        "payment_intent.succeeded" if type_ == "charge.refunded" else type_, waiting, metadata={}
    )
    obj = sent["data"]["object"]
    if type_ == "charge.refunded":
        obj.update(object="charge", payment_intent=None, amount_refunded=obj["amount"], status="succeeded")
    ids = {"no id": None, "null id": None, "empty id": "", "a number for an id": 12}
    if missing == "no id":
        del obj["id"]
    else:
        obj["id"] = ids[missing]
    sent["type"] = type_
    before = database_state()

    outcome = stripe.deliver(sent)

    assert outcome == "unmatched"
    db.session.expire_all()
    assert waiting.status == PaymentStatus.PENDING and waiting.stripe_payment_intent_id is None
    after = database_state()
    assert {k: v for k, v in after.items() if k not in ("stripe_event", "payment_event")} == {
        k: v for k, v in before.items() if k not in ("stripe_event", "payment_event")
    }
