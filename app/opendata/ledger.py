"""A campaign's public ledger: every contribution counted in its figures, one line each.

Three kinds of line, read by one query (so the whole file comes from one snapshot, and its
totals equal the campaign's stored `pledged_pence` and `collected_pence` to the penny):

- `pledge`: a live pledge (committed, active or fulfilled), for what it counts toward the
  campaign (`commitment_pence`); it has collected nothing by itself.
- `payment`: money received, for its full amount collected. It is also *pledged* where its
  pledge was cancelled, because money already paid on a cancelled pledge still counts (the
  contribution rule in `ledger.totals`).
- `refund`: money given back, as a negative line against the payment it reverses.

Organisations (councils and sponsors) are named: their money is public money. An individual is
named only if they chose to be shown by name; otherwise the line reads "Anonymous supporter".
Lines come in date order and are streamed: a campaign with a million pledges costs what one
with a thousand does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, Select, String, case, func, literal, select, type_coerce, union_all

from app.extensions import db
from app.models import (
    LIVE_STATUSES,
    Campaign,
    Organisation,
    Payment,
    PaymentStatus,
    Pledge,
    PledgerKind,
    PledgeStatus,
    Visibility,
)
from app.models.payment_event import Outcome, PaymentEvent
from app.treasury import exports

ANONYMOUS = "Anonymous supporter"
BATCH = 1000
KINDS = ("pledge", "payment", "refund")  # also the order of lines that share a moment

HEADER = (
    "date",
    "line",
    "pledge_reference",
    "pledger_kind",
    "pledger",
    "frequency",
    "pledge_status",
    "pledged_pounds",
    "pledged_pence",
    "collected_pounds",
    "collected_pence",
)


@dataclass(frozen=True)
class Line:
    moment: datetime
    kind: str  # one of KINDS
    pledge_id: int
    pledger_kind: str
    pledger: str
    frequency: str
    pledge_status: str
    pledged_pence: int
    collected_pence: int


def _raw(column: Any) -> Any:
    return type_coerce(column, String)


def _pledger() -> Any:
    """The name a line shows: the organisation's, the individual's if they chose to be named,
    otherwise "Anonymous supporter"."""
    return case(
        (Pledge.pledger_kind != PledgerKind.INDIVIDUAL, func.coalesce(Organisation.name, Pledge.name)),
        (Pledge.visibility == Visibility.PUBLIC, Pledge.name),
        else_=literal(ANONYMOUS),
    )


def _common() -> list[Any]:
    return [
        Pledge.id.label("pledge_id"),
        _raw(Pledge.pledger_kind).label("pledger_kind"),
        _pledger().label("pledger"),
        _raw(Pledge.frequency).label("frequency"),
        _raw(Pledge.status).label("pledge_status"),
    ]


def refund_moment() -> Any:
    """When a payment's money went back: its latest refund event (a payment refunded in parts
    shows once, for its whole refund, on the day of the last part), else its last change."""
    refunded_at = (
        select(func.max(PaymentEvent.created_at))
        .where(PaymentEvent.payment_id == Payment.id, PaymentEvent.outcome == Outcome.REFUNDED)
        .correlate(Payment)
        .scalar_subquery()
    )
    return func.coalesce(refunded_at, Payment.updated_at)


def _query(campaign_id: int) -> Select[Any]:
    cancelled = Pledge.status == PledgeStatus.CANCELLED
    net_if_cancelled = case((cancelled, Payment.amount_pence), else_=0)
    refund_if_cancelled = case((cancelled, -Payment.refunded_pence), else_=0)
    pledges = (
        select(
            Pledge.created_at.label("moment"),
            literal(0, Integer).label("kind"),
            Pledge.id.label("line_id"),
            *_common(),
            Pledge.commitment_pence.label("pledged"),
            literal(0, Integer).label("collected"),
        )
        .outerjoin(Organisation, Pledge.organisation_id == Organisation.id)
        .where(Pledge.campaign_id == campaign_id, Pledge.status.in_(LIVE_STATUSES))
    )
    paid = Payment.status == PaymentStatus.SUCCEEDED
    payments = (
        select(
            func.coalesce(Payment.succeeded_at, Payment.created_at).label("moment"),
            literal(1, Integer).label("kind"),
            Payment.id.label("line_id"),
            *_common(),
            net_if_cancelled.label("pledged"),
            Payment.amount_pence.label("collected"),
        )
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .outerjoin(Organisation, Pledge.organisation_id == Organisation.id)
        .where(Pledge.campaign_id == campaign_id, paid)
    )
    refunds = (
        select(
            refund_moment().label("moment"),
            literal(2, Integer).label("kind"),
            Payment.id.label("line_id"),
            *_common(),
            refund_if_cancelled.label("pledged"),
            (-Payment.refunded_pence).label("collected"),
        )
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .outerjoin(Organisation, Pledge.organisation_id == Organisation.id)
        .where(Pledge.campaign_id == campaign_id, paid, Payment.refunded_pence > 0)
    )
    every = union_all(pledges, payments, refunds).subquery()
    return select(every).order_by(every.c.moment, every.c.kind, every.c.line_id)


def lines(campaign_id: int) -> Iterator[Line]:
    """The campaign's ledger, oldest first, read a batch at a time."""
    result = db.session.execute(_query(campaign_id).execution_options(yield_per=BATCH))
    try:
        for row in result:
            yield Line(
                moment=row.moment,
                kind=KINDS[row.kind],
                pledge_id=row.pledge_id,
                pledger_kind=row.pledger_kind,
                pledger=row.pledger,
                frequency=row.frequency,
                pledge_status=row.pledge_status,
                pledged_pence=int(row.pledged),
                collected_pence=int(row.collected),
            )
    finally:
        result.close()


def _moment(value: datetime) -> datetime:
    # SQLite gives the UNION's column back as naive UTC text turned datetime; PostgreSQL, aware.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _csv_row(line: Line) -> list[str]:
    return [
        exports.when(_moment(line.moment)),
        line.kind,
        exports.reference(line.pledge_id),
        line.pledger_kind,
        exports.text(line.pledger),
        line.frequency,
        line.pledge_status,
        exports.pounds(line.pledged_pence),
        str(line.pledged_pence),
        exports.pounds(line.collected_pence),
        str(line.collected_pence),
    ]


def csv_body(campaign_id: int) -> Iterator[str]:
    """The ledger as CSV text, in chunks (numbers stay numbers; names are formula-safe)."""

    def rows() -> Iterator[list[str]]:
        yield list(HEADER)
        for line in lines(campaign_id):
            yield _csv_row(line)

    return exports.stream(rows())


def json_body(campaign: Campaign) -> Iterator[str]:
    """The ledger as one JSON document, written as it is read; its totals come last, summed from
    the very lines above them."""
    slug, title, currency, campaign_id = campaign.slug, campaign.title, campaign.currency, campaign.id
    yield json.dumps({"campaign": {"slug": slug, "title": title}, "currency": currency})[:-1] + ', "lines": ['
    pledged = collected = count = 0
    for line in lines(campaign_id):
        item = {
            "date": exports.when(_moment(line.moment)),
            "line": line.kind,
            "pledge_reference": exports.reference(line.pledge_id),
            "pledger_kind": line.pledger_kind,
            "pledger": line.pledger,
            "frequency": line.frequency,
            "pledge_status": line.pledge_status,
            "pledged_pence": line.pledged_pence,
            "collected_pence": line.collected_pence,
        }
        yield ("," if count else "") + json.dumps(item)
        pledged += line.pledged_pence
        collected += line.collected_pence
        count += 1
    totals = {"line_count": count, "pledged_pence": pledged, "collected_pence": collected}
    yield '], "totals": ' + json.dumps(totals) + "}"
