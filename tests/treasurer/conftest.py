"""A signed-in treasurer, and a campaign whose ledger holds every kind of thing that can happen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.invoicing import invoices
from app.models import (
    Campaign,
    Frequency,
    Instalment,
    Invoice,
    InvoiceKind,
    Organisation,
    Payment,
    PaymentMethod,
    Pledge,
    PledgerKind,
    PledgeStatus,
    Role,
    Visibility,
)
from app.money import Money
from app.payments import settle
from app.pledging import pledges
from app.treasury.dashboard import london_today
from tests.factories import (
    PASSWORD,
    CampaignFactory,
    OrganisationFactory,
    SponsorFactory,
    UserFactory,
    make_council_pledge,
    make_offer,
    make_pledge,
)
from tests.helpers import PageClient, sign_in


@pytest.fixture
def treasurer(page: PageClient) -> PageClient:
    """A page client signed in as a treasurer."""
    user = UserFactory(role=Role.TREASURER, email="tessa@example.org", name="Tessa Treasurer")
    assert sign_in(page.client, user.email, PASSWORD).status_code == 302
    return page


@pytest.fixture
def treasurer_client(treasurer: PageClient) -> FlaskClient:
    return treasurer.client


def pledge_by(
    campaign: Campaign,
    *,
    kind: PledgerKind,
    method: PaymentMethod,
    pounds: str,
    frequency: Frequency = Frequency.ONE_OFF,
    instalments: int | None = None,
    conditional: bool = False,
    organisation: Organisation | None = None,
    name: str = "Pat Pledger",
    email: str = "pat@example.org",
    po_number: str | None = None,
    token: str,
) -> Pledge:
    """A pending pledge of any kind and method, through the real service (not committed yet)."""
    return pledges.create_pledge(
        campaign,
        pledges.PledgeRequest(
            kind=kind,
            name=name,
            email=email,
            amount=Money.parse(pounds),
            frequency=frequency,
            instalment_count=instalments,
            method=method,
            conditional=conditional,
            visibility=Visibility.PUBLIC,
            organisation=organisation,
            po_number=po_number,
            submission_token=token,
        ),
    )


def card_paid(instalment: Instalment, fee_pence: int = 0):  # type: ignore[no-untyped-def]
    payment = settle.open_card_payment(instalment)
    settle.mark_succeeded(payment, fee_pence=fee_pence)
    return payment


@dataclass
class Ledger:
    campaign: Campaign
    councils: list[Organisation]
    overdue_invoice: Invoice
    paid_invoice: Invoice
    part_paid_invoice: Invoice
    statement_council: Organisation


def build_ledger(today: date | None = None) -> Ledger:
    """One campaign with every status, pledger kind, method and frequency; card and bank payments,
    fees, partial and full refunds, failed payments; numbered invoices paid, part-paid, overdue and
    current; pro-formas, live and void; and two match offers. All through the real services."""
    today = today or london_today()
    campaign = CampaignFactory(
        title="Shared digital lead 2027/28",
        slug="shared-digital-lead",
        target_pence=60_000_00,
        annual_cost_pence=48_000_00,
        min_councils=3,
    )
    north, south, east, west = (
        OrganisationFactory(name=f"{side} Shire Council") for side in ("North", "South", "East", "West")
    )
    contact = UserFactory(organisation=north, email="contact@north.example", name="Nora North")
    sponsor_org = SponsorFactory(name="Civic Tech Trust")

    # Individuals by card: every status, every frequency.
    make_pledge(campaign, pounds="25", status=PledgeStatus.PENDING, name="Penny Pending", email="penny@example.org")
    make_pledge(campaign, pounds="30", status=PledgeStatus.COMMITTED, name="Colin Committed", email="colin@example.org")
    make_pledge(
        campaign,
        pounds="10",
        frequency=Frequency.MONTHLY,
        instalments=12,
        paid_instalments=2,
        status=PledgeStatus.ACTIVE,
        name="Ada Active",
        email="ada@example.org",
    )
    make_pledge(campaign, pounds="50", paid_instalments=1, status=PledgeStatus.FULFILLED, name="Fay Fulfilled")
    make_pledge(
        campaign, pounds="120", frequency=Frequency.ANNUALLY, instalments=2, conditional=True, name="Annie Annual"
    )
    released = make_pledge(campaign, pounds="40", conditional=True, name="Rita Released")
    pledges.change_status(released, PledgeStatus.RELEASED, reason="test: campaign failed")
    failed = make_pledge(campaign, pounds="15", status=PledgeStatus.PENDING, name="Fred Failed")
    pledges.change_status(failed, PledgeStatus.FAILED, reason="test: card declined")
    cancelled = make_pledge(campaign, pounds="5", frequency=Frequency.MONTHLY, instalments=6, name="Carl Cancelled")
    card_paid(cancelled.instalments[0], fee_pence=27)
    pledges.change_status(cancelled, PledgeStatus.CANCELLED, reason="test: stopped")
    refunded = make_pledge(campaign, pounds="80", paid_instalments=1, status=PledgeStatus.FULFILLED, name="Rory Refund")
    payment = db.session.scalars(db.select(Payment).where(Payment.pledge_id == refunded.id)).one()
    settle.record_refund(payment, Money.parse("80"))
    pledges.change_status(refunded, PledgeStatus.REFUNDED, reason="test: refunded")
    part_refund = make_pledge(campaign, pounds="60", paid_instalments=1, status=PledgeStatus.FULFILLED, name="Pam Part")
    payment = db.session.scalars(db.select(Payment).where(Payment.pledge_id == part_refund.id)).one()
    settle.record_refund(payment, Money.parse("12.50"))
    declined = make_pledge(campaign, pounds="35", name="Dee Declined")
    settle.mark_failed(settle.open_card_payment(declined.instalments[0]), "Your card was declined.")
    # Someone whose name a spreadsheet would run as a formula.
    make_pledge(campaign, pounds="20", name='=HYPERLINK("http://evil.example")', email="evil@example.org")

    # An individual paying by bank transfer, part-paid.
    by_bank = pledge_by(
        campaign,
        kind=PledgerKind.INDIVIDUAL,
        method=PaymentMethod.BANK_TRANSFER,
        pounds="200",
        token="bank-1",
        name="Bea Bank",
        email="bea@example.org",
    )
    pledges.change_status(by_bank, PledgeStatus.COMMITTED, reason="test")
    settle.record_bank_transfer(
        by_bank, by_bank.instalments[0], Money.parse("75"), received_on=today - timedelta(days=3), reference="BEA 1"
    )

    # A sponsor's own pledge by bank transfer, and its match offers.
    sponsor_pledge = pledge_by(
        campaign,
        kind=PledgerKind.SPONSOR,
        method=PaymentMethod.BANK_TRANSFER,
        pounds="1000",
        token="sponsor-1",
        organisation=sponsor_org,
        name="Sam Sponsor",
        email="sam@trust.example",
    )
    pledges.change_status(sponsor_pledge, PledgeStatus.COMMITTED, reason="test")
    db.session.commit()
    make_offer(campaign, sponsor_org, ratio="0.5", cap="900", eligibility="councils")
    make_offer(campaign, SponsorFactory(name="Second Fund"), ratio="1", cap="50", eligibility="individuals")

    # Councils by invoice. North: unconditional over two years; first invoice part paid, the
    # second issued long ago and now overdue (part paid too).
    north_pledge = make_council_pledge(
        campaign, contact, north, pounds="3000", years=2, conditional=False, po_number="PO-NORTH-1"
    )
    part_paid_invoice = invoices.live_invoice(north_pledge.instalments[0].id, InvoiceKind.INVOICE)
    assert part_paid_invoice is not None
    invoices.record_bank_transfer(part_paid_invoice, Money.parse("1000"), today - timedelta(days=1), "NORTH 1", None)
    overdue = invoices.issue_for_instalment(north_pledge.instalments[1], today - timedelta(days=45))
    invoices.record_bank_transfer(overdue, Money.parse("500"), today - timedelta(days=10), "NORTH 2", None)
    db.session.commit()
    # South: unconditional, paid in full.
    south_pledge = make_council_pledge(campaign, council=south, pounds="2000", conditional=False, po_number="-2026/7")
    paid_invoice = invoices.live_invoice(south_pledge.instalments[0].id, InvoiceKind.INVOICE)
    assert paid_invoice is not None
    invoices.record_bank_transfer(paid_invoice, Money.parse("2000"), today, "SOUTH 1", None)
    db.session.commit()
    # East: conditional (a pro-forma). West: conditional, then cancelled (its pro-forma void).
    make_council_pledge(campaign, council=east, pounds="1500", conditional=True, po_number="PO-EAST")
    west_pledge = make_council_pledge(campaign, council=west, pounds="900", conditional=True, po_number="PO-WEST")
    pledges.change_status(west_pledge, PledgeStatus.CANCELLED, reason="test: withdrawn")
    invoices.void_proformas(west_pledge)
    db.session.commit()
    return Ledger(
        campaign=campaign,
        councils=[north, south, east, west],
        overdue_invoice=overdue,
        paid_invoice=paid_invoice,
        part_paid_invoice=part_paid_invoice,
        statement_council=north,
    )


@pytest.fixture
def ledger() -> Ledger:
    return build_ledger()
