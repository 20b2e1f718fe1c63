"""The campaign roll-ups (sums by kind of pledge and by UK day) move with every change to a pledge,
are checked against the ledger by `totals verify`, and spare the overview from scanning pledges."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text, update

from app.extensions import db
from app.ledger import rollups, totals
from app.models import CampaignDay, Frequency, Payment, PaymentMethod, PledgerKind, PledgeStatus
from app.money import Money
from app.payments import settle
from app.pledging import pledges
from app.reporting import reports
from app.treasury import dashboard
from tests.factories import (
    CampaignFactory,
    OrganisationFactory,
    SponsorFactory,
    insert_pledges,
    make_offer,
    make_pledge,
)
from tests.helpers import database_work

MONTHLY_CARD = (PledgerKind.INDIVIDUAL, Frequency.MONTHLY, PaymentMethod.CARD)


def _group(campaign_id: int, status: PledgeStatus) -> dict[str, int]:
    return rollups.groups(campaign_id).get((*MONTHLY_CARD, status, False), {})


def test_a_pledge_moves_its_rows_through_its_life() -> None:
    campaign = CampaignFactory()
    today = dashboard.london_today()

    pledge = make_pledge(campaign, pounds="25", frequency=Frequency.MONTHLY, instalments=2, status=PledgeStatus.PENDING)
    assert _group(campaign.id, PledgeStatus.PENDING)["pledge_count"] == 1
    assert _group(campaign.id, PledgeStatus.PENDING)["commitment_pence"] == 50_00
    assert rollups.days(campaign.id) == {}  # a pending pledge counts in no total yet

    pledges.change_status(pledge, PledgeStatus.COMMITTED, reason="test")
    assert _group(campaign.id, PledgeStatus.PENDING) == {}
    assert _group(campaign.id, PledgeStatus.COMMITTED)["pledge_count"] == 1
    assert rollups.days(campaign.id) == {today: {"pledged_pence": 50_00, "collected_pence": 0}}

    payment = settle.open_card_payment(pledge.instalments[0])
    settle.mark_succeeded(payment, fee_pence=45)
    db.session.commit()
    group = rollups.groups(campaign.id)[(*MONTHLY_CARD, pledge.status, False)]
    assert (group["payment_count"], group["net_pence"], group["fee_pence"]) == (1, 25_00, 45)
    assert rollups.days(campaign.id)[today]["collected_pence"] == 25_00

    settle.record_refund(payment, Money(5_00))
    pledges.change_status(pledge, PledgeStatus.CANCELLED, reason="test")
    db.session.commit()
    group = _group(campaign.id, PledgeStatus.CANCELLED)
    assert (group["net_pence"], group["refunded_pence"]) == (20_00, 5_00)
    # A cancelled pledge counts what it paid, on the day it was made.
    assert rollups.days(campaign.id) == {today: {"pledged_pence": 20_00, "collected_pence": 20_00}}
    assert rollups.differences(campaign.id) == []
    assert totals.verify() == []


def test_the_overview_reads_the_same_figures_as_the_ledger() -> None:
    campaign = CampaignFactory()
    make_pledge(campaign, pounds="10")
    pledges.change_status(
        make_pledge(campaign, pounds="40", status=PledgeStatus.PENDING), PledgeStatus.FAILED, reason="t"
    )
    make_pledge(campaign, pounds="7", status=PledgeStatus.PENDING)
    make_pledge(campaign, pounds="30", kind=PledgerKind.COUNCIL, paid_instalments=1)
    view = dashboard.overview(campaign)
    assert view.differences == []
    assert (view.pledged_pence, view.collected_pence, view.pledge_count) == (40_00, 30_00, 2)
    assert {row.status: row.count for row in view.by_status if row.count} == {
        PledgeStatus.COMMITTED: 1,
        PledgeStatus.FAILED: 1,
        PledgeStatus.PENDING: 1,
        PledgeStatus.FULFILLED: 1,
    }
    assert [row.pledged_pence for row in view.by_kind][:2] == [30_00, 10_00]


def test_verify_reports_a_roll_up_out_of_step_and_rebuild_mends_it(app: Flask) -> None:
    campaign = CampaignFactory()
    make_pledge(campaign, pounds="12", paid_instalments=1)
    db.session.execute(update(CampaignDay).values(collected_pence=CampaignDay.collected_pence + 1))
    db.session.commit()

    found = totals.verify()
    assert [(d.field.split()[0], d.field.split()[-1], d.stored, d.ledger) for d in found] == [
        ("campaign_day", "collected_pence", 12_01, 12_00)
    ]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["totals", "verify"])
    assert result.exit_code == 1 and "campaign_day" in result.output

    result = runner.invoke(args=["totals", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt the roll-ups of 1 campaign(s)." in result.output
    assert totals.verify() == []
    assert runner.invoke(args=["totals", "verify"]).exit_code == 0


def test_a_refund_through_the_treasurer_flow_moves_the_day_it_was_collected() -> None:
    """Refunds take money off the day the payment arrived, so the running total never shows
    money the campaign no longer holds."""
    campaign = CampaignFactory()
    pledge = make_pledge(campaign, pounds="50", paid_instalments=1)
    payment = db.session.scalars(db.select(Payment).where(Payment.pledge_id == pledge.id)).one()
    day = rollups.uk_day(payment.succeeded_at or payment.created_at)
    assert rollups.days(campaign.id)[day]["collected_pence"] == 50_00
    settle.record_refund(payment, Money(50_00))
    db.session.commit()
    assert rollups.days(campaign.id)[day] == {"pledged_pence": 50_00, "collected_pence": 0}


def test_the_overview_charts_and_report_do_the_same_work_for_ten_times_the_pledges() -> None:
    campaign = CampaignFactory()
    council = OrganisationFactory()
    make_pledge(campaign, pounds="30", kind=PledgerKind.COUNCIL, organisation=council, paid_instalments=1)
    make_pledge(campaign, pounds="10", paid_instalments=1)
    sponsor = SponsorFactory()
    make_offer(campaign, sponsor, ratio="1", cap="1000")
    period = reports.default_period(campaign)

    def grow(count: int) -> None:
        insert_pledges(campaign, ({"name": f"Bulk {n}"} for n in range(count)))
        rollups.rebuild([campaign.id])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # Fresh planner statistics, as autovacuum would gather after a bulk load.
            db.session.execute(text("ANALYZE pledge"))
            db.session.commit()

    def overview_and_charts() -> None:
        dashboard.overview(campaign)
        dashboard.chart_data(campaign)

    def from_the_ledger() -> None:
        rollups.from_ledger(campaign.id)

    def report_figures() -> None:
        reports.report_context(campaign, period, sponsor)

    grow(400)
    small = database_work(overview_and_charts), database_work(from_the_ledger), database_work(report_figures)
    grow(3_600)
    large = database_work(overview_and_charts), database_work(from_the_ledger), database_work(report_figures)
    assert dashboard.overview(campaign).pledge_count == 4_002

    # The measure can see growth: recomputing from the ledger reads every one of the 4,002 pledges
    # (on PostgreSQL a plan may read them more than once, so only a lower bound is fair).
    assert large[1] >= 4_002 and large[1] > 2 * small[1], (small, large)
    # The overview and its charts read the roll-ups: the same work at 402 and 4,002 pledges.
    assert large[0] <= small[0] * 1.05, (small, large)
    # So does everything the impact report shows (a sponsor's copy, with its match figures).
    assert large[2] <= small[2] * 1.05, (small, large)


def test_campaign_totals_go_past_what_a_32_bit_column_holds() -> None:
    """A million pledges of £25 are £25,000,000: 2,500,000,000 pence, past 2³¹ − 1."""
    from app.models import Campaign

    campaign = CampaignFactory()
    near = 2**31 - 1_00
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(pledged_pence=near, pledged_individual_pence=near, collected_pence=near)
    )
    db.session.commit()
    make_pledge(campaign, pounds="25", paid_instalments=1)
    db.session.expire(campaign)
    assert (campaign.pledged_pence, campaign.pledged_individual_pence, campaign.collected_pence) == (
        near + 25_00,
        near + 25_00,
        near + 25_00,
    )
