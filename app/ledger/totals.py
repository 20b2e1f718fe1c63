"""Campaign totals, kept current in the same transaction as the change that moves them.

Every change to a pledge or a payment goes through `tracking(pledge)`:

    with totals.tracking(pledge):
        pledge.status = PledgeStatus.COMMITTED

It locks the campaign's row first (so concurrent changes queue up rather than overwrite each
other), measures what the pledge contributes before and after the change, and applies the
difference to the campaign with a single UPDATE. `verify()` recomputes every total from the
ledger with independent SQL and reports any difference.

Pledged money is also kept split by who pledged it (`pledged_council_pence`,
`pledged_individual_pence`; sponsors' own pledges count in neither), by the same contribution
rule. Match offers are worked out from that split, so `matched_pence` is recomputed in the same
UPDATE whenever the split moves, from the campaign's active offers alone (a handful of rows; the
pledges are never scanned), and by `refresh_matched` whenever an offer is made, withdrawn or
released:

    matched = Σ over active offers of min(cap, eligible pledged × ratio_bp // 10000)

in whole pence, rounded down, where "eligible pledged" is the councils', the individuals' or both
splits, as the offer says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, distinct, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from app.extensions import db
from app.ledger import rollups
from app.models import (
    LIVE_STATUSES,
    Campaign,
    MatchEligibility,
    MatchOffer,
    MatchStatus,
    Payment,
    PaymentStatus,
    Pledge,
    PledgerKind,
    PledgeStatus,
)

TOTAL_FIELDS = (
    "pledged_pence",
    "collected_pence",
    "matched_pence",
    "pledge_count",
    "council_count",
    "pledged_council_pence",
    "pledged_individual_pence",
)
# Which split of the pledged total a pledger's money counts in (sponsors' own pledges: neither).
KIND_FIELDS = {PledgerKind.COUNCIL: "pledged_council_pence", PledgerKind.INDIVIDUAL: "pledged_individual_pence"}
BP = 10_000


@dataclass(frozen=True)
class Contribution:
    """What one pledge adds to its campaign's totals."""

    pledged_pence: int = 0
    collected_pence: int = 0
    counted: int = 0  # 1 if it counts as a live pledge

    @property
    def is_zero(self) -> bool:
        return not (self.pledged_pence or self.collected_pence or self.counted)


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


def lock_pledge(pledge: Pledge) -> None:
    """Lock the pledge's row and read it afresh (after writing out our own pending changes).

    Its status must be the one other transactions committed, not the one this session happened to
    read earlier, or two changes to one pledge at once would both count (PostgreSQL; SQLite has
    one writer at a time). Locks are always taken pledge first, then campaign.
    """
    if pledge.id is not None:
        db.session.flush()
        db.session.refresh(pledge, with_for_update=True)


@contextmanager
def tracking(pledge: Pledge) -> Iterator[None]:
    """Apply whatever the block changes about `pledge` (or its payments) to the campaign totals and
    its roll-ups (`ledger.rollups`)."""
    campaign_id = pledge.campaign_id if pledge.campaign_id is not None else pledge.campaign.id
    lock_pledge(pledge)
    lock_campaign(campaign_id)
    before = rollups.share(pledge) if pledge.id is not None else None
    yield
    db.session.flush()
    after = rollups.share(pledge)
    apply(campaign_id, _contribution(before), _contribution(after), kind=pledge.pledger_kind)
    rollups.apply(campaign_id, before, after)


def _contribution(measured: rollups.Share | None) -> Contribution:
    if measured is None:
        return Contribution()
    return Contribution(measured.pledged_pence, measured.net_pence, measured.counted)


def apply(campaign_id: int, before: Contribution, after: Contribution, *, kind: PledgerKind) -> None:
    """Add the difference a change made to one pledge of this `kind` to its campaign, in one UPDATE."""
    pledged = after.pledged_pence - before.pledged_pence
    values: dict[str, object] = {
        "pledged_pence": Campaign.pledged_pence + pledged,
        "collected_pence": Campaign.collected_pence + (after.collected_pence - before.collected_pence),
        "pledge_count": Campaign.pledge_count + (after.counted - before.counted),
    }
    if kind == PledgerKind.COUNCIL and after.counted != before.counted:
        values["council_count"] = council_count_query(campaign_id)
    split = KIND_FIELDS.get(kind)
    if split is not None and pledged:
        values[split] = getattr(Campaign, split) + pledged
        # SET expressions read the row as it was, so the offers are matched against the new split.
        council = Campaign.pledged_council_pence + (pledged if kind == PledgerKind.COUNCIL else 0)
        individual = Campaign.pledged_individual_pence + (pledged if kind == PledgerKind.INDIVIDUAL else 0)
        values["matched_pence"] = _matched_query(council, individual)
    db.session.execute(
        update(Campaign).where(Campaign.id == campaign_id).values(**values).execution_options(synchronize_session=False)
    )
    _expire(campaign_id)


def refresh_matched(campaign_id: int) -> None:
    """Recompute `matched_pence` after an offer was made, withdrawn or released (caller holds the lock)."""
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(
            matched_pence=_matched_query(Campaign.pledged_council_pence, Campaign.pledged_individual_pence),
            totals_version=Campaign.totals_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    _expire(campaign_id)


def _matched_query(council: Any, individual: Any):  # type: ignore[no-untyped-def]
    """Σ min(cap, eligible × ratio_bp // 10000) over the campaign's active offers, in SQL.

    Correlated to the campaign row being updated. BIGINT because pledged × ratio passes 2³¹.
    """
    eligible = case(
        (MatchOffer.eligibility == MatchEligibility.COUNCILS, cast(council, BigInteger)),
        (MatchOffer.eligibility == MatchEligibility.INDIVIDUALS, cast(individual, BigInteger)),
        else_=cast(council, BigInteger) + cast(individual, BigInteger),
    )
    earned = eligible * MatchOffer.ratio_bp // BP
    matched = case((earned < MatchOffer.cap_pence, earned), else_=MatchOffer.cap_pence)
    return (
        select(cast(func.coalesce(func.sum(matched), 0), BigInteger))
        .where(MatchOffer.campaign_id == Campaign.id, MatchOffer.status == MatchStatus.ACTIVE)
        .correlate(Campaign)
        .scalar_subquery()
    )


def eligible_pence(eligibility: MatchEligibility | str, council_pence: int, individual_pence: int) -> int:
    """The pledged money an offer of this eligibility matches."""
    eligibility = MatchEligibility(eligibility)
    if eligibility == MatchEligibility.COUNCILS:
        return council_pence
    if eligibility == MatchEligibility.INDIVIDUALS:
        return individual_pence
    return council_pence + individual_pence


def matched_by_rule(ratio_bp: int, cap_pence: int, eligible: int) -> int:
    """What one offer has matched: min(cap, eligible × ratio_bp // 10000), in whole pence, rounded
    down (never below nothing)."""
    return max(0, min(cap_pence, eligible * ratio_bp // BP))


def council_count_query(campaign_id: Any) -> Any:
    """How many councils have a live pledge in the campaign (an id or a bound parameter), as a
    scalar subquery; read from the councils' pledges alone by their index."""
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
    pledged_council_pence: int
    pledged_individual_pence: int


def from_ledger(campaign_id: int) -> Totals:
    """Recompute a campaign's totals from pledges, payments and match offers alone, by independent
    SQL (and the offers' arithmetic in Python), never from the stored totals."""
    live = Pledge.status.in_(LIVE_STATUSES)
    cancelled = Pledge.status == PledgeStatus.CANCELLED

    def live_commitment(*kind: PledgerKind) -> ColumnElement[int]:
        counted = and_(live, Pledge.pledger_kind.in_(kind)) if kind else live
        return func.coalesce(func.sum(case((counted, Pledge.commitment_pence), else_=0)), 0)

    pledges = db.session.execute(
        select(
            live_commitment(),
            func.count(case((live, Pledge.id))),
            func.count(
                distinct(case((and_(live, Pledge.pledger_kind == PledgerKind.COUNCIL), Pledge.organisation_id)))
            ),
            live_commitment(PledgerKind.COUNCIL),
            live_commitment(PledgerKind.INDIVIDUAL),
        ).where(Pledge.campaign_id == campaign_id)
    ).one()
    paid = Payment.amount_pence - Payment.refunded_pence

    def paid_while_cancelled(*kind: PledgerKind) -> ColumnElement[int]:
        counted = and_(cancelled, Pledge.pledger_kind.in_(kind)) if kind else cancelled
        return func.coalesce(func.sum(case((counted, paid), else_=0)), 0)

    payments = db.session.execute(
        select(
            func.coalesce(func.sum(paid), 0),
            paid_while_cancelled(),
            paid_while_cancelled(PledgerKind.COUNCIL),
            paid_while_cancelled(PledgerKind.INDIVIDUAL),
        )
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .where(Pledge.campaign_id == campaign_id, Payment.status == PaymentStatus.SUCCEEDED)
    ).one()
    council = int(pledges[3]) + int(payments[2])
    individual = int(pledges[4]) + int(payments[3])
    offers = db.session.execute(
        select(MatchOffer.ratio_bp, MatchOffer.cap_pence, MatchOffer.eligibility).where(
            MatchOffer.campaign_id == campaign_id, MatchOffer.status == MatchStatus.ACTIVE
        )
    ).all()
    return Totals(
        pledged_pence=int(pledges[0]) + int(payments[1]),
        collected_pence=int(payments[0]),
        matched_pence=sum(
            matched_by_rule(ratio_bp, cap, eligible_pence(eligibility, council, individual))
            for ratio_bp, cap, eligibility in offers
        ),
        pledge_count=int(pledges[1]),
        council_count=int(pledges[2]),
        pledged_council_pence=council,
        pledged_individual_pence=individual,
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
    """Compare every campaign's stored totals and roll-ups with the ledger; an empty list means
    they agree.

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
            differences.extend(
                Difference(campaign.slug, f"{d.table} {d.key} {d.field}", d.stored, d.ledger)
                for d in rollups.differences(campaign.id)
            )
        return differences
    finally:
        if own_transaction:
            session.rollback()  # only reads happened; end the snapshot
