"""Card pledges against a real localstripe process: save, charge, schedule, 3-D Secure, declines."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.ledger import totals
from app.models import (
    EmailMessage,
    Frequency,
    Instalment,
    InstalmentStatus,
    Payment,
    PaymentStatus,
    Pledge,
    PledgeStatus,
    StripeEvent,
    utcnow,
)
from app.payments import card_payments
from tests.factories import CampaignFactory, make_pledge
from tests.stripe_server import LocalStripe, save_card

pytestmark = pytest.mark.stripe


def _pledge(campaign, **kwargs) -> Pledge:
    return make_pledge(campaign, status=PledgeStatus.PENDING, **kwargs)


def _saved(pledge: Pledge, localstripe: LocalStripe, card: str = "pm_card_visa") -> Payment | None:
    setup = card_payments.start_card_setup(pledge)
    save_card(localstripe.client(), setup.setup_intent_id, card)
    return card_payments.record_saved_card(pledge, setup.setup_intent_id)


def _stripe_intents(localstripe: LocalStripe) -> list:
    return list(localstripe.client().v1.payment_intents.list().auto_paging_iter())


def _emails(kind: str) -> list[EmailMessage]:
    return list(db.session.scalars(select(EmailMessage).where(EmailMessage.kind == kind)))


def test_unconditional_pledge_saves_the_card_and_charges_at_once(localstripe: LocalStripe) -> None:
    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="40")

    payment = _saved(pledge, localstripe)

    assert payment is not None and payment.status == PaymentStatus.SUCCEEDED
    assert pledge.status == PledgeStatus.FULFILLED
    intent = localstripe.client().v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 4000, "gbp")
    assert intent.metadata["payment_id"] == str(payment.id)
    db.session.refresh(campaign)
    assert (campaign.pledged_pence, campaign.collected_pence, campaign.pledge_count) == (4000, 4000, 1)
    assert totals.verify() == []
    receipt = _emails("receipt")
    assert len(receipt) == 1 and "£40.00" in receipt[0].body and receipt[0].status.value == "sent"


def test_conditional_pledge_saves_the_card_and_charges_nothing(localstripe: LocalStripe) -> None:
    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="25", conditional=True)

    assert _saved(pledge, localstripe) is None

    assert pledge.status == PledgeStatus.COMMITTED
    assert pledge.stripe_payment_method_id
    assert _stripe_intents(localstripe) == []
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    db.session.refresh(campaign)
    assert (campaign.pledged_pence, campaign.collected_pence) == (2500, 0)
    # collect-due must not charge it while the campaign has not succeeded
    report = card_payments.collect_due(utcnow().date() + timedelta(days=400))
    assert report.charged == 0 and _stripe_intents(localstripe) == []
    assert len(_emails("pledge_confirmation")) == 1


def test_collect_due_charges_a_monthly_schedule_once_even_when_run_twice_at_once(
    app: Flask, localstripe: LocalStripe
) -> None:
    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="10", frequency=Frequency.MONTHLY, instalments=3)
    first = _saved(pledge, localstripe)
    assert first is not None and first.status == PaymentStatus.SUCCEEDED
    assert pledge.status == PledgeStatus.ACTIVE

    # Two cron runs start together a month later.
    later = pledge.instalments[1].due_on
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                card_payments.collect_due(later)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors

    db.session.rollback()  # end this thread's snapshot so it sees what the other runs committed
    paid = db.session.scalars(select(Payment).where(Payment.status == PaymentStatus.SUCCEEDED)).all()
    assert sorted(p.instalment.sequence for p in paid) == [1, 2]
    assert len(_stripe_intents(localstripe)) == 2  # Stripe itself saw exactly two charges
    assert pledge.instalments[2].status == InstalmentStatus.SCHEDULED

    # The last month, then nothing more to do.
    card_payments.collect_due(pledge.instalments[2].due_on)
    card_payments.collect_due(pledge.instalments[2].due_on + timedelta(days=60))
    db.session.rollback()  # end this thread's snapshot so it sees what the other runs committed
    assert pledge.status == PledgeStatus.FULFILLED
    assert len(_stripe_intents(localstripe)) == 3
    db.session.refresh(campaign)
    assert campaign.collected_pence == 3000 == campaign.pledged_pence
    assert totals.verify() == []


def test_three_d_secure_waits_for_the_pledger_and_counts_only_when_confirmed(localstripe: LocalStripe) -> None:
    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="60")

    payment = _saved(pledge, localstripe, card="4000002500003155")

    assert payment is not None and payment.status == PaymentStatus.REQUIRES_ACTION
    assert payment.instalment is not None and payment.instalment.status == InstalmentStatus.REQUIRES_ACTION
    assert pledge.status == PledgeStatus.PENDING
    db.session.refresh(campaign)
    assert (campaign.pledged_pence, campaign.collected_pence) == (0, 0)  # not counted yet
    confirm = _emails("confirm_payment")
    assert len(confirm) == 1 and "/confirm" in confirm[0].body

    secret = card_payments.client_secret_for(payment)
    assert secret is not None
    localstripe.authenticate(payment.stripe_payment_intent_id, secret)
    card_payments.refresh_payment(payment)

    assert payment.status == PaymentStatus.SUCCEEDED
    assert pledge.status == PledgeStatus.FULFILLED
    db.session.refresh(campaign)
    assert (campaign.pledged_pence, campaign.collected_pence) == (6000, 6000)
    assert totals.verify() == []


def test_declined_charge_says_why_and_leaves_the_pledge_unpaid(localstripe: LocalStripe) -> None:
    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="15")

    payment = _saved(pledge, localstripe, card="4000000000000341")

    assert payment is not None and payment.status == PaymentStatus.FAILED
    assert payment.failure_message == "Your card was declined. Try another card, or contact your bank."
    assert pledge.status == PledgeStatus.PENDING
    assert pledge.instalments[0].status == InstalmentStatus.FAILED
    db.session.refresh(campaign)
    assert (campaign.pledged_pence, campaign.collected_pence, campaign.pledge_count) == (0, 0, 0)

    # Another card then works, and the first failure is not charged again.
    second = _saved(pledge, localstripe)
    assert second is not None and second.status == PaymentStatus.SUCCEEDED and second.id != payment.id
    assert pledge.status == PledgeStatus.FULFILLED
    assert totals.verify() == []


def test_webhook_sent_by_localstripe_is_verified_with_the_real_secret(
    localstripe: LocalStripe, live_server, request: pytest.FixtureRequest
) -> None:
    from tests.stripe_server import TEST_WEBHOOK_SECRET

    # localstripe sends each event about a second after it happens, to whatever is registered
    # then, and test databases number payments from 1 again: let the previous test's events go
    # (to no one) first, or one naming "payment 1" could land on this test's payment 1.
    time.sleep(1.5)
    localstripe.register_webhook(live_server("/webhooks/stripe"), TEST_WEBHOOK_SECRET)
    request.addfinalizer(localstripe.unregister_webhook)  # later tests' events must not reach this server
    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="20")
    payment = _saved(pledge, localstripe)
    assert payment is not None

    # localstripe delivers about a second later, signed with the secret we registered.
    deadline = utcnow() + timedelta(seconds=15)
    event = None
    while event is None and utcnow() < deadline:
        db.session.rollback()
        event = db.session.scalar(
            select(StripeEvent).where(
                StripeEvent.type == "payment_intent.succeeded",
                StripeEvent.object_id == payment.stripe_payment_intent_id,
            )
        )
        if event is None:
            threading.Event().wait(0.2)
    assert event is not None, "localstripe's webhook never arrived"
    # Whichever of the direct flow and the webhook comes second finds the payment credited and does
    # nothing (on a busy machine the webhook can win the race): the money counts once either way.
    assert event.outcome in ("ignored", "processed")
    db.session.refresh(campaign)
    assert campaign.collected_pence == 2000
    assert totals.verify() == []


def test_mail_goes_to_the_outbox_folder_without_a_mail_server(app: Flask, localstripe: LocalStripe) -> None:
    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="12", conditional=True)
    _saved(pledge, localstripe)
    message = _emails("pledge_confirmation")[0]
    path = Path(app.config["MAIL_OUTBOX_DIR"]) / f"{message.id:06d}-pledge_confirmation.eml"
    assert path.is_file(), "no confirmation in the outbox"
    text = path.read_text()
    assert pledge.reference in text and "only charge it if the campaign succeeds" in text


def test_instalments_are_never_charged_twice_by_the_database(localstripe: LocalStripe) -> None:
    """Even bypassing the service, a second open payment for one instalment is refused."""
    from sqlalchemy.exc import IntegrityError

    from app.payments import settle

    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="5")
    instalment = db.session.get(Instalment, pledge.instalments[0].id)
    settle.open_card_payment(instalment)
    db.session.commit()
    with pytest.raises(IntegrityError):
        settle.open_card_payment(instalment)
    db.session.rollback()


def test_a_scheduled_charge_needing_authentication_emails_the_pledger_a_link(localstripe: LocalStripe, runner) -> None:
    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="9", frequency=Frequency.MONTHLY, instalments=2)
    # The card needed no check when first saved and charged...
    first = _saved(pledge, localstripe)
    assert first is not None and first.status == PaymentStatus.SUCCEEDED
    # ...then the pledger changes to a card whose bank asks every time.
    setup = card_payments.start_card_setup(pledge)
    save_card(localstripe.client(), setup.setup_intent_id, "4000002500003155")
    assert card_payments.record_saved_card(pledge, setup.setup_intent_id) is None  # nothing due today

    due = pledge.instalments[1].due_on.isoformat()
    result = runner.invoke(args=["payments", "collect-due", "--date", due])

    assert result.exit_code == 0, result.output
    assert "1 need the pledger to confirm" in result.output
    db.session.rollback()
    mail = _emails("confirm_payment")
    assert len(mail) == 1 and mail[0].to_address == pledge.email
    assert "/confirm" in mail[0].body and "£9.00" in mail[0].body
    # Running it again the same day sends nothing more and charges nothing more.
    runner.invoke(args=["payments", "collect-due", "--date", due])
    db.session.rollback()
    assert len(_emails("confirm_payment")) == 1
    assert len(_stripe_intents(localstripe)) == 2


def test_collect_due_reports_stripe_unreachable_with_a_non_zero_exit(
    app: Flask, localstripe: LocalStripe, runner
) -> None:
    from tests.stripe_server import unreachable

    campaign = CampaignFactory()
    pledge = _pledge(campaign, pounds="9", frequency=Frequency.MONTHLY, instalments=2)
    _saved(pledge, localstripe)
    due = pledge.instalments[1].due_on.isoformat()
    with unreachable(app):
        result = runner.invoke(args=["payments", "collect-due", "--date", due])
    assert result.exit_code == 2 and "1 left for later" in result.output
    result = runner.invoke(args=["payments", "collect-due", "--date", due])
    assert result.exit_code == 0 and "1 paid" in result.output
    assert len(_stripe_intents(localstripe)) == 2
