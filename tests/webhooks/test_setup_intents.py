"""setup_intent.succeeded: the card is saved, so a conditional pledge is committed (once)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.ledger import totals
from app.models import Campaign, InstalmentStatus, Payment, Pledge, PledgeStatus, utcnow
from app.payments import card_payments
from tests.factories import CampaignFactory, make_pledge
from tests.webhooks.stripe_events import setup_intent_succeeded_event
from tests.webhooks.support import Stripe, database_state, emails, stored_events


def _pledge_saving_a_card(campaign: Campaign, *, conditional: bool) -> Pledge:
    """A card pledge whose SetupIntent we created, waiting for the pledger's card."""
    pledge = make_pledge(campaign, pounds="40", conditional=conditional, status=PledgeStatus.PENDING)
    pledge.stripe_customer_id = f"cus_test_{pledge.id:06d}"
    pledge.stripe_setup_intent_id = f"seti_test_{pledge.id:06d}"
    db.session.commit()
    return pledge


def _without_event_log(state: dict[str, Any]) -> dict[str, Any]:
    return {table: rows for table, rows in state.items() if table not in ("stripe_event", "payment_event")}


def test_saved_card_commits_a_conditional_pledge_once(stripe: Stripe) -> None:
    campaign = CampaignFactory()
    pledge = _pledge_saving_a_card(campaign, conditional=True)
    event = setup_intent_succeeded_event(pledge, payment_method="pm_card_saved")

    assert stripe.deliver(event) == "processed"

    assert pledge.status == PledgeStatus.COMMITTED
    assert pledge.stripe_payment_method_id == "pm_card_saved"
    assert emails("pledge_confirmation", pledge) == 1
    assert campaign.pledged_pence == 40_00
    assert campaign.pledge_count == 1
    assert campaign.collected_pence == 0  # charged only if the campaign succeeds
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert totals.verify() == []

    # Stripe's duplicate delivery, then the same news in another event: nothing more happens.
    after_first = _without_event_log(database_state())
    assert stripe.deliver(event) == "duplicate"
    assert stripe.deliver(setup_intent_succeeded_event(pledge, payment_method="pm_card_saved")) == "ignored"
    assert _without_event_log(database_state()) == after_first
    assert emails("pledge_confirmation", pledge) == 1
    assert [e.outcome for e in stored_events()] == ["processed", "ignored"]


def test_saved_card_on_an_unconditional_pledge_leaves_it_for_collection(stripe: Stripe) -> None:
    """The webhook records the card; the charge itself is made by the card flow or collect-due."""
    campaign = CampaignFactory()
    pledge = _pledge_saving_a_card(campaign, conditional=False)

    assert stripe.deliver(setup_intent_succeeded_event(pledge, payment_method="pm_card_saved")) == "processed"

    assert pledge.status == PledgeStatus.PENDING
    assert pledge.stripe_payment_method_id == "pm_card_saved"
    assert emails("pledge_confirmation", pledge) == 0
    assert campaign.pledged_pence == 0
    assert card_payments.due_instalments(utcnow().date() + timedelta(days=1)) == [pledge.instalments[0].id]


def test_replacement_card_after_a_failed_charge_is_recorded_and_retried(stripe: Stripe) -> None:
    """The pledger's charge failed, so they saved a new card; the browser never told us (tab closed)."""
    campaign = CampaignFactory()
    pledge = _pledge_saving_a_card(campaign, conditional=True)
    stripe.deliver(setup_intent_succeeded_event(pledge, payment_method="pm_old_card"))
    old_setup = setup_intent_succeeded_event(pledge, payment_method="pm_old_card")
    pledge.instalments[0].status = InstalmentStatus.FAILED  # the charge at campaign success failed
    pledge.stripe_setup_intent_id = "seti_test_replacement"  # what start_card_setup stores for the new card
    db.session.commit()

    outcome = stripe.deliver(setup_intent_succeeded_event(pledge, payment_method="pm_new_card"))

    assert outcome == "processed"
    assert pledge.stripe_payment_method_id == "pm_new_card"
    assert pledge.instalments[0].status == InstalmentStatus.SCHEDULED  # collect-due tries it again
    assert pledge.status == PledgeStatus.COMMITTED
    assert emails("pledge_confirmation", pledge) == 1  # from the first card only
    assert campaign.pledged_pence == 40_00
    assert totals.verify() == []

    # A late delivery about the old card must not put it back.
    assert stripe.deliver(old_setup) == "ignored"
    assert pledge.stripe_payment_method_id == "pm_new_card"


def test_setup_intent_we_do_not_know_is_unmatched(stripe: Stripe) -> None:
    campaign = CampaignFactory()
    pledge = _pledge_saving_a_card(campaign, conditional=True)
    event = setup_intent_succeeded_event(pledge, payment_method="pm_card_saved")
    event["data"]["object"].update(id="seti_not_ours", metadata={})
    before = _without_event_log(database_state())

    assert stripe.deliver(event) == "unmatched"
    assert _without_event_log(database_state()) == before
