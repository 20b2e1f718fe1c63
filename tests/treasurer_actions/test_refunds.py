"""A treasurer refunds card payments through Stripe (a real localstripe): limits, once only, webhooks."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.ledger import totals
from app.models import Campaign, PaymentMethod, PledgeStatus, Refund, RefundStatus, StripeEvent, User
from app.money import Money
from app.payments import gateway, refunds, settle, webhooks
from tests.factories import make_pledge
from tests.helpers import PageClient, csrf_token
from tests.stripe_server import LocalStripe, unreachable
from tests.treasurer_actions.conftest import (
    audit_entries,
    card_payment,
    emails,
    form_fields,
    fresh,
    open_form,
    pledge_of,
)

pytestmark = pytest.mark.stripe


def _stripe_refunds(localstripe: LocalStripe, intent_id: str) -> list[int]:
    client = localstripe.client()
    return [r.amount for r in client.v1.refunds.list(params={"payment_intent": intent_id}).auto_paging_iter()]


def _url(payment_id: int) -> str:
    return f"/treasurer/actions/payments/{payment_id}/refund"


def test_partial_refund_then_the_rest_ends_the_pledge_and_keeps_totals_true(
    page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    payment = card_payment(campaign, localstripe, pounds="40")
    html = page.get(_url(payment.id)).get_data(as_text=True)
    assert "You can refund up to £40.00" in html and 'value="40.00"' in html

    fields = open_form(page, _url(payment.id))
    page.post(_url(payment.id), {**fields, "amount": "15", "reason": "Asked for part back"})

    payment = fresh(payment)
    assert payment.refunded_pence == 1500
    assert _stripe_refunds(localstripe, payment.stripe_payment_intent_id) == [1500]
    assert fresh(campaign).collected_pence == 2500 and campaign.pledged_pence == 4000
    [sent] = emails("refund")
    assert "£15.00" in sent.body and sent.to_address == "pat@example.org" and sent.status.value == "sent"
    [entry] = audit_entries("payment.refunded")
    assert entry.actor_id == treasurer.id and "Asked for part back" in entry.summary

    # The rest, and the pledge stops counting toward the target.
    fields = open_form(page, _url(payment.id))
    page.post(_url(payment.id), {**fields, "amount": "25.00", "reason": "Leaving the scheme", "end_pledge": "y"})

    payment = fresh(payment)
    assert payment.refunded_pence == 4000
    assert sorted(_stripe_refunds(localstripe, payment.stripe_payment_intent_id)) == [1500, 2500]
    assert pledge_of(payment).status == PledgeStatus.REFUNDED
    assert (fresh(campaign).collected_pence, campaign.pledged_pence, campaign.pledge_count) == (0, 0, 0)
    assert totals.verify() == []
    # Nothing is left, so the page says so and offers no form.
    assert "Nothing is left to refund" in page.get(_url(payment.id)).get_data(as_text=True)


def test_more_than_is_left_is_refused_and_nothing_reaches_stripe(
    page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    payment = card_payment(campaign, localstripe, pounds="40")
    fields = open_form(page, _url(payment.id))
    page.post(_url(payment.id), {**fields, "amount": "10", "reason": "Part"})

    for amount in ("30.01", "1,000"):
        fields = open_form(page, _url(payment.id))
        response = page.post(_url(payment.id), {**fields, "amount": amount, "reason": "Too much"}, status=400)
        text = response.get_data(as_text=True)
        assert "You can refund at most £30.00 of this payment" in text
        assert "£10.00 of £40.00 is already refunded" in text

    # Zero, negative and nonsense never get as far as the refund either.
    for amount, message in (("0", "greater than zero"), ("-5", "greater than zero"), ("ten", "Enter the amount")):
        fields = open_form(page, _url(payment.id))
        response = page.post(_url(payment.id), {**fields, "amount": amount, "reason": "x"}, status=400)
        assert message in response.get_data(as_text=True)

    assert _stripe_refunds(localstripe, fresh(payment).stripe_payment_intent_id) == [1000]
    assert payment.refunded_pence == 1000
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 1
    # Marking the pledge refunded needs every payment refunded in full.
    fields = open_form(page, _url(payment.id))
    response = page.post(_url(payment.id), {**fields, "amount": "5", "reason": "x", "end_pledge": "y"}, status=400)
    assert "Only a pledge whose every payment is refunded in full" in response.get_data(as_text=True)
    assert totals.verify() == []


def test_submitting_the_same_form_twice_refunds_once(
    page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    payment = card_payment(campaign, localstripe, pounds="40")
    fields = open_form(page, _url(payment.id))
    form = {**fields, "amount": "40", "reason": "Duplicate pledge"}

    page.post(_url(payment.id), form)
    page.post(_url(payment.id), form)  # the second press: same token, finds the first refund

    payment = fresh(payment)
    assert payment.refunded_pence == 4000
    assert _stripe_refunds(localstripe, payment.stripe_payment_intent_id) == [4000]
    assert len(emails("refund")) == 1 and len(audit_entries("payment.refunded")) == 1
    assert totals.verify() == []


def test_the_same_form_sent_twice_at_once_refunds_once(
    app: Flask, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    payment = card_payment(campaign, localstripe, pounds="30")
    payment_id, actor_id = payment.id, treasurer.id
    db.session.commit()
    errors: list[BaseException] = []

    def press() -> None:
        try:
            with app.app_context():
                row = db.session.get_one(type(payment), payment_id)
                refunds.refund_payment(
                    row, Money(3000), reason="Twice", actor=db.session.get(User, actor_id), token="t" * 32
                )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    payment = fresh(payment)
    assert payment.refunded_pence == 3000
    assert _stripe_refunds(localstripe, payment.stripe_payment_intent_id) == [3000]
    assert len(emails("refund")) == 1
    assert totals.verify() == []


def _charge_refunded_event(payment, amount_refunded: int) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": f"evt_refund_{payment.id}_{amount_refunded}",
        "object": "event",
        "type": "charge.refunded",
        "livemode": False,
        "data": {
            "object": {
                "id": payment.stripe_charge_id,
                "object": "charge",
                "payment_intent": payment.stripe_payment_intent_id,
                "amount": payment.amount_pence,
                "amount_refunded": amount_refunded,
                "currency": payment.currency.lower(),
                "status": "succeeded",
            }
        },
    }


def test_the_charge_refunded_webhook_that_follows_does_not_refund_again(
    page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    payment = card_payment(campaign, localstripe, pounds="40")
    fields = open_form(page, _url(payment.id))
    page.post(_url(payment.id), {**fields, "amount": "12.50", "reason": "Part"})
    payment = fresh(payment)

    # Stripe then tells us, with the running total; and again, out of order, with an older total.
    assert webhooks.handle_event(_charge_refunded_event(payment, 1250)) == "ignored"
    assert webhooks.handle_event(_charge_refunded_event(payment, 0)) == "ignored"

    assert fresh(payment).refunded_pence == 1250
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 2
    assert fresh(campaign).collected_pence == 2750
    assert totals.verify() == []


def test_a_refund_made_in_stripes_dashboard_is_counted_before_ours(
    page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    payment = card_payment(campaign, localstripe, pounds="40")
    # Someone refunds £10 in Stripe's dashboard and the webhook records it.
    localstripe.client().v1.refunds.create(params={"payment_intent": payment.stripe_payment_intent_id, "amount": 1000})
    assert webhooks.handle_event(_charge_refunded_event(payment, 1000)) == "processed"

    fields = open_form(page, _url(payment.id))
    html = page.post(_url(payment.id), {**fields, "amount": "30.01", "reason": "All"}, status=400).get_data(
        as_text=True
    )
    assert "You can refund at most £30.00" in html
    page.post(_url(payment.id), {**fields, "amount": "30", "reason": "All"})

    payment = fresh(payment)
    assert payment.refunded_pence == 4000
    assert sorted(_stripe_refunds(localstripe, payment.stripe_payment_intent_id)) == [1000, 3000]
    assert totals.verify() == []


def test_stripe_unreachable_keeps_the_refund_to_finish_later_with_the_same_form(
    app: Flask, page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    payment = card_payment(campaign, localstripe, pounds="40")
    fields = open_form(page, _url(payment.id))
    form = {**fields, "amount": "20", "reason": "Outage test"}

    with unreachable(app):
        response = page.post(_url(payment.id), form, status=503)
    text = response.get_data(as_text=True)
    assert "could not reach our card payment provider" in text.lower() and "will not be made twice" in text
    [pending] = db.session.scalars(select(Refund)).all()
    assert pending.status == RefundStatus.PENDING and fresh(payment).refunded_pence == 0
    # While it is unfinished its amount is held back from further refunds.
    assert refunds.refundable(payment).left == Money(2000)

    page.post(_url(payment.id), form)  # Stripe is back: the same form finishes it

    payment = fresh(payment)
    assert payment.refunded_pence == 2000
    assert fresh(pending).status == RefundStatus.SUCCEEDED
    assert _stripe_refunds(localstripe, payment.stripe_payment_intent_id) == [2000]
    assert totals.verify() == []


def test_payments_that_cannot_be_refunded_through_stripe_say_why(
    page: PageClient, treasurer: User, campaign: Campaign
) -> None:
    pledge = make_pledge(campaign, pounds="25")
    bank = settle.record_bank_transfer(
        pledge, pledge.instalments[0], Money(2500), received_on=campaign.opens_at.date(), reference="BACS 1"
    )
    pending = make_pledge(campaign, status=PledgeStatus.PENDING)
    open_payment = settle.open_card_payment(pending.instalments[0])
    db.session.commit()
    assert bank.method == PaymentMethod.BANK_TRANSFER

    text = page.get(_url(bank.id)).get_data(as_text=True)
    assert "arrived by bank transfer, so it cannot be refunded through Stripe" in text
    assert 'name="amount"' not in text
    assert "only money received can be refunded" in page.get(_url(open_payment.id)).get_data(as_text=True)
    # A forged POST (the page offers no form) is refused the same way.
    forged = {"csrf_token": csrf_token(page.client, "/account/"), "token": "f" * 32, "amount": "1", "reason": "x"}
    page.post(_url(open_payment.id), forged, status=400)
    page.post(_url(bank.id), forged, status=400)
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
    page.get(_url(999999), status=404)


def test_gateway_refund_reports_stripes_running_total(localstripe: LocalStripe, campaign: Campaign) -> None:
    payment = card_payment(campaign, localstripe, pounds="10")
    first = gateway.refund(
        payment_intent_id=payment.stripe_payment_intent_id, amount_pence=300, payment_id=payment.id, refund_number=1
    )
    second = gateway.refund(
        payment_intent_id=payment.stripe_payment_intent_id, amount_pence=200, payment_id=payment.id, refund_number=2
    )
    assert (first.amount_pence, first.charge_refunded_pence) == (300, 300)
    assert (second.amount_pence, second.charge_refunded_pence) == (200, 500)


def test_a_refund_stripe_made_while_we_were_not_listening_is_finished_not_repeated(
    page: PageClient, treasurer: User, campaign: Campaign, localstripe: LocalStripe
) -> None:
    payment = card_payment(campaign, localstripe, pounds="40")
    # Our row is written and Stripe refunds it, but its answer never reaches us (a crash, a timeout).
    refund, _ = refunds._write_request(
        payment.id,
        Money(2500),
        reason="Lost answer",
        actor=treasurer,
        token="lost-answer-" + "0" * 20,
        end_pledge=False,
    )
    localstripe.client().v1.refunds.create(
        params={
            "payment_intent": payment.stripe_payment_intent_id,
            "amount": 2500,
            "metadata": {"payment_id": str(payment.id), "refund_id": str(refund.id)},
        }
    )
    text = page.get(_url(payment.id)).get_data(as_text=True)
    assert "Finish the refund of £25.00" in text and "You can refund up to £15.00" in text

    finish = form_fields(text) | {"token": refund.submission_token, "amount": "25.00", "reason": "Lost answer"}
    page.post(_url(payment.id), finish)

    assert fresh(refund).status == RefundStatus.SUCCEEDED and refund.stripe_refund_id
    assert fresh(payment).refunded_pence == 2500
    assert _stripe_refunds(localstripe, payment.stripe_payment_intent_id) == [2500]  # not refunded twice
    assert totals.verify() == []
