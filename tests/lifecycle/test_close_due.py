"""Closing campaigns at the deadline: success collects, failure releases, each exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.campaigns import lifecycle
from app.extensions import db
from app.ledger import totals
from app.models import (
    AuditEntry,
    Campaign,
    CampaignStatus,
    EmailMessage,
    FundingModel,
    InstalmentStatus,
    Payment,
    PaymentStatus,
    Pledge,
    PledgerKind,
    PledgeStatus,
    utcnow,
)
from app.payments import card_payments
from tests.factories import CampaignFactory, OrganisationFactory, make_pledge
from tests.stripe_server import LocalStripe, save_card


def _card_pledge(campaign: Campaign, localstripe: LocalStripe, pounds: str, *, conditional: bool = True) -> Pledge:
    pledge = make_pledge(
        campaign, pounds=pounds, conditional=conditional, status=PledgeStatus.PENDING, email=f"card{pounds}@example.org"
    )
    setup = card_payments.start_card_setup(pledge)
    save_card(localstripe.client(), setup.setup_intent_id)
    card_payments.record_saved_card(pledge, setup.setup_intent_id)
    return pledge


def _past_deadline(campaign: Campaign) -> None:
    campaign.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()


def _councils(campaign: Campaign, n: int, pounds: str = "1,000") -> list[Pledge]:
    return [
        make_pledge(
            campaign,
            pounds=pounds,
            kind=PledgerKind.COUNCIL,
            organisation=OrganisationFactory(),
            conditional=True,
            email=f"council{i}@example.gov.uk",
        )
        for i in range(n)
    ]


def _emails(kind: str) -> list[EmailMessage]:
    return list(db.session.scalars(select(EmailMessage).where(EmailMessage.kind == kind)))


@pytest.mark.stripe
def test_enough_money_but_too_few_councils_fails_and_releases_everything_conditional(
    localstripe: LocalStripe,
) -> None:
    campaign = CampaignFactory(target_pence=2_000_00, min_councils=3)
    _councils(campaign, 2, pounds="1,500")  # £3,000: money enough, councils not
    card = _card_pledge(campaign, localstripe, "50")
    unconditional = make_pledge(
        campaign, pounds="20", paid_instalments=1, status=PledgeStatus.FULFILLED, email="kept@example.org"
    )
    _past_deadline(campaign)

    report = lifecycle.close_due()

    db.session.refresh(campaign)
    assert campaign.status == CampaignStatus.FAILED
    assert report.closed == [(campaign.slug, "failed")] and report.released == 3
    assert (
        db.session.scalar(select(func.count()).select_from(Pledge).where(Pledge.status == PledgeStatus.RELEASED)) == 3
    )
    db.session.refresh(card)
    assert all(i.status == InstalmentStatus.RELEASED for i in card.instalments)
    db.session.refresh(unconditional)
    assert unconditional.status == PledgeStatus.FULFILLED  # given without condition: kept
    assert (campaign.pledged_pence, campaign.collected_pence) == (2000, 2000)
    # Released pledges are never charged, whatever runs later.
    card_payments.collect_due(utcnow().date() + timedelta(days=800))
    assert db.session.scalar(select(func.count()).select_from(Payment).where(Payment.pledge_id == card.id)) == 0
    assert list(localstripe.client().v1.payment_intents.list().auto_paging_iter()) == []
    # Everyone is told, once.
    told = _emails("campaign_failed")
    assert sorted(m.to_address for m in told) == sorted(
        ["council0@example.gov.uk", "council1@example.gov.uk", "card50@example.org", "kept@example.org"]
    )
    assert "nothing has been taken" in next(m for m in told if m.to_address == "card50@example.org").body
    assert totals.verify() == []
    lifecycle.close_due()
    assert len(_emails("campaign_failed")) == 4


@pytest.mark.stripe
def test_money_and_councils_reached_succeeds_and_charges_saved_cards_once(localstripe: LocalStripe, runner) -> None:
    campaign = CampaignFactory(target_pence=3_000_00, min_councils=2)
    _councils(campaign, 2)
    cards = [_card_pledge(campaign, localstripe, p) for p in ("400", "600")]
    _past_deadline(campaign)

    result = runner.invoke(args=["campaigns", "close-due"])

    assert result.exit_code == 0, result.output
    assert f"{campaign.slug}: succeeded" in result.output
    db.session.rollback()
    db.session.refresh(campaign)
    assert campaign.status == CampaignStatus.SUCCEEDED
    for pledge in cards:
        db.session.refresh(pledge)
        assert pledge.status == PledgeStatus.FULFILLED
    assert campaign.collected_pence == 1000_00
    assert len(list(localstripe.client().v1.payment_intents.list().auto_paging_iter())) == 2
    assert len(_emails("campaign_succeeded")) == 4 and len(_emails("receipt")) == 2
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "campaign.closed"))
    assert audit is not None and "succeeded" in audit.summary
    # A second run finds nothing more to do.
    again = runner.invoke(args=["campaigns", "close-due"])
    assert "No campaign was due to close" in again.output
    assert len(list(localstripe.client().v1.payment_intents.list().auto_paging_iter())) == 2
    assert len(_emails("campaign_succeeded")) == 4
    assert totals.verify() == []


def test_a_campaign_before_its_deadline_is_left_alone() -> None:
    campaign = CampaignFactory()
    _councils(campaign, 5)
    assert lifecycle.close_due().closed == []
    db.session.refresh(campaign)
    assert campaign.status == CampaignStatus.LIVE


@pytest.mark.stripe
def test_keep_what_you_raise_collects_at_once_and_keeps_it_when_short(localstripe: LocalStripe) -> None:
    campaign = CampaignFactory(funding_model=FundingModel.KEEP_WHAT_YOU_RAISE, target_pence=10_000_00, min_councils=0)
    pledge = _card_pledge(campaign, localstripe, "75", conditional=False)
    db.session.refresh(pledge)
    assert pledge.status == PledgeStatus.FULFILLED  # charged when made, not at the deadline
    _past_deadline(campaign)

    lifecycle.close_due()

    db.session.refresh(campaign)
    assert campaign.status == CampaignStatus.FAILED  # short of the target...
    assert campaign.collected_pence == 7500  # ...but what was given is kept
    assert db.session.scalar(select(Payment.status)) == PaymentStatus.SUCCEEDED


@pytest.mark.stripe
def test_close_due_twice_at_once_closes_once_and_charges_each_card_once(app: Flask, localstripe: LocalStripe) -> None:
    campaign = CampaignFactory(target_pence=500_00, min_councils=1)
    _councils(campaign, 1, pounds="300")
    for pounds in ("50", "60", "70", "80"):
        _card_pledge(campaign, localstripe, pounds)
    _past_deadline(campaign)
    reports: list[lifecycle.CloseReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                reports.append(lifecycle.close_due())
        except BaseException as error:  # noqa: BLE001 - reported below
            import traceback

            traceback.print_exc()
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors

    db.session.rollback()
    assert sum(len(r.closed) for r in reports) == 1
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "campaign.closed"))
        == 1
    )
    intents = list(localstripe.client().v1.payment_intents.list().auto_paging_iter())
    assert len(intents) == 4
    assert (
        db.session.scalar(select(func.count()).select_from(Payment).where(Payment.status == PaymentStatus.SUCCEEDED))
        == 4
    )
    assert len(_emails("campaign_succeeded")) == 5
    assert totals.verify() == []


def test_closing_early_keeps_councils_later_years_on_1_april_and_invoices_the_first_at_once() -> None:
    from app.models import Invoice, InvoiceKind, InvoiceStatus
    from tests.factories import make_council_pledge

    # Only the first year counts toward the one-year funding period's target.
    campaign = CampaignFactory(target_pence=2_500_00, min_councils=1)
    pledge = make_council_pledge(campaign, pounds="2,500", years=3)
    later = [i.due_on for i in pledge.instalments[1:]]
    assert all((d.month, d.day) == (4, 1) for d in later)
    _past_deadline(campaign)

    lifecycle.close_due()

    db.session.refresh(pledge)
    assert [i.due_on for i in pledge.instalments[1:]] == later
    issued = db.session.scalars(
        select(Invoice).where(Invoice.pledge_id == pledge.id, Invoice.kind == InvoiceKind.INVOICE)
    ).all()
    assert [(i.instalment.sequence, i.status) for i in issued] == [(1, InvoiceStatus.ISSUED)]
