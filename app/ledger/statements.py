"""A council's statement for one financial year (1 April – 31 March): pledges, invoices, payments, balance.

The balance is an account's balance: what the council has been invoiced (numbered invoices that
are not void) less what it has paid against those invoices, less refunds:

    closing balance = opening balance + invoiced in the year − received in the year

Pro-formas are listed but never owed (they are payable only if a campaign succeeds, when a
numbered invoice replaces them). Payments for pledges paid without an invoice (by card, say) are
listed, and marked as not counting toward the balance.

Dates follow the UK: an invoice belongs to the year it was issued in; a payment to the year the
money arrived (a bank transfer's date received, or the UK date a card payment succeeded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.sql.elements import ColumnElement

from app.extensions import db
from app.models import (
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Organisation,
    Payment,
    PaymentStatus,
    Pledge,
    PledgeStatus,
)
from app.pledging import schedule
from app.treasury.dashboard import invoice_paid_pence, london_midnight, london_today, overdue_invoice

_YEAR = re.compile(r"^(\d{4})[-/](\d{2})$")
# Instalments that were, or still are, to be paid (not cancelled or released).
OWED_INSTALMENTS = (
    InstalmentStatus.SCHEDULED,
    InstalmentStatus.REQUIRES_ACTION,
    InstalmentStatus.PAID,
    InstalmentStatus.FAILED,
)


def parse_year(text: str | None) -> int | None:
    """The year a financial year starts in, from "2027-28" (or "2027/28"); None if it is not one."""
    match = _YEAR.match((text or "").strip())
    if match is None:
        return None
    start = int(match[1])
    if int(match[2]) != (start + 1) % 100 or not 2000 <= start <= 2099:
        return None
    return start


def year_slug(start: int) -> str:
    """The financial year as it is written in a link: "2027-28"."""
    return f"{start}-{(start + 1) % 100:02d}"


def year_label(start: int) -> str:
    """The financial year as councils write it: "2027/28"."""
    return schedule.financial_year_label(date(start, 4, 1))


def year_bounds(start: int) -> tuple[date, date]:
    """The first and last days of the financial year."""
    return date(start, 4, 1), date(start + 1, 3, 31)


def received_between(first: date, last: date) -> ColumnElement[bool]:
    """A payment whose money arrived on a UK date from `first` to `last` inclusive."""
    moment = func.coalesce(Payment.succeeded_at, Payment.created_at)
    return or_(
        and_(Payment.received_on.is_not(None), Payment.received_on >= first, Payment.received_on <= last),
        and_(
            Payment.received_on.is_(None),
            moment >= london_midnight(first),
            moment < london_midnight(last + timedelta(days=1)),
        ),
    )


def received_before(day: date) -> ColumnElement[bool]:
    moment = func.coalesce(Payment.succeeded_at, Payment.created_at)
    return or_(
        and_(Payment.received_on.is_not(None), Payment.received_on < day),
        and_(Payment.received_on.is_(None), moment < london_midnight(day)),
    )


def _numbered() -> ColumnElement[bool]:
    return and_(Invoice.kind == InvoiceKind.INVOICE, Invoice.status != InvoiceStatus.VOID)


def _invoiced_instalment() -> ColumnElement[bool]:
    """The payment's instalment has a numbered invoice that is not void (at any date)."""
    other = aliased(Invoice)
    return exists().where(
        other.instalment_id == Payment.instalment_id,
        other.kind == InvoiceKind.INVOICE,
        other.status != InvoiceStatus.VOID,
    )


@dataclass(frozen=True)
class PledgeLine:
    pledge: Pledge
    due_in_year_pence: int  # instalments falling due in the year, not cancelled or released


@dataclass(frozen=True)
class InvoiceLine:
    invoice: Invoice
    paid_pence: int
    balance_pence: int
    overdue: bool

    @property
    def counts(self) -> bool:
        """Whether this document is owed (numbered and not void)."""
        return self.invoice.kind == InvoiceKind.INVOICE and self.invoice.status != InvoiceStatus.VOID


@dataclass(frozen=True)
class PaymentLine:
    payment: Payment
    received_on: date
    net_pence: int
    invoice_number: str | None  # the numbered invoice of its instalment, if it has one

    @property
    def counts(self) -> bool:
        return self.invoice_number is not None


@dataclass(frozen=True)
class Statement:
    organisation: Organisation
    year: int
    first_day: date
    last_day: date
    pledges: list[PledgeLine]
    invoices: list[InvoiceLine]
    payments: list[PaymentLine]
    opening_pence: int
    invoiced_pence: int
    received_pence: int
    currency: str
    years: list[int]
    today: date

    @property
    def finished(self) -> bool:
        """Whether the year is over (if not, its closing balance is the balance so far)."""
        return self.today > self.last_day

    @property
    def closing_pence(self) -> int:
        return self.opening_pence + self.invoiced_pence - self.received_pence

    @property
    def label(self) -> str:
        return year_label(self.year)

    @property
    def slug(self) -> str:
        return year_slug(self.year)


def _invoiced_up_to(organisation_id: int, before: date) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Invoice.amount_pence), 0))
            .join(Pledge, Invoice.pledge_id == Pledge.id)
            .where(Pledge.organisation_id == organisation_id, _numbered(), Invoice.issued_on < before)
        )
        or 0
    )


def _received_against_invoices(organisation_id: int, condition: ColumnElement[bool]) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Payment.amount_pence - Payment.refunded_pence), 0))
            .join(Pledge, Payment.pledge_id == Pledge.id)
            .where(
                Pledge.organisation_id == organisation_id,
                Payment.status == PaymentStatus.SUCCEEDED,
                _invoiced_instalment(),
                condition,
            )
        )
        or 0
    )


def years_with_activity(organisation_id: int, today: date) -> list[int]:
    """Financial years in which the organisation had instalments due or invoices issued, and this one."""
    due = db.session.execute(
        select(func.min(Instalment.due_on), func.max(Instalment.due_on))
        .join(Pledge, Instalment.pledge_id == Pledge.id)
        .where(Pledge.organisation_id == organisation_id, Pledge.status != PledgeStatus.PENDING)
    ).one()
    issued = db.session.execute(
        select(func.min(Invoice.issued_on), func.max(Invoice.issued_on))
        .join(Pledge, Invoice.pledge_id == Pledge.id)
        .where(Pledge.organisation_id == organisation_id)
    ).one()
    days = [d for d in (*due, *issued, today) if d is not None]
    first = schedule.financial_year_of(min(days))
    last = schedule.financial_year_of(max(days))
    first = max(first, last - 19)  # a long history is cut to the last twenty years
    return list(range(first, last + 1))


def statement(organisation: Organisation, year: int, today: date | None = None) -> Statement:
    """The organisation's statement for the financial year starting in April of `year`."""
    today = today or london_today()
    first, last = year_bounds(year)
    org_id = organisation.id

    due_in_year = (
        select(func.coalesce(func.sum(Instalment.amount_pence), 0))
        .where(
            Instalment.pledge_id == Pledge.id,
            Instalment.due_on >= first,
            Instalment.due_on <= last,
            Instalment.status.in_(OWED_INSTALMENTS),
        )
        .correlate(Pledge)
        .scalar_subquery()
    )
    any_due = exists().where(Instalment.pledge_id == Pledge.id, Instalment.due_on >= first, Instalment.due_on <= last)
    pledge_rows = db.session.execute(
        select(Pledge, due_in_year)
        .options(joinedload(Pledge.campaign))
        .where(Pledge.organisation_id == org_id, Pledge.status != PledgeStatus.PENDING, any_due)
        .order_by(Pledge.created_at, Pledge.id)
    ).all()

    invoice_rows = db.session.execute(
        select(Invoice, invoice_paid_pence(), overdue_invoice(today))
        .join(Pledge, Invoice.pledge_id == Pledge.id)
        .options(joinedload(Invoice.pledge))
        .where(Pledge.organisation_id == org_id, Invoice.issued_on >= first, Invoice.issued_on <= last)
        .order_by(Invoice.issued_on, Invoice.id)
    ).all()

    numbered = aliased(Invoice)
    invoice_number = (
        select(numbered.number)
        .where(
            numbered.instalment_id == Payment.instalment_id,
            numbered.kind == InvoiceKind.INVOICE,
            numbered.status != InvoiceStatus.VOID,
        )
        .correlate(Payment)
        .limit(1)
        .scalar_subquery()
    )
    payment_rows = db.session.execute(
        select(Payment, invoice_number)
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .options(joinedload(Payment.pledge))
        .where(
            Pledge.organisation_id == org_id,
            Payment.status == PaymentStatus.SUCCEEDED,
            received_between(first, last),
        )
        .order_by(Payment.received_on, Payment.succeeded_at, Payment.id)
    ).all()
    payments = [
        PaymentLine(
            payment=payment,
            received_on=payment.received_on or london_today(payment.succeeded_at or payment.created_at),
            net_pence=payment.amount_pence - payment.refunded_pence,
            invoice_number=number,
        )
        for payment, number in payment_rows
    ]
    payments.sort(key=lambda line: (line.received_on, line.payment.id))

    invoiced = int(
        db.session.scalar(
            select(func.coalesce(func.sum(Invoice.amount_pence), 0))
            .join(Pledge, Invoice.pledge_id == Pledge.id)
            .where(Pledge.organisation_id == org_id, _numbered(), Invoice.issued_on >= first, Invoice.issued_on <= last)
        )
        or 0
    )
    opening = _invoiced_up_to(org_id, first) - _received_against_invoices(org_id, received_before(first))
    received = _received_against_invoices(org_id, received_between(first, last))
    currencies = {p.currency for p, _ in pledge_rows} | {i.currency for i, _, _ in invoice_rows}
    return Statement(
        organisation=organisation,
        year=year,
        first_day=first,
        last_day=last,
        pledges=[PledgeLine(pledge, int(due or 0)) for pledge, due in pledge_rows],
        invoices=[
            InvoiceLine(invoice, int(paid or 0), invoice.amount_pence - int(paid or 0), bool(overdue))
            for invoice, paid, overdue in invoice_rows
        ],
        payments=payments,
        opening_pence=opening,
        invoiced_pence=invoiced,
        received_pence=received,
        currency=currencies.pop() if len(currencies) == 1 else "GBP",
        years=years_with_activity(org_id, today),
        today=today,
    )


def organisations_with_pledges() -> list[tuple[Organisation, int]]:
    """Councils and other bodies that have pledged, with how many pledges, for the statements index."""
    rows = db.session.execute(
        select(Organisation, func.count(Pledge.id))
        .join(Pledge, Pledge.organisation_id == Organisation.id)
        .where(Pledge.status != PledgeStatus.PENDING)
        .group_by(Organisation.id)
        .order_by(Organisation.name)
    ).all()
    return [(organisation, int(count)) for organisation, count in rows]
