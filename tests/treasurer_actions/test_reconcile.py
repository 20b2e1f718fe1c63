"""Reconciliation against a real localstripe: every difference reported, none "fixed" by the run itself."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.ledger import totals
from app.models import (
    Campaign,
    DifferenceKind,
    Payment,
    PaymentStatus,
    PledgeStatus,
    ReconciliationDifference,
    RefundStatus,
    Resolution,
    User,
)
from app.money import Money
from app.payments import card_payments, reconcile, refunds, settle
from tests.factories import make_pledge
from tests.helpers import PageClient
from tests.stripe_server import LocalStripe, save_card, unreachable
from tests.treasurer_actions.conftest import audit_entries, card_payment, emails, fresh, open_form

pytestmark = pytest.mark.stripe

MONEY_COLUMNS = [c.name for c in Payment.__table__.columns]


def _ledger() -> list[tuple[Any, ...]]:
    """Every payment row, every column: what a run must leave exactly as it found it."""
    db.session.expire_all()
    return [
        tuple(getattr(p, c) for c in MONEY_COLUMNS) for p in db.session.scalars(select(Payment).order_by(Payment.id))
    ]


def _campaign_totals(campaign: Campaign) -> tuple[int, int, int]:
    campaign = fresh(campaign)
    return campaign.pledged_pence, campaign.collected_pence, campaign.pledge_count


def _saved_card_with_open_payment(campaign: Campaign, localstripe: LocalStripe, pounds: str) -> Payment:
    """A conditional pledge with a saved card and its payment row written, as just before the charge."""
    pledge = make_pledge(campaign, status=PledgeStatus.PENDING, pounds=pounds, conditional=True)
    setup = card_payments.start_card_setup(pledge)
    save_card(localstripe.client(), setup.setup_intent_id)
    card_payments.record_saved_card(pledge, setup.setup_intent_id)
    payment = settle.open_card_payment(fresh(pledge).instalments[0])
    db.session.commit()
    return payment


def _charge_at_stripe_only(localstripe: LocalStripe, payment: Payment, amount: int) -> str:
    """What our card flow sends Stripe for `payment`, made directly: our row never hears of it."""
    pledge = payment.pledge
    intent = localstripe.client().v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "gbp",
            "customer": pledge.stripe_customer_id,
            "payment_method": pledge.stripe_payment_method_id,
            "off_session": True,
            "confirm": True,
            "metadata": {"payment_id": str(payment.id), "pledge_id": str(pledge.id)},
        }
    )
    assert intent.status == "succeeded"
    return str(intent.id)


def _charge_unknown_to_us(localstripe: LocalStripe, amount: int = 777) -> str:
    client = localstripe.client()
    customer = client.v1.customers.create(params={"email": "someone@example.net"})
    intent = client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "gbp",
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    assert intent.status == "succeeded"
    return str(intent.id)


def _reconcile(runner: Any) -> Result:
    return runner.invoke(args=["stripe", "reconcile"])


def test_the_three_seeded_differences_are_reported_exactly_and_nothing_is_changed(
    runner: Any, campaign: Campaign, localstripe: LocalStripe
) -> None:
    # What agrees: a charged pledge, partly refunded through our own action's path.
    fine = card_payment(campaign, localstripe, pounds="40")
    localstripe.client().v1.refunds.create(params={"payment_intent": fine.stripe_payment_intent_id, "amount": 500})
    settle.record_refund(fine, Money(500))
    db.session.commit()
    # 1. Money at Stripe we know nothing of.
    unknown = _charge_unknown_to_us(localstripe)
    # 2. A lost webhook: Stripe charged our payment, our row is still pending.
    lost = _saved_card_with_open_payment(campaign, localstripe, "30")
    lost_intent = _charge_at_stripe_only(localstripe, lost, lost.amount_pence)
    # 3. An amount mismatch: Stripe charged £50 for our £20 payment.
    wrong = _saved_card_with_open_payment(campaign, localstripe, "20")
    wrong_intent = _charge_at_stripe_only(localstripe, wrong, 5000)
    ledger, campaign_totals = _ledger(), _campaign_totals(campaign)

    result = _reconcile(runner)

    assert result.exit_code == 1, result.output
    found = {(d.kind, d.payment_id, d.stripe_id) for d in db.session.scalars(select(ReconciliationDifference)).all()}
    assert found == {
        (DifferenceKind.UNKNOWN_TO_US, None, unknown),
        (DifferenceKind.STATUS_MISMATCH, lost.id, lost_intent),
        (DifferenceKind.AMOUNT_MISMATCH, wrong.id, wrong_intent),
    }
    assert unknown in result.output and lost_intent in result.output and wrong_intent in result.output
    assert "3 difference(s), 3 not yet explained" in result.output
    # Nothing about money moved: every payment row, column for column, and the campaign's totals.
    assert _ledger() == ledger
    assert _campaign_totals(campaign) == campaign_totals
    assert fresh(lost).status == PaymentStatus.PENDING and lost.stripe_payment_intent_id is None
    assert totals.verify() == []


def test_resolving_a_lost_webhook_applies_stripes_state_through_the_ledger(
    runner: Any, page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    lost = _saved_card_with_open_payment(campaign, localstripe, "30")
    intent_id = _charge_at_stripe_only(localstripe, lost, lost.amount_pence)
    wrong = _saved_card_with_open_payment(campaign, localstripe, "20")
    _charge_at_stripe_only(localstripe, wrong, 2100)
    unknown = _charge_unknown_to_us(localstripe)
    assert _reconcile(runner).exit_code == 1
    by_kind = {d.kind: d for d in db.session.scalars(select(ReconciliationDifference))}
    lost_difference = by_kind[DifferenceKind.STATUS_MISMATCH]
    assert lost_difference.can_apply and not by_kind[DifferenceKind.AMOUNT_MISMATCH].can_apply

    page_text = page.get("/treasurer/reconcile").get_data(as_text=True)
    assert "3 to resolve" in page_text and "the webhook that would have told us was lost" in page_text
    url = f"/treasurer/reconcile/differences/{lost_difference.id}/apply"
    fields = open_form(page, url)
    page.post(url, {**fields, "note": "Webhook lost during the outage"})
    page.post(url, {**fields, "note": "Again"}, status=400)  # the second press changes nothing

    lost = fresh(lost)
    assert lost.status == PaymentStatus.SUCCEEDED and lost.stripe_payment_intent_id == intent_id
    assert lost.pledge.status == PledgeStatus.FULFILLED
    assert _campaign_totals(campaign)[1] == 3000
    assert totals.verify() == []
    [entry] = audit_entries("reconciliation.applied")
    assert (
        entry.actor_id == treasurer.id and entry.target_id == lost.id and entry.detail["before"]["status"] == "pending"
    )
    assert [e.to_address for e in emails("receipt")] == [lost.pledge.email]  # the receipt they never had
    assert fresh(lost_difference).resolution == Resolution.APPLIED

    # The amount mismatch cannot be "applied": it is never credited.
    wrong_id = by_kind[DifferenceKind.AMOUNT_MISMATCH].id
    wrong_url = f"/treasurer/reconcile/differences/{wrong_id}/apply"
    assert "cannot be applied" in page.get(wrong_url).get_data(as_text=True)
    page.post(wrong_url, open_form(page, f"/treasurer/reconcile/differences/{wrong_id}/explain"), status=400)
    assert fresh(wrong).status == PaymentStatus.PENDING

    # The unknown charge is explained; a later run carries the explanation and still reports the mismatch.
    unknown_difference = by_kind[DifferenceKind.UNKNOWN_TO_US]
    explain_url = f"/treasurer/reconcile/differences/{unknown_difference.id}/explain"
    fields = open_form(page, explain_url)
    page.post(explain_url, {**fields, "note": ""}, status=400)
    page.post(explain_url, {**fields, "note": "A test charge made in the Stripe dashboard"})
    page.post(explain_url, {**fields, "note": "Again"}, status=400)
    assert len(audit_entries("reconciliation.explained")) == 1

    result = _reconcile(runner)
    assert result.exit_code == 1
    assert "2 difference(s), 1 not yet explained" in result.output
    assert "explained earlier: A test charge made in the Stripe dashboard" in result.output
    latest = reconcile.latest_run()
    assert latest is not None
    assert {(d.kind, d.resolution) for d in latest.differences} == {
        (DifferenceKind.UNKNOWN_TO_US, Resolution.EXPLAINED),
        (DifferenceKind.AMOUNT_MISMATCH, None),
    }
    assert unknown in result.output
    # An older run's differences can no longer be resolved.
    old = page.get(f"/treasurer/reconcile/differences/{wrong_id}/explain").get_data(as_text=True)
    assert "A newer reconciliation has replaced this result" in old


def test_refunds_made_only_in_stripe_are_reported_and_can_be_recorded(
    runner: Any, page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    payment = card_payment(campaign, localstripe, pounds="40")
    client = localstripe.client()
    # £5 refunded in Stripe's dashboard, and £10 of ours whose answer never reached us.
    client.v1.refunds.create(params={"payment_intent": payment.stripe_payment_intent_id, "amount": 500})
    ours, _ = refunds._write_request(
        payment.id, Money(1000), reason="x", actor=treasurer, token="r" * 24, end_pledge=False
    )
    client.v1.refunds.create(
        params={
            "payment_intent": payment.stripe_payment_intent_id,
            "amount": 1000,
            "metadata": {"refund_id": str(ours.id)},
        }
    )
    ledger = _ledger()

    assert _reconcile(runner).exit_code == 1
    [difference] = db.session.scalars(select(ReconciliationDifference)).all()
    assert difference.kind == DifferenceKind.REFUND_MISMATCH and difference.can_apply
    assert _ledger() == ledger

    url = f"/treasurer/reconcile/differences/{difference.id}/apply"
    page.post(url, open_form(page, url))
    assert fresh(payment).refunded_pence == 1500
    assert fresh(ours).status == RefundStatus.SUCCEEDED  # our unfinished refund is finished too
    assert _campaign_totals(campaign)[1] == 2500
    assert totals.verify() == []
    assert _reconcile(runner).exit_code == 0


def test_payments_stripe_does_not_know_are_reported_missing(
    runner: Any, campaign: Campaign, localstripe: LocalStripe
) -> None:
    # A succeeded card payment with no PaymentIntent at all, and one naming a PaymentIntent Stripe never made.
    no_id = make_pledge(campaign, pounds="15", paid_instalments=1)
    ghost = make_pledge(campaign, pounds="16", status=PledgeStatus.PENDING)
    ghost_payment = settle.open_card_payment(ghost.instalments[0])
    ghost_payment.stripe_payment_intent_id = "pi_never_made_at_stripe"
    db.session.commit()
    ledger = _ledger()

    result = _reconcile(runner)

    assert result.exit_code == 1
    found = {(d.kind, d.payment_id) for d in db.session.scalars(select(ReconciliationDifference))}
    no_id_payment = db.session.scalars(select(Payment).where(Payment.pledge_id == no_id.id)).one()
    assert found == {
        (DifferenceKind.MISSING_AT_STRIPE, no_id_payment.id),
        (DifferenceKind.MISSING_AT_STRIPE, ghost_payment.id),
    }
    assert "pi_never_made_at_stripe" in result.output
    assert _ledger() == ledger


def test_a_clean_run_says_so_and_a_failed_one_exits_2(
    app: Flask, runner: Any, page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    card_payment(campaign, localstripe, pounds="40")

    result = _reconcile(runner)
    assert result.exit_code == 0 and "Stripe and our records agree" in result.output
    assert "No differences" in page.get("/treasurer/reconcile").get_data(as_text=True)

    with unreachable(app):
        failed = _reconcile(runner)
    assert failed.exit_code == 2 and "could not reach" in failed.output.lower()
    assert "Could not finish" in page.get("/treasurer/reconcile").get_data(as_text=True)


def test_a_treasurer_can_run_it_from_the_page_and_a_second_press_shows_the_first_result(
    page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    _charge_unknown_to_us(localstripe)
    fields = open_form(page, "/treasurer/reconcile")
    page.post("/treasurer/reconcile/run", fields)
    page.post("/treasurer/reconcile/run", fields)

    runs = db.session.scalars(select(reconcile.ReconciliationRun)).all()
    assert len(runs) == 1 and runs[0].started_by_id == treasurer.id
    text = page.get("/treasurer/reconcile").get_data(as_text=True)
    assert "found 1 difference(s)" in text and "ran moments ago" not in text and "Unknown to us" in text
    # A press a moment later, once the first result has been seen, says why nothing new ran.
    page.post("/treasurer/reconcile/run", open_form(page, "/treasurer/reconcile"))
    assert "ran moments ago" in page.get("/treasurer/reconcile").get_data(as_text=True)
