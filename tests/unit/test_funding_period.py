"""What a pledge counts toward its campaign is what falls in the funding period (DESIGN, "What the
totals mean"): a monthly pledge of £50 over a 12-month period counts £600, however many months
the pledger signs up for, and a council's three years count one year toward a one-year cost."""

from __future__ import annotations

from datetime import date

from app.extensions import db
from app.ledger import totals
from app.models import Campaign, Frequency
from app.payments import card_payments
from tests.factories import CampaignFactory, make_council_pledge, make_pledge


def _pledged(campaign: Campaign) -> int:
    db.session.expire(campaign)
    return campaign.pledged_pence


def test_a_monthly_pledge_longer_than_the_period_counts_the_period() -> None:
    campaign = CampaignFactory(funding_starts_on=date(2027, 4, 1), funding_ends_on=date(2028, 3, 31))
    pledge = make_pledge(campaign, pounds="50", frequency=Frequency.MONTHLY, instalments=24)
    assert len(pledge.instalments) == 24  # every month the pledger agreed to is still collected
    assert str(pledge.commitment) == "£600.00"
    assert str(pledge.promised) == "£1,200.00"
    assert _pledged(campaign) == 600_00
    assert card_payments.describe_schedule(pledge) == "£50.00 a month, 24 payments (£1,200.00 in all)"

    shorter = make_pledge(campaign, pounds="50", frequency=Frequency.MONTHLY, instalments=6)
    assert str(shorter.commitment) == str(shorter.promised) == "£300.00"
    until_cancelled = make_pledge(campaign, pounds="10", frequency=Frequency.MONTHLY)
    assert str(until_cancelled.commitment) == "£120.00" and len(until_cancelled.instalments) == 12
    assert _pledged(campaign) == 600_00 + 300_00 + 120_00
    assert totals.verify() == []


def test_a_councils_three_years_count_one_year_toward_a_one_year_cost() -> None:
    campaign = CampaignFactory(funding_starts_on=date(2027, 4, 1), funding_ends_on=date(2028, 3, 31))
    pledge = make_council_pledge(campaign, pounds="2500", years=3, conditional=False)
    assert str(pledge.commitment) == "£2,500.00" and str(pledge.promised) == "£7,500.00"
    assert _pledged(campaign) == 2_500_00

    two_year_campaign = CampaignFactory(funding_starts_on=date(2027, 4, 1), funding_ends_on=date(2029, 3, 31))
    both = make_council_pledge(two_year_campaign, pounds="2500", years=3, conditional=False)
    assert str(both.commitment) == "£5,000.00"
    assert _pledged(two_year_campaign) == 5_000_00
    assert totals.verify() == []
