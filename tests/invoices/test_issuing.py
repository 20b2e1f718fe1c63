"""Issuing invoices: numbers that never repeat or skip, one live document per instalment, on time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, func, select

from app.database import write_transaction
from app.extensions import db
from app.invoicing import invoices
from app.models import (
    AuditEntry,
    CampaignStatus,
    EmailMessage,
    Instalment,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceStatus,
    Pledge,
    PledgeStatus,
)
from app.pledging import pledges
from tests.factories import CampaignFactory, OrganisationFactory, UserFactory, make_council_pledge
from tests.invoices.conftest import succeed


def _council_pledges(campaign, count: int, **kwargs) -> list[int]:  # type: ignore[no-untyped-def]
    """`count` conditional council pledges (each with its pro-forma, each by its council's officer), as pledge ids."""
    councils = [OrganisationFactory() for _ in range(count)]
    return [make_council_pledge(campaign, UserFactory(organisation=c), c, **kwargs).id for c in councils]


def _first_instalment(pledge_id: int) -> Instalment:
    return db.session.scalars(
        select(Instalment).where(Instalment.pledge_id == pledge_id, Instalment.sequence == 1)
    ).one()


def _issue(instalment_id: int, today: date | None = None) -> Invoice:
    with write_transaction():
        invoice = invoices.issue_for_instalment(db.session.get_one(Instalment, instalment_id), today)
        db.session.commit()
    return invoice


def _numbers() -> list[str]:
    return list(db.session.scalars(select(Invoice.number).where(Invoice.number.is_not(None)).order_by(Invoice.number)))


def test_invoices_are_numbered_in_order_once_each_and_replace_the_pro_forma(campaign) -> None:
    ids = _council_pledges(campaign, 3)
    succeed(campaign)

    issued = [_issue(_first_instalment(pledge_id).id, date(2027, 1, 4)) for pledge_id in ids]
    again = _issue(_first_instalment(ids[0]).id)

    assert [i.number for i in issued] == ["INV-000001", "INV-000002", "INV-000003"]
    assert again.id == issued[0].id  # idempotent: the live invoice, not a new one
    assert [(i.issued_on, i.due_on) for i in issued] == [(date(2027, 1, 4), date(2027, 2, 3))] * 3
    assert set(db.session.scalars(select(Invoice.status).where(Invoice.kind == InvoiceKind.PROFORMA))) == {
        InvoiceStatus.VOID
    }
    assert db.session.scalar(select(func.count()).where(EmailMessage.kind == "invoice_issued")) == 3
    assert db.session.scalar(select(func.count()).where(AuditEntry.action == "invoice.issued")) == 3
    assert db.session.get_one(InvoiceCounter, "INV").last_number == 3


def test_fifty_concurrent_issues_take_fifty_numbers_without_a_gap(app: Flask, campaign, is_postgres: bool) -> None:
    """Each of 50 instalments is issued by two threads at once: 100 attempts, 50 invoices, INV-000001–50."""
    ids = _council_pledges(campaign, 50)
    succeed(campaign)
    instalment_ids = [_first_instalment(pledge_id).id for pledge_id in ids]
    db.session.commit()

    def issue(instalment_id: int) -> str:
        with app.app_context(), write_transaction():
            invoice = invoices.issue_for_instalment(db.session.get_one(Instalment, instalment_id))
            number = invoice.number
            db.session.commit()
            return str(number)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(issue, instalment_ids + instalment_ids[::-1]))

    db.session.rollback()
    expected = [f"INV-{n:06d}" for n in range(1, 51)]
    assert _numbers() == expected  # unique and gap-free
    assert sorted(set(results)) == expected
    assert results[:50] == results[50:][::-1]  # both threads for an instalment saw the same invoice
    live = db.session.scalars(
        select(Invoice.instalment_id).where(Invoice.kind == InvoiceKind.INVOICE, Invoice.status != InvoiceStatus.VOID)
    ).all()
    assert sorted(live) == sorted(instalment_ids)
    assert db.session.get_one(InvoiceCounter, "INV").last_number == 50
    assert db.session.scalar(select(func.count()).where(EmailMessage.kind == "invoice_issued")) == 50


def test_a_rolled_back_invoice_gives_its_number_back(campaign) -> None:
    first, second = _council_pledges(campaign, 2)
    succeed(campaign)
    with write_transaction():
        taken = invoices.issue_for_instalment(_first_instalment(first))
        assert taken.number == "INV-000001"
        db.session.rollback()  # e.g. the request failed after issuing

    assert _issue(_first_instalment(second).id).number == "INV-000001"
    assert _issue(_first_instalment(first).id).number == "INV-000002"


def test_a_missing_counter_carries_on_after_the_highest_number(campaign) -> None:
    ids = _council_pledges(campaign, 3)
    succeed(campaign)
    _issue(_first_instalment(ids[0]).id)
    _issue(_first_instalment(ids[1]).id)
    db.session.execute(delete(InvoiceCounter))
    db.session.commit()

    assert _issue(_first_instalment(ids[2]).id).number == "INV-000003"


def test_a_conditional_pledge_is_not_invoiced_until_its_campaign_succeeds(campaign) -> None:
    (pledge_id,) = _council_pledges(campaign, 1)
    instalment = _first_instalment(pledge_id)

    with pytest.raises(invoices.InvoiceError, match="payable only if the campaign succeeds"):
        invoices.issue_for_instalment(instalment)
    db.session.rollback()
    assert invoices.issue_due_invoices(instalment.due_on + timedelta(days=400)) == 0
    assert _numbers() == []


def test_later_years_are_invoiced_on_1_april_and_not_before(campaign, contact, council) -> None:
    pledge = make_council_pledge(campaign, contact, council, years=3, conditional=False)
    second = pledge.instalments[1].due_on
    assert (second.month, second.day) == (4, 1)

    assert invoices.issue_due_invoices(second - timedelta(days=1)) == 0
    assert invoices.issue_due_invoices(second) == 1
    assert invoices.issue_due_invoices(second) == 0  # nothing twice
    db.session.expire_all()
    invoiced = db.session.scalars(
        select(Instalment.sequence).join(Invoice, Invoice.instalment_id == Instalment.id).order_by(Instalment.sequence)
    ).all()
    assert invoiced == [1, 2]


def test_success_invoices_a_conditional_pledges_first_year_at_once_even_before_its_closing_day(
    campaign, contact, council
) -> None:
    pledge = make_council_pledge(campaign, contact, council, years=2)
    succeed(campaign)  # closed early by a treasurer, say: the first instalment's date is still ahead
    today = pledge.instalments[0].due_on - timedelta(days=10)

    assert invoices.issue_due_invoices(today) == 1

    invoice = db.session.scalars(select(Invoice).where(Invoice.kind == InvoiceKind.INVOICE)).one()
    assert invoice.instalment_id == pledge.instalments[0].id and invoice.issued_on == today
    assert db.session.scalars(select(Invoice.status).where(Invoice.kind == InvoiceKind.PROFORMA)).all() == [
        InvoiceStatus.VOID
    ]


def test_released_pledges_lose_their_pro_forma_and_are_never_invoiced(campaign, contact, council) -> None:
    pledge = make_council_pledge(campaign, contact, council)
    with write_transaction():
        pledge = db.session.get_one(Pledge, pledge.id)
        pledges.change_status(pledge, PledgeStatus.RELEASED, reason="The campaign did not reach its goal")
        assert invoices.void_proformas(pledge) == 1
        db.session.commit()
    campaign.status = CampaignStatus.FAILED
    db.session.commit()

    assert invoices.issue_due_invoices(date(2030, 1, 1)) == 0
    assert db.session.scalars(select(Invoice.status)).all() == [InvoiceStatus.VOID]


def test_issue_due_run_twice_at_once_issues_each_invoice_once(app: Flask, runner: FlaskCliRunner) -> None:
    campaign = CampaignFactory()
    ids = _council_pledges(campaign, 12, years=2, conditional=False)  # 12 first-year invoices now
    later = _first_instalment(ids[0]).pledge.instalments[1].due_on
    db.session.commit()

    def run(_: int) -> int:
        with app.app_context():
            return invoices.issue_due_invoices(later)

    with ThreadPoolExecutor(max_workers=2) as pool:
        issued = list(pool.map(run, range(2)))

    db.session.rollback()
    assert sum(issued) == 12
    assert _numbers() == [f"INV-{n:06d}" for n in range(1, 25)]
    result = runner.invoke(args=["invoices", "issue-due", "--date", later.isoformat()])
    assert result.exit_code == 0 and "0 invoice(s) issued" in result.output


# --- With the campaign lifecycle (the lead's close-due calls issue_due_invoices and void_proformas) ---


def test_close_due_invoices_the_councils_of_a_campaign_that_succeeds(contact, council) -> None:
    from app.campaigns import lifecycle

    campaign = CampaignFactory(target_pence=1_000_00, min_councils=1)
    pledge = make_council_pledge(campaign, contact, council, pounds="1000", years=2)

    report = lifecycle.close_due(campaign.closes_at + timedelta(minutes=1))

    db.session.expire_all()
    assert report.invoiced == 1
    invoice = db.session.scalars(select(Invoice).where(Invoice.kind == InvoiceKind.INVOICE)).one()
    assert (invoice.number, invoice.instalment_id) == ("INV-000001", pledge.instalments[0].id)
    assert db.session.scalars(select(Invoice.status).where(Invoice.kind == InvoiceKind.PROFORMA)).all() == [
        InvoiceStatus.VOID
    ]
    assert "invoice_issued" in db.session.scalars(select(EmailMessage.kind)).all()
    second = db.session.get_one(Pledge, pledge.id).instalments[1].due_on
    assert (second.month, second.day) == (4, 1)  # later years stay on 1 April


def test_close_due_releases_a_failed_campaigns_council_pledges_and_voids_their_pro_formas(contact, council) -> None:
    from app.campaigns import lifecycle

    campaign = CampaignFactory(target_pence=1_000_00, min_councils=5)
    pledge = make_council_pledge(campaign, contact, council, pounds="1000")

    lifecycle.close_due(campaign.closes_at + timedelta(minutes=1))

    db.session.expire_all()
    assert db.session.get_one(Pledge, pledge.id).status == PledgeStatus.RELEASED
    assert db.session.scalars(select(Invoice.status)).all() == [InvoiceStatus.VOID]
    assert _numbers() == []
