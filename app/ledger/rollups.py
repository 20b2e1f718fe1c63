"""Running sums of each campaign's ledger by UK day and by kind of pledge, kept in step with the
campaign totals so that the overview, the charts and the impact report never scan pledges.

`ledger.totals`.tracking` measures a pledge's `Share` before and after every change and calls
`apply` with both, under the same pledge and campaign locks and in the same transaction as the
change itself; a new pledge is added by `add_new`. The rows hold sums only, so applying the
difference of one pledge touches at most four rows however many pledges the campaign has.

`from_ledger` recomputes both tables from pledges and payments with aggregate SQL (grouping by
UTC hour, then placing each hour on its UK day), for `flask totals verify` and `rebuild`.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, bindparam, case, delete, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement

from app.extensions import db
from app.models import (
    LIVE_STATUSES,
    CampaignDay,
    CampaignGroup,
    Frequency,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Pledge,
    PledgerKind,
    PledgeStatus,
)

LONDON = ZoneInfo("Europe/London")

GroupKey = tuple[PledgerKind, Frequency, PaymentMethod, PledgeStatus, bool]
GROUP_COLUMNS = ("pledger_kind", "frequency", "method", "status", "is_conditional")
GROUP_SUMS = ("pledge_count", "commitment_pence", "payment_count", "net_pence", "refunded_pence", "fee_pence")
DAY_SUMS = ("pledged_pence", "collected_pence")


def uk_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LONDON).date()


def group_key(pledge: Pledge) -> GroupKey:
    return (
        PledgerKind(pledge.pledger_kind),
        Frequency(pledge.frequency),
        PaymentMethod(pledge.method),
        PledgeStatus(pledge.status),
        bool(pledge.is_conditional),
    )


@dataclass(frozen=True)
class Share:
    """What one pledge puts into its campaign's roll-ups."""

    group: GroupKey
    commitment_pence: int
    payment_count: int
    net_pence: int  # succeeded payments less refunds: the pledge's collected money
    refunded_pence: int
    fee_pence: int
    pledged_day: date  # the UK day the pledge was made
    collected_by_day: Mapping[date, int] = field(default_factory=dict)

    @property
    def pledged_pence(self) -> int:
        """The totals' contribution rule: a live pledge counts its commitment, a cancelled one what it paid."""
        status = self.group[3]
        if status in LIVE_STATUSES:
            return self.commitment_pence
        if status == PledgeStatus.CANCELLED:
            return self.net_pence
        return 0

    @property
    def counted(self) -> int:
        return 1 if self.group[3] in LIVE_STATUSES else 0

    def group_sums(self) -> dict[str, int]:
        return {
            "pledge_count": 1,
            "commitment_pence": self.commitment_pence,
            "payment_count": self.payment_count,
            "net_pence": self.net_pence,
            "refunded_pence": self.refunded_pence,
            "fee_pence": self.fee_pence,
        }


def share(pledge: Pledge) -> Share:
    """Measure one pledge (already flushed) and its succeeded payments: a single small query."""
    rows = (
        db.session.execute(
            select(
                Payment.received_on,
                func.coalesce(Payment.succeeded_at, Payment.created_at),
                Payment.amount_pence,
                Payment.refunded_pence,
                Payment.fee_pence,
            ).where(Payment.pledge_id == pledge.id, Payment.status == PaymentStatus.SUCCEEDED)
        ).all()
        if pledge.id is not None
        else []
    )
    by_day: dict[date, int] = defaultdict(int)
    net = refunded = fees = 0
    for received_on, moment, amount, refunded_pence, fee in rows:
        by_day[received_on if received_on is not None else uk_day(moment)] += amount - refunded_pence
        net += amount - refunded_pence
        refunded += refunded_pence
        fees += fee or 0
    return Share(
        group=group_key(pledge),
        commitment_pence=pledge.commitment_pence,
        payment_count=len(rows),
        net_pence=net,
        refunded_pence=refunded,
        fee_pence=fees,
        pledged_day=uk_day(pledge.created_at),
        collected_by_day=dict(by_day),
    )


def add_new(pledge: Pledge) -> None:
    """Count a pledge just written (the caller holds the campaign's lock)."""
    apply(pledge.campaign_id, None, share(pledge))


def apply(campaign_id: int, before: Share | None, after: Share) -> None:
    """Move the campaign's roll-ups by the difference between two measurements of one pledge."""
    groups: dict[GroupKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(GROUP_SUMS, 0))
    days: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DAY_SUMS, 0))
    for sign, measured in ((-1, before), (1, after)):
        if measured is None:
            continue
        for name, value in measured.group_sums().items():
            groups[measured.group][name] += sign * value
        days[measured.pledged_day]["pledged_pence"] += sign * measured.pledged_pence
        for day, pence in measured.collected_by_day.items():
            days[day]["collected_pence"] += sign * pence
    for key, sums in groups.items():
        if any(sums.values()):
            _add(CampaignGroup, {"campaign_id": campaign_id, **dict(zip(GROUP_COLUMNS, key, strict=True))}, sums)
    for day, sums in days.items():
        if any(sums.values()):
            _add(CampaignDay, {"campaign_id": campaign_id, "day": day}, sums)


def _add(model: type[Any], key: dict[str, Any], sums: dict[str, int]) -> None:
    """INSERT the row, or add to it if it exists: one statement on both databases."""
    from sqlalchemy.dialects import postgresql, sqlite

    postgres = db.session.get_bind().dialect.name == "postgresql"
    table = model.__table__
    statement: Any = (postgresql.insert if postgres else sqlite.insert)(table).values(**key, **sums)
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: table.c[name] + statement.excluded[name] for name in sums},
    )
    db.session.execute(statement)


# --- Reading ---------------------------------------------------------------------------------------


@functools.cache
def _groups_statement() -> Select[Any]:
    columns = (CampaignGroup.__table__.c[name] for name in (*GROUP_COLUMNS, *GROUP_SUMS))
    return select(*columns).where(CampaignGroup.campaign_id == bindparam("campaign_id", type_=Integer))


def groups(campaign_id: int) -> dict[GroupKey, dict[str, int]]:
    rows = db.session.execute(_groups_statement(), {"campaign_id": campaign_id}).all()
    found: dict[GroupKey, dict[str, int]] = {}
    for row in rows:
        key = (PledgerKind(row[0]), Frequency(row[1]), PaymentMethod(row[2]), PledgeStatus(row[3]), bool(row[4]))
        sums = {name: int(value or 0) for name, value in zip(GROUP_SUMS, row[5:], strict=True)}
        if any(sums.values()):
            found[key] = sums
    return found


@functools.cache
def _days_statement() -> Any:
    return select(CampaignDay.day, CampaignDay.pledged_pence, CampaignDay.collected_pence).where(
        CampaignDay.campaign_id == bindparam("campaign_id", type_=Integer)
    )


def days(campaign_id: int) -> dict[date, dict[str, int]]:
    rows = db.session.execute(_days_statement(), {"campaign_id": campaign_id}).all()
    return {
        day: {"pledged_pence": int(pledged), "collected_pence": int(collected)}
        for day, pledged, collected in rows
        if pledged or collected
    }


# --- From the ledger -----------------------------------------------------------------------------


def _hour_bucket(column: Any) -> ColumnElement[Any]:
    """The UTC hour a stored time falls in, as SQL text "YYYY-MM-DD HH".

    The UK is always a whole number of hours from UTC, so grouping by UTC hour in SQL and then
    turning each hour into its UK date in Python puts every row on the right UK day, on both
    databases, with at most 24 groups a day. (The formats are inlined, not bound, so that the
    SELECT and GROUP BY expressions are the same text on PostgreSQL.)
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, literal_column("'YYYY-MM-DD HH24'"))
    return func.strftime(literal_column("'%Y-%m-%d %H'"), column)


def _bucket_day(bucket: str) -> date:
    return uk_day(datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC))


def from_ledger(campaign_id: int) -> tuple[dict[GroupKey, dict[str, int]], dict[date, dict[str, int]]]:
    """Both roll-ups recomputed from pledges and payments alone, by aggregate SQL."""
    group = (Pledge.pledger_kind, Pledge.frequency, Pledge.method, Pledge.status, Pledge.is_conditional)
    found: dict[GroupKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(GROUP_SUMS, 0))

    def key_of(row: Any) -> GroupKey:
        return (PledgerKind(row[0]), Frequency(row[1]), PaymentMethod(row[2]), PledgeStatus(row[3]), bool(row[4]))

    row: Any
    for row in db.session.execute(
        select(*group, func.count(), func.sum(Pledge.commitment_pence))
        .where(Pledge.campaign_id == campaign_id)
        .group_by(*group)
    ):
        found[key_of(row)]["pledge_count"] += int(row[5])
        found[key_of(row)]["commitment_pence"] += int(row[6] or 0)
    net = Payment.amount_pence - Payment.refunded_pence
    succeeded = (Pledge.campaign_id == campaign_id, Payment.status == PaymentStatus.SUCCEEDED)
    for row in db.session.execute(
        select(*group, func.count(), func.sum(net), func.sum(Payment.refunded_pence), func.sum(Payment.fee_pence))
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .where(*succeeded)
        .group_by(*group)
    ):
        sums = found[key_of(row)]
        sums["payment_count"] += int(row[5])
        sums["net_pence"] += int(row[6] or 0)
        sums["refunded_pence"] += int(row[7] or 0)
        sums["fee_pence"] += int(row[8] or 0)

    by_day: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DAY_SUMS, 0))
    made = _hour_bucket(Pledge.created_at)
    for bucket, pence in db.session.execute(
        select(made, func.sum(Pledge.commitment_pence))
        .where(Pledge.campaign_id == campaign_id, Pledge.status.in_(LIVE_STATUSES))
        .group_by(made)
    ):
        by_day[_bucket_day(bucket)]["pledged_pence"] += int(pence or 0)
    # Cancelled pledges count what they paid, on the day the pledge was made.
    for bucket, pence in db.session.execute(
        select(made, func.sum(net))
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .where(*succeeded, Pledge.status == PledgeStatus.CANCELLED)
        .group_by(made)
    ):
        by_day[_bucket_day(bucket)]["pledged_pence"] += int(pence or 0)
    # A bank transfer is dated the day it was received; a card payment the moment it succeeded.
    card_hour = case(
        (Payment.received_on.is_(None), _hour_bucket(func.coalesce(Payment.succeeded_at, Payment.created_at)))
    )
    for received_on, bucket, pence in db.session.execute(
        select(Payment.received_on, card_hour, func.sum(net))
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .where(*succeeded)
        .group_by(Payment.received_on, card_hour)
    ):
        by_day[received_on if received_on is not None else _bucket_day(bucket)]["collected_pence"] += int(pence or 0)
    return _without_zeros(found), _without_zeros(by_day)


def _without_zeros(rows: Mapping[Any, dict[str, int]]) -> dict[Any, dict[str, int]]:
    return {key: dict(sums) for key, sums in rows.items() if any(sums.values())}


@dataclass(frozen=True)
class Difference:
    table: str
    key: str
    field: str
    stored: int
    ledger: int


def differences(campaign_id: int) -> list[Difference]:
    """Every way the stored roll-ups differ from the ledger (an empty list when they agree)."""
    found: list[Difference] = []
    ledger_groups, ledger_days = from_ledger(campaign_id)
    checks: tuple[tuple[str, Mapping[Any, dict[str, int]], Mapping[Any, dict[str, int]], tuple[str, ...]], ...] = (
        ("campaign_group", groups(campaign_id), ledger_groups, GROUP_SUMS),
        ("campaign_day", days(campaign_id), ledger_days, DAY_SUMS),
    )
    for table, stored_rows, ledger_rows, names in checks:
        for key in sorted(set(stored_rows) | set(ledger_rows), key=str):
            for name in names:
                stored_value = stored_rows.get(key, {}).get(name, 0)
                ledger_value = ledger_rows.get(key, {}).get(name, 0)
                if stored_value != ledger_value:
                    found.append(Difference(table, _describe(key), name, stored_value, ledger_value))
    return found


def _describe(key: Any) -> str:
    if isinstance(key, date):
        return key.isoformat()
    return "/".join(str(part.value if hasattr(part, "value") else part) for part in key)


def rebuild(campaign_ids: Iterable[int]) -> None:
    """Replace the roll-ups of these campaigns with sums from the ledger (the caller commits).

    For data written without the services: a bulk load, or history edited by hand.
    """
    for campaign_id in campaign_ids:
        ledger_groups, ledger_days = from_ledger(campaign_id)
        db.session.execute(delete(CampaignGroup).where(CampaignGroup.campaign_id == campaign_id))
        db.session.execute(delete(CampaignDay).where(CampaignDay.campaign_id == campaign_id))
        if ledger_groups:
            db.session.execute(
                CampaignGroup.__table__.insert(),
                [
                    {"campaign_id": campaign_id, **dict(zip(GROUP_COLUMNS, key, strict=True)), **sums}
                    for key, sums in ledger_groups.items()
                ],
            )
        if ledger_days:
            db.session.execute(
                CampaignDay.__table__.insert(),
                [{"campaign_id": campaign_id, "day": day, **sums} for day, sums in ledger_days.items()],
            )
