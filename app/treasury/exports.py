"""CSV exports of a campaign's pledges, payments and invoices, streamed row by row.

Nothing is built in memory: the rows come from the database in batches (`yield_per`), each is
written to a small buffer, and the buffer is handed on whenever it fills, so a million-row export
costs what a thousand-row one does. The caller wraps `stream(...)` in Flask's
`stream_with_context` and passes only plain values (the campaign's id, dates) captured before the
response starts.

The files are UTF-8 with a header row. Money is given twice: in pounds with two decimals (for
spreadsheets) and in whole pence (for programs). Dates are ISO 8601; times are UK times with their
offset. Any cell that a spreadsheet might run as a formula (starting with =, +, -, @, a tab or a
carriage return) gets a leading single quote, so a pledger called "=HYPERLINK(…)" stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, and_, func, or_, select, type_coerce
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Campaign, Instalment, Invoice, Organisation, Payment, PaymentStatus, Pledge
from app.treasury.dashboard import invoice_paid_pence, london_midnight

LONDON = ZoneInfo("Europe/London")
BATCH = 1000
CHUNK = 64 * 1024  # characters handed to the server at a time
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Text a spreadsheet will show as text, never run: formula-like cells get a leading quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def pounds(pence: int) -> str:
    """Whole pence as pounds with two decimals, in whole-number arithmetic: 250050 -> "2500.50"."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}{whole}.{part:02d}"


def text(value: str | None) -> str:
    """A cell someone typed (a name, a reference): neutralised."""
    return neutralise(value) if value else ""


def when(value: datetime | None) -> str:
    """A moment as ISO 8601 in UK time, with its offset: "2027-04-01T09:30:00+01:00"."""
    return value.astimezone(LONDON).isoformat(timespec="seconds") if value is not None else ""


def day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def number(value: int | None) -> str:
    return "" if value is None else neutralise(str(value))


def money(pence: int) -> tuple[str, str]:
    """(pounds, pence) cells for one amount."""
    return neutralise(pounds(pence)), neutralise(str(pence))


def flag(value: bool | None) -> str:
    return "yes" if value else "no"


def reference(pledge_id: int) -> str:
    return f"PL-{pledge_id:06d}"


def _raw(column: Any) -> Any:
    """An enum column read as its plain stored text: no enum objects made per row (and per cell)."""
    return type_coerce(column, String)


@dataclass(frozen=True)
class Export:
    """One kind of export: its file name part, header and the query that feeds it."""

    name: str
    label: str
    header: tuple[str, ...]
    query: Callable[[int, date | None, date | None], Select[Any]]  # given the campaign's id
    row: Callable[[Any], list[str]]  # the cells of one record, as text


def _between(column: Any, first: date | None, last: date | None) -> list[Any]:
    """A stored UTC time on UK dates from `first` to `last` inclusive."""
    conditions = []
    if first is not None:
        conditions.append(column >= london_midnight(first))
    if last is not None:
        conditions.append(column < london_midnight(last + timedelta(days=1)))
    return conditions


def _days_between(column: Any, first: date | None, last: date | None) -> list[Any]:
    conditions = []
    if first is not None:
        conditions.append(column >= first)
    if last is not None:
        conditions.append(column <= last)
    return conditions


# --- Pledges -----------------------------------------------------------------------------------


def _pledges_query(campaign_id: int, first: date | None, last: date | None) -> Select[Any]:
    collected = (
        select(func.coalesce(func.sum(Payment.amount_pence - Payment.refunded_pence), 0))
        .where(Payment.pledge_id == Pledge.id, Payment.status == PaymentStatus.SUCCEEDED)
        .correlate(Pledge)
        .scalar_subquery()
    )
    return (
        select(
            Pledge.id,
            Pledge.created_at,
            _raw(Pledge.status),
            _raw(Pledge.pledger_kind),
            Pledge.name,
            Pledge.email,
            Organisation.name,
            Pledge.amount_pence,
            Pledge.currency,
            _raw(Pledge.frequency),
            Pledge.instalment_count,
            Pledge.commitment_pence,
            collected,
            _raw(Pledge.method),
            Pledge.is_conditional,
            _raw(Pledge.visibility),
            Pledge.po_number,
            Pledge.message,
        )
        .outerjoin(Organisation, Pledge.organisation_id == Organisation.id)
        .where(Pledge.campaign_id == campaign_id, *_between(Pledge.created_at, first, last))
        .order_by(Pledge.id)
    )


def _pledge_row(row: Any) -> list[str]:
    (pledge_id, created_at, status, kind, name, email, organisation, amount, currency, frequency, count,
     commitment, collected, method, conditional, visibility, po_number, message) = row  # fmt: skip
    collected = int(collected or 0)
    return [
        reference(pledge_id),
        when(created_at),
        status,
        kind,
        text(name),
        text(email),
        text(organisation),
        currency,
        *money(amount),
        frequency,
        number(count),
        *money(commitment),
        *money(collected),
        method,
        flag(conditional),
        visibility,
        text(po_number),
        text(message),
    ]


PLEDGES = Export(
    name="pledges",
    label="Pledges",
    header=(
        "reference",
        "made_at",
        "status",
        "pledger_kind",
        "name",
        "email",
        "organisation",
        "currency",
        "amount_pounds",
        "amount_pence",
        "frequency",
        "instalments",
        "commitment_pounds",
        "commitment_pence",
        "collected_pounds",
        "collected_pence",
        "method",
        "conditional",
        "visibility",
        "po_number",
        "message",
    ),
    query=_pledges_query,
    row=_pledge_row,
)


# --- Payments ----------------------------------------------------------------------------------


def _payments_query(campaign_id: int, first: date | None, last: date | None) -> Select[Any]:
    # A payment is dated by when the money arrived: a bank transfer's date received; otherwise
    # when it succeeded, or (not yet succeeded) when it was attempted.
    moment = func.coalesce(Payment.succeeded_at, Payment.created_at)
    conditions = []
    if first is not None or last is not None:
        conditions.append(
            or_(
                and_(Payment.received_on.is_not(None), *_days_between(Payment.received_on, first, last)),
                and_(Payment.received_on.is_(None), *_between(moment, first, last)),
            )
        )
    return (
        select(
            Payment.id,
            Pledge.id,
            Pledge.name,
            Organisation.name,
            Instalment.sequence,
            _raw(Payment.method),
            _raw(Payment.status),
            Payment.currency,
            Payment.amount_pence,
            Payment.fee_pence,
            Payment.refunded_pence,
            Payment.created_at,
            Payment.succeeded_at,
            Payment.received_on,
            Payment.bank_reference,
            Payment.stripe_payment_intent_id,
            Payment.stripe_charge_id,
            Payment.failure_message,
        )
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .outerjoin(Organisation, Pledge.organisation_id == Organisation.id)
        .outerjoin(Instalment, Payment.instalment_id == Instalment.id)
        .where(Pledge.campaign_id == campaign_id, *conditions)
        .order_by(Payment.id)
    )


def _payment_row(row: Any) -> list[str]:
    (payment_id, pledge_id, name, organisation, sequence, method, status, currency, amount, fee, refunded,
     created_at, succeeded_at, received_on, bank_reference, intent, charge, failure) = row  # fmt: skip
    net = amount - refunded if status == PaymentStatus.SUCCEEDED.value else 0
    received = received_on or (succeeded_at.astimezone(LONDON).date() if succeeded_at else None)
    return [
        str(payment_id),
        reference(pledge_id),
        text(name),
        text(organisation),
        number(sequence),
        method,
        status,
        currency,
        *money(amount),
        *money(fee),
        *money(refunded),
        *money(net),
        when(created_at),
        when(succeeded_at),
        day(received),
        text(bank_reference),
        text(intent),
        text(charge),
        text(failure),
    ]


PAYMENTS = Export(
    name="payments",
    label="Payments",
    header=(
        "payment_id",
        "pledge_reference",
        "pledger_name",
        "organisation",
        "instalment",
        "method",
        "status",
        "currency",
        "amount_pounds",
        "amount_pence",
        "fee_pounds",
        "fee_pence",
        "refunded_pounds",
        "refunded_pence",
        "collected_pounds",
        "collected_pence",
        "created_at",
        "succeeded_at",
        "received_on",
        "bank_reference",
        "stripe_payment_intent",
        "stripe_charge",
        "failure_message",
    ),
    query=_payments_query,
    row=_payment_row,
)


# --- Invoices ----------------------------------------------------------------------------------


def _invoices_query(campaign_id: int, first: date | None, last: date | None) -> Select[Any]:
    instalment = aliased(Instalment)
    return (
        select(
            Invoice.id,
            Invoice.number,
            _raw(Invoice.kind),
            _raw(Invoice.status),
            Pledge.id,
            instalment.sequence,
            Invoice.bill_to_name,
            Invoice.bill_to_email,
            Invoice.po_number,
            Invoice.currency,
            Invoice.amount_pence,
            invoice_paid_pence(),
            Invoice.issued_on,
            Invoice.due_on,
            Invoice.last_reminded_at,
        )
        .join(Pledge, Invoice.pledge_id == Pledge.id)
        .outerjoin(instalment, Invoice.instalment_id == instalment.id)
        .where(Pledge.campaign_id == campaign_id, *_days_between(Invoice.issued_on, first, last))
        .order_by(Invoice.id)
    )


def _invoice_row(row: Any) -> list[str]:
    (invoice_id, invoice_number, kind, status, pledge_id, sequence, bill_to, email, po_number, currency, amount, paid,
     issued_on, due_on, reminded) = row  # fmt: skip
    paid = int(paid or 0)
    return [
        str(invoice_id),
        text(invoice_number or f"PF-{reference(pledge_id)}-{invoice_id}"),
        kind,
        status,
        reference(pledge_id),
        number(sequence),
        text(bill_to),
        text(email),
        text(po_number),
        currency,
        *money(amount),
        *money(paid),
        *money(amount - paid),
        day(issued_on),
        day(due_on),
        when(reminded),
    ]


INVOICES = Export(
    name="invoices",
    label="Invoices",
    header=(
        "invoice_id",
        "number",
        "kind",
        "status",
        "pledge_reference",
        "instalment",
        "bill_to",
        "bill_to_email",
        "po_number",
        "currency",
        "amount_pounds",
        "amount_pence",
        "paid_pounds",
        "paid_pence",
        "balance_pounds",
        "balance_pence",
        "issued_on",
        "due_on",
        "last_reminded_at",
    ),
    query=_invoices_query,
    row=_invoice_row,
)

EXPORTS = {export.name: export for export in (PLEDGES, PAYMENTS, INVOICES)}


# --- Streaming ---------------------------------------------------------------------------------


def rows(export: Export, campaign_id: int, first: date | None = None, last: date | None = None) -> Iterator[list[str]]:
    """The header, then one list of cells per record, read from the database a batch at a time.

    It takes the campaign's id, not the campaign: the body is produced after the view has
    returned, when the request's session (and any object loaded in it) is gone. Only plain values
    cross into the stream; the query runs in the session current while streaming.
    """
    yield list(export.header)
    result = db.session.execute(export.query(campaign_id, first, last).execution_options(yield_per=BATCH))
    try:
        for record in result:
            yield export.row(record)
    finally:
        result.close()


def stream(lines: Iterable[Sequence[str]], chunk: int = CHUNK) -> Iterator[str]:
    """CSV text in chunks of about `chunk` characters (RFC 4180: quoted where needed, CRLF lines)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for line in lines:
        writer.writerow(line)
        if buffer.tell() >= chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def filename(export: Export, campaign: Campaign, first: date | None, last: date | None) -> str:
    parts = [campaign.slug, export.name]
    if first is not None:
        parts.append(f"from-{first.isoformat()}")
    if last is not None:
        parts.append(f"to-{last.isoformat()}")
    return "-".join(parts) + ".csv"
