"""A council's statement for a financial year: pledges, invoices, payments and a balance that adds up."""

from __future__ import annotations

import io
import itertools
import re
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.ledger import statements
from app.models import Invoice, InvoiceKind, InvoiceStatus, Payment, PaymentStatus, Pledge
from app.pledging import schedule
from app.treasury import dashboard
from tests.helpers import PageClient
from tests.treasurer.conftest import Ledger


def _money_date(payment: Payment) -> date:
    if payment.received_on is not None:
        return payment.received_on
    moment = payment.succeeded_at or payment.created_at
    return moment.astimezone(dashboard.LONDON).date()


def _expected(organisation_id: int, year: int) -> dict[str, int]:
    """The balance worked out here, row by row: numbered invoices less payments against them."""
    first, last = date(year, 4, 1), date(year + 1, 3, 31)
    pledges = list(db.session.scalars(select(Pledge).where(Pledge.organisation_id == organisation_id)))
    ids = {p.id for p in pledges}
    invoices = [i for i in db.session.scalars(select(Invoice)) if i.pledge_id in ids]
    numbered = [i for i in invoices if i.kind == InvoiceKind.INVOICE and i.status != InvoiceStatus.VOID]
    invoiced_instalments = {i.instalment_id for i in numbered}
    against = [
        p
        for p in db.session.scalars(select(Payment))
        if p.pledge_id in ids and p.status == PaymentStatus.SUCCEEDED and p.instalment_id in invoiced_instalments
    ]

    def net(payments: list[Payment]) -> int:
        return sum(p.amount_pence - p.refunded_pence for p in payments)

    opening = sum(i.amount_pence for i in numbered if i.issued_on < first) - net(
        [p for p in against if _money_date(p) < first]
    )
    invoiced = sum(i.amount_pence for i in numbered if first <= i.issued_on <= last)
    received = net([p for p in against if first <= _money_date(p) <= last])
    return {"opening": opening, "invoiced": invoiced, "received": received, "closing": opening + invoiced - received}


def test_a_statements_balance_equals_invoices_less_payments_against_them(ledger: Ledger) -> None:
    council = ledger.statement_council
    year = schedule.financial_year_of(dashboard.london_today())

    found = statements.statement(council, year)

    expected = _expected(council.id, year)
    assert (found.opening_pence, found.invoiced_pence, found.received_pence, found.closing_pence) == (
        expected["opening"],
        expected["invoiced"],
        expected["received"],
        expected["closing"],
    )
    assert found.invoiced_pence > 0 and found.received_pence > 0
    # Every invoice issued in the year is listed, with what has been paid against it.
    listed = {line.invoice.id: (line.paid_pence, line.overdue) for line in found.invoices}
    if ledger.overdue_invoice.issued_on >= found.first_day:  # issued 45 days ago: this year, unless it is April
        assert listed[ledger.overdue_invoice.id] == (500_00, True)
    assert listed[ledger.part_paid_invoice.id] == (1000_00, False)
    assert {line.pledge.organisation_id for line in found.pledges} == {council.id}
    assert all(line.counts for line in found.payments)  # every North payment is against an invoice


def test_each_years_closing_balance_is_the_next_years_opening_balance(ledger: Ledger) -> None:
    council = ledger.statement_council
    this_year = schedule.financial_year_of(dashboard.london_today())
    years = [statements.statement(council, y) for y in range(this_year - 1, this_year + 3)]
    for earlier, later in itertools.pairwise(years):
        assert earlier.closing_pence == later.opening_pence
    assert years[0].opening_pence == 0
    # North's second-year instalment is due next April: it shows on next year's statement.
    assert sum(line.due_in_year_pence for line in years[2].pledges) == 3000_00


def test_pro_formas_and_void_documents_are_listed_but_never_owed(ledger: Ledger) -> None:
    west = ledger.councils[3]
    year = schedule.financial_year_of(dashboard.london_today())
    found = statements.statement(west, year)
    assert [line.invoice.status for line in found.invoices] == [InvoiceStatus.VOID]
    assert not found.invoices[0].counts
    assert found.closing_pence == 0


def test_the_statement_page_and_pdf_show_the_same_figures(treasurer: PageClient, ledger: Ledger) -> None:
    council = ledger.statement_council
    year = schedule.financial_year_of(dashboard.london_today())
    slug = statements.year_slug(year)
    expected = _expected(council.id, year)

    html = treasurer.get(f"/treasurer/statements/{council.slug}?year={slug}").get_data(as_text=True)
    balance = re.search(r'data-table="balance".*?</table>', html, re.S)
    assert balance
    shown = [int(pence) for pence in re.findall(r'data-pence="(-?\d+)"', balance[0])]
    assert shown == [expected["opening"], expected["invoiced"], expected["received"], expected["closing"]]
    assert ledger.part_paid_invoice.number in html and "NORTH 1" in html

    response = treasurer.client.get(f"/treasurer/statements/{council.slug}.pdf?year={slug}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert council.name in text and f"Statement for {statements.year_label(year)}" in text
    assert str(ledger.campaign.money(expected["closing"])) in text
    assert ledger.part_paid_invoice.number in text


@pytest.mark.parametrize("year", ["2027", "2027-29", "1999-00", "nonsense"])
def test_a_malformed_year_is_not_found(treasurer: PageClient, ledger: Ledger, year: str) -> None:
    treasurer.get(f"/treasurer/statements/{ledger.statement_council.slug}?year={year}", status=404)


def test_an_unknown_organisation_is_not_found(treasurer: PageClient) -> None:
    treasurer.get("/treasurer/statements/nowhere-council", status=404)


def test_the_statements_index_lists_organisations_that_pledged(treasurer: PageClient, ledger: Ledger) -> None:
    html = treasurer.get("/treasurer/statements").get_data(as_text=True)
    for council in ledger.councils:
        assert council.name in html
    assert "Civic Tech Trust" in html  # the sponsor pledged too


def test_financial_years_read_as_councils_write_them() -> None:
    assert statements.parse_year("2027-28") == 2027
    assert statements.parse_year("2027/28") == 2027
    assert statements.parse_year("2099-00") == 2099
    assert statements.parse_year("2027-29") is None
    assert statements.year_slug(2027) == "2027-28" and statements.year_label(2027) == "2027/28"
    assert statements.year_bounds(2027) == (date(2027, 4, 1), date(2028, 3, 31))
