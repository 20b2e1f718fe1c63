"""A council's own payments to the campaigns, as the spending data councils publish.

English councils must publish their spending over £500 under the Local Government Transparency
Code 2015 (date, beneficiary, purpose, amount, irrecoverable VAT, merchant category, with the
council's department and transaction number). This file has those columns, one line per payment
the council made through Pledgeline and one negative line per refund, so a finance team can add
the lines to its own publication. The two columns only the council knows (its service area and
its own transaction number) are left for it to fill in; ours are given beside them.

Only what the council's money did is here: pledges not yet paid are not spending.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Integer, func, literal, select, union_all

from app.extensions import db
from app.models import Campaign, Invoice, InvoiceKind, Organisation, Payment, PaymentStatus, Pledge
from app.opendata.ledger import refund_moment
from app.treasury import exports

LONDON = ZoneInfo("Europe/London")
# Payments to a body for a shared post are contributions, in CIPFA's SeRCOP subjective terms.
EXPENSE_TYPE = "Contributions to other bodies"
HEADER = (
    "Organisation name",
    "Organisation code",
    "Service area",
    "Expense type",
    "Payment date",
    "Transaction number",
    "Supplier reference",
    "Net amount",
    "Irrecoverable VAT",
    "Supplier name",
    "Supplier ID",
    "Purpose of expenditure",
)


@dataclass(frozen=True)
class Spend:
    moment: datetime
    day: date  # in the UK
    is_refund: bool
    pledge_id: int
    invoice_number: str | None
    campaign_title: str
    amount_pence: int  # negative for a refund

    @property
    def our_reference(self) -> str:
        """Our invoice's number where it settled one, else the pledge's reference."""
        return self.invoice_number or exports.reference(self.pledge_id)


def _invoice_number() -> Any:
    """The numbered invoice the payment settled, if it was for one."""
    return (
        select(func.max(Invoice.number))
        .where(Invoice.instalment_id == Payment.instalment_id, Invoice.kind == InvoiceKind.INVOICE)
        .correlate(Payment)
        .scalar_subquery()
    )


def spends(organisation_id: int, first: date | None = None, last: date | None = None) -> Iterator[Spend]:
    """The organisation's payments and refunds, oldest first, between two UK dates (inclusive);
    a payment is dated the day the money arrived, a refund the day it went back."""
    paid = (Payment.status == PaymentStatus.SUCCEEDED, Pledge.organisation_id == organisation_id)

    def part(moment: Any, refund: int, amount: Any, *where: Any) -> Any:
        return (
            select(
                moment.label("moment"),
                literal(refund, Integer).label("refund"),
                Payment.received_on.label("received_on"),
                Payment.id.label("payment_id"),
                Pledge.id.label("pledge_id"),
                _invoice_number().label("invoice_number"),
                Campaign.title.label("campaign_title"),
                amount.label("amount"),
            )
            .join(Pledge, Payment.pledge_id == Pledge.id)
            .join(Campaign, Pledge.campaign_id == Campaign.id)
            .where(*paid, *where)
        )

    every = union_all(
        part(func.coalesce(Payment.succeeded_at, Payment.created_at), 0, Payment.amount_pence),
        part(refund_moment(), 1, -Payment.refunded_pence, Payment.refunded_pence > 0),
    ).subquery()
    # One council's payments are a handful a year, so they are dated, filtered and sorted here,
    # in UK time, rather than in each database's own way of comparing moments across zones.
    found = []
    for row in db.session.execute(select(every)):
        moment = row.moment if row.moment.tzinfo is not None else row.moment.replace(tzinfo=UTC)
        # A bank transfer is dated the day it reached the bank, as the treasurer recorded it.
        day = row.received_on if row.received_on and not row.refund else moment.astimezone(LONDON).date()
        if (first is None or day >= first) and (last is None or day <= last):
            spend = Spend(
                moment, day, bool(row.refund), row.pledge_id, row.invoice_number, row.campaign_title, int(row.amount)
            )
            found.append(((day, row.refund, row.payment_id), spend))
    return iter([spend for _key, spend in sorted(found, key=lambda item: item[0])])


def _row(organisation: Organisation, spend: Spend) -> list[str]:
    config = current_app.config
    reference = exports.reference(spend.pledge_id)
    what = "Refund of a contribution" if spend.is_refund else "Contribution"
    return [
        exports.text(organisation.name),
        organisation.gss_code or "",
        "",  # the council's own service area
        EXPENSE_TYPE,
        spend.day.isoformat(),
        "",  # the council's own transaction number
        spend.our_reference,
        exports.pounds(spend.amount_pence),
        "0.00",  # Pledgeline's invoices carry no VAT, so none is left unrecovered
        exports.text(config["RECIPIENT_ORG_NAME"]),
        exports.text(config["RECIPIENT_ORG_ID"]),
        exports.text(f"{what} to {spend.campaign_title} (pledge {reference})"),
    ]


def csv_body(organisation: Organisation, first: date | None = None, last: date | None = None) -> Iterator[str]:
    def rows() -> Iterator[list[str]]:
        yield list(HEADER)
        for spend in spends(organisation.id, first, last):
            yield _row(organisation, spend)

    return exports.stream(rows())
