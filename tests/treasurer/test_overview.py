"""The campaign overview: every figure equals what an independent sum over the ledger gives."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date

from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    LIVE_STATUSES,
    Campaign,
    Frequency,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    MatchOffer,
    MatchStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Pledge,
    PledgerKind,
    PledgeStatus,
)
from app.treasury import dashboard
from tests.helpers import PageClient
from tests.treasurer.conftest import Ledger


def _everything(campaign: Campaign) -> tuple[list[Pledge], list[Payment], list[Invoice], list[MatchOffer]]:
    pledges = list(db.session.scalars(select(Pledge).where(Pledge.campaign_id == campaign.id)))
    ids = {p.id for p in pledges}
    payments = [p for p in db.session.scalars(select(Payment)) if p.pledge_id in ids]
    invoices = [i for i in db.session.scalars(select(Invoice)) if i.pledge_id in ids]
    offers = list(db.session.scalars(select(MatchOffer).where(MatchOffer.campaign_id == campaign.id)))
    return pledges, payments, invoices, offers


def _expected(campaign: Campaign, today: date) -> dict[str, object]:
    """The overview's figures, worked out here from every row, by the written definitions."""
    pledges, payments, invoices, offers = _everything(campaign)
    received = [p for p in payments if p.status == PaymentStatus.SUCCEEDED]
    net = {p.id: p.amount_pence - p.refunded_pence for p in received}
    paid_by_pledge: dict[int, int] = defaultdict(int)
    for payment in received:
        paid_by_pledge[payment.pledge_id] += net[payment.id]

    def counts(pledge: Pledge) -> tuple[int, int, int]:
        if pledge.status in LIVE_STATUSES:
            return 1, pledge.commitment_pence, paid_by_pledge[pledge.id]
        if pledge.status == PledgeStatus.CANCELLED:
            return 0, paid_by_pledge[pledge.id], paid_by_pledge[pledge.id]
        return 0, 0, paid_by_pledge[pledge.id]

    def breakdown(key) -> dict[object, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
        sums: dict[object, list[int]] = defaultdict(lambda: [0, 0, 0])
        for pledge in pledges:
            for i, value in enumerate(counts(pledge)):
                sums[key(pledge)][i] += value
        return {k: tuple(v) for k, v in sums.items()}  # type: ignore[misc]

    by_kind = breakdown(lambda p: p.pledger_kind)
    pledged = sum(v[1] for v in by_kind.values())
    council = by_kind.get(PledgerKind.COUNCIL, (0, 0, 0))[1]
    individual = by_kind.get(PledgerKind.INDIVIDUAL, (0, 0, 0))[1]
    matched = 0
    for offer in offers:
        if offer.status != MatchStatus.ACTIVE:
            continue
        eligible = {"councils": council, "individuals": individual, "both": council + individual}[
            offer.eligibility.value
        ]
        matched += min(offer.cap_pence, eligible * offer.ratio_bp // 10_000)

    def paid_on(invoice: Invoice) -> int:
        return sum(net[p.id] for p in received if p.instalment_id == invoice.instalment_id)

    numbered = [i for i in invoices if i.kind == InvoiceKind.INVOICE and i.status != InvoiceStatus.VOID]
    overdue = [
        i
        for i in numbered
        if i.status == InvoiceStatus.ISSUED
        and i.due_on is not None
        and i.due_on < today
        and paid_on(i) < i.amount_pence
    ]
    collected = sum(net.values())
    return {
        "pledged": pledged,
        "collected": collected,
        "matched": matched,
        "pledge_count": sum(1 for p in pledges if p.status in LIVE_STATUSES),
        "council_count": len(
            {p.organisation_id for p in pledges if p.pledger_kind == PledgerKind.COUNCIL and p.status in LIVE_STATUSES}
        ),
        "funnel": {
            "made": (len(pledges), sum(p.commitment_pence for p in pledges)),
            "committed": (
                sum(1 for p in pledges if p.status in LIVE_STATUSES),
                sum(p.commitment_pence for p in pledges if p.status in LIVE_STATUSES),
            ),
            "invoiced": (len(numbered), sum(i.amount_pence for i in numbered)),
            "paid": (len(received), collected),
            "overdue": (len(overdue), sum(i.amount_pence - paid_on(i) for i in overdue)),
            "lost": (
                sum(1 for p in pledges if p.status in (PledgeStatus.FAILED, PledgeStatus.RELEASED)),
                sum(p.commitment_pence for p in pledges if p.status in (PledgeStatus.FAILED, PledgeStatus.RELEASED)),
            ),
        },
        "by_kind": by_kind,
        "by_frequency": breakdown(lambda p: p.frequency),
        "by_method": breakdown(lambda p: p.method),
        "by_conditional": breakdown(lambda p: p.is_conditional),
        "by_status": {
            status: (
                sum(1 for p in pledges if p.status == status),
                sum(p.commitment_pence for p in pledges if p.status == status),
            )
            for status in PledgeStatus
        },
        "fees": sum(p.fee_pence for p in received),
        "refunded": sum(p.refunded_pence for p in received),
        "runway_collected": collected * 12 * 10 // campaign.annual_cost_pence,  # tenths of a month
        "runway_pledged": pledged * 12 * 10 // campaign.annual_cost_pence,
    }


def test_the_seeded_ledger_has_every_status_kind_method_and_frequency(ledger: Ledger) -> None:
    pledges, payments, invoices, _ = _everything(ledger.campaign)
    assert {p.status for p in pledges} == set(PledgeStatus)
    assert {p.pledger_kind for p in pledges} == set(PledgerKind)
    assert {p.method for p in pledges} == set(PaymentMethod)
    assert {p.frequency for p in pledges} == set(Frequency)
    assert {p.status for p in payments} >= {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}
    assert {(i.kind, i.status) for i in invoices} >= {
        (InvoiceKind.INVOICE, InvoiceStatus.ISSUED),
        (InvoiceKind.INVOICE, InvoiceStatus.PAID),
        (InvoiceKind.PROFORMA, InvoiceStatus.PROFORMA),
        (InvoiceKind.PROFORMA, InvoiceStatus.VOID),
    }
    assert any(p.refunded_pence == p.amount_pence for p in payments) and any(
        0 < p.refunded_pence < p.amount_pence for p in payments
    )


def test_every_overview_figure_equals_an_independent_sum_over_the_ledger(ledger: Ledger) -> None:
    today = dashboard.london_today()
    expected = _expected(ledger.campaign, today)

    view = dashboard.overview(ledger.campaign, today)

    assert view.pledged_pence == expected["pledged"]
    assert view.collected_pence == expected["collected"]
    assert view.matched_pence == expected["matched"]
    assert view.pledge_count == expected["pledge_count"]
    assert view.council_count == expected["council_count"]
    assert view.raised_pence == expected["pledged"] + expected["matched"]  # type: ignore[operator]
    assert {step.key: (step.count, step.pence) for step in view.funnel} == expected["funnel"]
    for rows, key in (
        (view.by_kind, "by_kind"),
        (view.by_frequency, "by_frequency"),
        (view.by_method, "by_method"),
        (view.by_conditional, "by_conditional"),
    ):
        wanted = {str(k): v for k, v in expected[key].items()}  # type: ignore[attr-defined]
        got = {
            row.key: (row.count, row.pledged_pence, row.collected_pence)
            for row in rows
            if any((row.count, row.pledged_pence, row.collected_pence))
        }
        assert got == wanted, key
        # Each breakdown adds up to the headline totals.
        assert sum(row.pledged_pence for row in rows) == view.pledged_pence
        assert sum(row.collected_pence for row in rows) == view.collected_pence
    assert {row.status: (row.count, row.commitment_pence) for row in view.by_status} == expected["by_status"]
    assert view.fees_pence == expected["fees"]
    assert view.refunded_pence == expected["refunded"]
    assert view.runway_collected is not None and view.runway_collected.tenths == expected["runway_collected"]
    assert view.runway_pledged is not None and view.runway_pledged.tenths == expected["runway_pledged"]
    # The totals kept on the campaign row agree with the ledger, so no warning is raised.
    assert view.differences == []
    # Sanity: the dataset really exercises the edge cases the definitions talk about.
    funnel = expected["funnel"]
    assert funnel["overdue"][0] == 1 and funnel["lost"][0] == 2  # type: ignore[index]
    assert expected["matched"] == 950_00  # £900 cap on councils' 50% + the £50 cap on individuals


def _figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">(.*?)</dd>', html, re.S)
    assert match, name
    return " ".join(re.sub(r"<[^>]+>", " ", match[1]).split())


def test_the_overview_page_shows_the_ledgers_figures_with_their_definitions(
    treasurer: PageClient, ledger: Ledger
) -> None:
    campaign = ledger.campaign
    expected = _expected(campaign, dashboard.london_today())

    html = treasurer.get(f"/treasurer/campaigns/{campaign.slug}").get_data(as_text=True)

    money = campaign.money
    assert _figure(html, "target") == str(money(campaign.target_pence))
    assert _figure(html, "pledged") == str(money(expected["pledged"]))  # type: ignore[arg-type]
    assert _figure(html, "collected") == str(money(expected["collected"]))  # type: ignore[arg-type]
    assert _figure(html, "matched") == str(money(expected["matched"]))  # type: ignore[arg-type]
    assert _figure(html, "councils") == f"{expected['council_count']} of {campaign.min_councils} needed"
    tenths = expected["runway_collected"]
    assert _figure(html, "runway-collected") == f"{tenths // 10}.{tenths % 10} months"  # type: ignore[operator]
    for key, (count, pence) in expected["funnel"].items():  # type: ignore[attr-defined]
        row = re.search(rf'data-step="{key}">.*?data-count="(\d+)".*?data-pence="(\d+)"', html, re.S)
        assert row and (int(row[1]), int(row[2])) == (count, pence), key
    # Council pledges and councils are named plainly where their counts differ.
    council_pledges = expected["by_kind"].get(PledgerKind.COUNCIL, (0, 0, 0))[0]  # type: ignore[attr-defined]
    assert ('data-note="council-pledges"' in html) == (council_pledges != expected["council_count"])
    # One "Pledged" figure on the page: no funnel step carries the headline's name with another sum.
    assert not re.search(r'data-step="[^"]*">\s*<th[^>]*>Pledged<', html)
    # Each step says plainly what it counts.
    assert "past their due date and not paid in full" in html
    assert "pro-formas are not counted" in html
    assert "The campaign’s stored totals differ" not in html


def test_a_stored_total_that_drifts_from_the_ledger_is_shown_as_a_warning(
    treasurer: PageClient, ledger: Ledger
) -> None:
    campaign = ledger.campaign
    db.session.execute(
        update(Campaign).where(Campaign.id == campaign.id).values(collected_pence=Campaign.collected_pence + 1)
    )
    db.session.commit()

    html = treasurer.get(f"/treasurer/campaigns/{campaign.slug}").get_data(as_text=True)

    assert "The campaign’s stored totals differ from the ledger" in html
    assert "Collected: stored" in html


def test_runway_is_rounded_down_to_a_tenth_of_a_month_in_whole_numbers() -> None:
    assert str(dashboard.runway(4_000_00, 48_000_00)) == "1.0"
    assert str(dashboard.runway(3_999_99, 48_000_00)) == "0.9"
    assert str(dashboard.runway(48_000_00, 48_000_00)) == "12.0"
    assert str(dashboard.runway(123_456_78, 48_000_00)) == "30.8"
    assert dashboard.runway(10_00, None) is None


def test_an_empty_campaign_shows_zeros_not_errors(treasurer: PageClient) -> None:
    from tests.factories import CampaignFactory

    campaign = CampaignFactory(annual_cost_pence=None)
    html = treasurer.get(f"/treasurer/campaigns/{campaign.slug}").get_data(as_text=True)
    assert _figure(html, "pledged") == "£0.00"
    assert "no annual cost set" in html
    assert html.count('role="img"') == 3


def test_an_unknown_campaign_is_not_found(treasurer: PageClient) -> None:
    treasurer.get("/treasurer/campaigns/no-such-campaign", status=404)
