"""Campaign totals, kept current in the same transaction as the change that moves them.

Every change to a pledge or a payment goes through `tracking(pledge)`:

    with totals.tracking(pledge):
        pledge.status = PledgeStatus.COMMITTED

It locks the campaign's row first (so concurrent changes queue up rather than overwrite each
other), measures what the pledge contributes before and after the change, and applies the
difference to the campaign with a single UPDATE. `verify()` recomputes every total from the
ledger with independent SQL and reports any difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from sqlalchemy import and_, case, distinct, func, select, update

from app.extensions import db
from app.models import LIVE_STATUSES, Campaign, Payment, PaymentStatus, Pledge, PledgerKind, PledgeStatus

TOTAL_FIELDS = ("pledged_pence", "collected_pence", "matched_pence", "pledge_count", "council_count")


@dataclass(frozen=True)
class Contribution:
    """What one pledge adds to its campaign's totals."""

    pledged_pence: int = 0
    collected_pence: int = 0
    counted: int = 0  # 1 if it counts as a live pledge

    @property
    def is_zero(self) -> bool:
        return not (self.pledged_pence or self.collected_pence or self.counted)


def _collected_for(pledge: Pledge) -> int:
    if pledge.id is None:
        return 0
    amount = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount_pence - Payment.refunded_pence), 0)).where(
            Payment.pledge_id == pledge.id, Payment.status == PaymentStatus.SUCCEEDED
        )
    )
    return int(amount or 0)


def contribution(pledge: Pledge) -> Contribution:
    """A live pledge counts its whole commitment; a cancelled one what it actually paid."""
    collected = _collected_for(pledge)
    if pledge.status in LIVE_STATUSES:
        return Contribution(pledge.commitment_pence, collected, 1)
    if pledge.status == PledgeStatus.CANCELLED:
        return Contribution(collected, collected, 0)
    return Contribution(0, collected, 0)


def lock_campaign(campaign_id: int) -> None:
    """Take the campaign's row lock for the rest of this transaction.

    On PostgreSQL this UPDATE holds the row until commit, so a second writer waits and then sees
    the first one's rows; SQLite allows one writer at a time anyway.
    """
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(totals_version=Campaign.totals_version + 1)
        .execution_options(synchronize_session=False)
    )


@contextmanager
def tracking(pledge: Pledge) -> Iterator[None]:
    """Apply whatever the block changes about `pledge` (or its payments) to the campaign totals."""
    campaign_id = pledge.campaign_id if pledge.campaign_id is not None else pledge.campaign.id
    lock_campaign(campaign_id)
    before = contribution(pledge) if pledge.id is not None else Contribution()
    yield
    db.session.flush()
    after = contribution(pledge)
    apply(campaign_id, before, after, council=pledge.pledger_kind == PledgerKind.COUNCIL)


def apply(campaign_id: int, before: Contribution, after: Contribution, *, council: bool) -> None:
    values: dict[str, object] = {
        "pledged_pence": Campaign.pledged_pence + (after.pledged_pence - before.pledged_pence),
        "collected_pence": Campaign.collected_pence + (after.collected_pence - before.collected_pence),
        "pledge_count": Campaign.pledge_count + (after.counted - before.counted),
    }
    if council and after.counted != before.counted:
        values["council_count"] = _council_count_query(campaign_id)
    db.session.execute(
        update(Campaign).where(Campaign.id == campaign_id).values(**values).execution_options(synchronize_session=False)
    )
    _expire(campaign_id)


def _council_count_query(campaign_id: int):  # type: ignore[no-untyped-def]
    return (
        select(func.count(distinct(Pledge.organisation_id)))
        .where(
            Pledge.campaign_id == campaign_id,
            Pledge.pledger_kind == PledgerKind.COUNCIL,
            Pledge.status.in_(LIVE_STATUSES),
        )
        .scalar_subquery()
    )


def _expire(campaign_id: int) -> None:
    """The UPDATE ran in SQL; make a loaded Campaign re-read its totals on next access.

    Looked up by key, not by scanning the identity map: a batch job that changes thousands of
    pledges in one session must not pay for every object it has loaded on every change.
    """
    campaign = db.session.identity_map.get(db.session.identity_key(Campaign, campaign_id))
    if campaign is not None:
        db.session.expire(campaign, [*TOTAL_FIELDS, "totals_version"])


@dataclass(frozen=True)
class Totals:
    pledged_pence: int
    collected_pence: int
    matched_pence: int
    pledge_count: int
    council_count: int


def from_ledger(campaign_id: int) -> Totals:
    """Recompute a campaign's totals from pledges and payments alone, by independent SQL."""
    live = Pledge.status.in_(LIVE_STATUSES)
    pledges = db.session.execute(
        select(
            func.coalesce(func.sum(case((live, Pledge.commitment_pence), else_=0)), 0),
            func.count(case((live, Pledge.id))),
            func.count(
                distinct(case((and_(live, Pledge.pledger_kind == PledgerKind.COUNCIL), Pledge.organisation_id)))
            ),
        ).where(Pledge.campaign_id == campaign_id)
    ).one()
    paid = Payment.amount_pence - Payment.refunded_pence
    payments = db.session.execute(
        select(
            func.coalesce(func.sum(paid), 0),
            func.coalesce(func.sum(case((Pledge.status == PledgeStatus.CANCELLED, paid), else_=0)), 0),
        )
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .where(Pledge.campaign_id == campaign_id, Payment.status == PaymentStatus.SUCCEEDED)
    ).one()
    return Totals(
        pledged_pence=int(pledges[0]) + int(payments[1]),
        collected_pence=int(payments[0]),
        # No match offers exist in the ledger yet, so nothing can have been matched.
        matched_pence=0,
        pledge_count=int(pledges[1]),
        council_count=int(pledges[2]),
    )


def stored(campaign: Campaign) -> Totals:
    return Totals(**{field: getattr(campaign, field) for field in TOTAL_FIELDS})


@dataclass(frozen=True)
class Difference:
    campaign_slug: str
    field: str
    stored: int
    ledger: int


def verify() -> list[Difference]:
    """Compare every campaign's stored totals with the ledger; an empty list means they agree.

    Run on its own (as `flask totals verify` is), it reads the campaigns and the whole ledger from
    one snapshot: REPEATABLE READ on PostgreSQL (a SQLite read transaction is one already). At
    READ COMMITTED a pledge committed between reading a campaign's row and summing its ledger
    would be reported as a difference that is not there. Called inside a transaction that is
    already open, it reads within that transaction, the caller's own changes included.
    """
    session = db.session()
    own_transaction = not session.in_transaction()
    if own_transaction and db.engine.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        differences: list[Difference] = []
        campaigns = session.scalars(
            select(Campaign).order_by(Campaign.id).execution_options(populate_existing=True)
        ).all()
        for campaign in campaigns:
            expected = asdict(from_ledger(campaign.id))
            actual = asdict(stored(campaign))
            for field in TOTAL_FIELDS:
                if expected[field] != actual[field]:
                    differences.append(Difference(campaign.slug, field, actual[field], expected[field]))
        return differences
    finally:
        if own_transaction:
            session.rollback()  # only reads happened; end the snapshot
