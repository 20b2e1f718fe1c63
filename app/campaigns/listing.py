"""Reading campaigns for the public pages and the API. Costs do not grow with the pledge count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, literal_column, select
from sqlalchemy.orm import joinedload

from app import database
from app.extensions import db
from app.models import (
    LIVE_STATUSES,
    PUBLIC_STATUSES,
    Campaign,
    CampaignStatus,
    CampaignUpdate,
    ImpactEntry,
    ImpactStory,
    MatchOffer,
    MatchStatus,
    Organisation,
    Pledge,
    PledgerKind,
    Visibility,
    utcnow,
)


def public_campaigns() -> list[Campaign]:
    return list(
        db.session.scalars(
            select(Campaign)
            .where(Campaign.status.in_(PUBLIC_STATUSES))
            .order_by((Campaign.status == CampaignStatus.LIVE).desc(), Campaign.closes_at)
        )
    )


def get_public(slug: str) -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.slug == slug, Campaign.status.in_(PUBLIC_STATUSES)))


@dataclass(frozen=True)
class Supporter:
    name: str  # "A supporter" where the pledger asked not to be named
    amount_pence: int | None  # None where the pledger asked for the amount to be hidden too
    currency: str
    frequency_label: str
    message: str | None
    created_at: datetime
    is_council: bool


def recent_supporters(campaign: Campaign, limit: int = 8) -> list[Supporter]:
    """The newest live pledges, each shown only as its pledger chose."""
    rows = db.session.scalars(
        select(Pledge)
        .options(joinedload(Pledge.organisation))
        .where(Pledge.campaign_id == campaign.id, Pledge.status.in_(LIVE_STATUSES))
        .order_by(Pledge.created_at.desc(), Pledge.id.desc())
        .limit(limit)
    )
    supporters = []
    for pledge in rows:
        hidden = pledge.visibility == Visibility.ANONYMOUS
        supporters.append(
            Supporter(
                name=pledge.public_name or "A supporter",
                amount_pence=None if hidden else pledge.amount_pence,
                currency=pledge.currency,
                frequency_label=pledge.frequency.label,
                message=pledge.message if pledge.visibility == Visibility.PUBLIC else None,
                created_at=pledge.created_at,
                is_council=pledge.pledger_kind == PledgerKind.COUNCIL,
            )
        )
    return supporters


def wall_of_councils(campaign: Campaign) -> list[Organisation]:
    """Councils with a live pledge that agreed to appear on the wall, in name order."""
    council_ids = (
        select(Pledge.organisation_id)
        .where(
            Pledge.campaign_id == campaign.id,
            Pledge.pledger_kind == PledgerKind.COUNCIL,
            Pledge.status.in_(LIVE_STATUSES),
            Pledge.show_on_wall.is_(True),
        )
        .distinct()
    )
    return list(
        db.session.scalars(select(Organisation).where(Organisation.id.in_(council_ids)).order_by(Organisation.name))
    )


def days_left(campaign: Campaign | Stamp, now: datetime | None = None) -> int:
    """Whole days until the campaign closes, counting a part day as one; 0 once it has closed."""
    remaining = campaign.closes_at - (now or utcnow())
    if remaining.total_seconds() <= 0:
        return 0
    return remaining.days + (1 if remaining.seconds or remaining.microseconds else 0)


def councils_needed(campaign: Campaign) -> int:
    return max(0, campaign.min_councils - campaign.council_count)


def as_json(campaign: Campaign) -> dict[str, Any]:
    """The stable public JSON shape of a campaign (see DESIGN.md, "Interfaces")."""
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "summary": campaign.summary,
        "status": campaign.status.value,
        "funding_model": campaign.funding_model.value,
        "currency": campaign.currency,
        "target_pence": campaign.target_pence,
        "pledged_pence": campaign.pledged_pence,
        "collected_pence": campaign.collected_pence,
        "matched_pence": campaign.matched_pence,
        "pledge_count": campaign.pledge_count,
        "council_count": campaign.council_count,
        "min_councils": campaign.min_councils,
        "opens_at": campaign.opens_at.isoformat(),
        "closes_at": campaign.closes_at.isoformat(),
        "funding_period": {
            "starts_on": campaign.funding_starts_on.isoformat(),
            "ends_on": campaign.funding_ends_on.isoformat(),
        },
        "totals_version": campaign.totals_version,
    }


# --- Has anything the public page or the API shows changed? -----------------------------------


@dataclass(frozen=True)
class Stamp:
    """What decides a public campaign's page and API, read in one small query.

    `row` changes with anything in the campaign's own row, so it versions the API: the totals and
    counts move `totals_version` (every pledge, payment, refund, release, offer change and status
    change takes the campaign's lock, which adds one), edits through the ORM move `updated_at`,
    and `created_at` tells a campaign from an earlier one that had the same id. `content` adds
    what else the page shows: impact entries, stories, updates and match offers (rows only ever
    added, so the newest id and the count say whether there is a new one; offers also change
    status). The recent-supporters list and the wall of councils are made of pledges, which
    never change without the lock. The time-dependent parts (days left, open yet, closed yet)
    come from `opens_at` and `closes_at` and the moment of the request.
    """

    campaign_id: int
    status: CampaignStatus
    opens_at: datetime
    closes_at: datetime
    row: tuple[Any, ...]
    content: tuple[Any, ...]

    @property
    def totals_version(self) -> int:
        return int(self.row[3])


def _newest_and_count(model: Any, *where: Any) -> list[Any]:
    conditions = (model.campaign_id == Campaign.id, *where)
    return [
        select(func.max(model.id)).where(*conditions).scalar_subquery(),
        select(func.count()).select_from(model).where(*conditions).scalar_subquery(),
    ]


def _offers_in(status: MatchStatus) -> Any:
    # A constant in the SQL, not a parameter: the fast read binds the slug alone.
    in_status = MatchOffer.status == literal_column(f"'{status.value}'")
    return select(func.count()).select_from(MatchOffer).where(MatchOffer.campaign_id == Campaign.id, in_status)


STAMP_QUERY: Select[Any] = select(
    Campaign.id,
    Campaign.status,
    Campaign.opens_at,
    Campaign.closes_at,
    Campaign.created_at,
    Campaign.totals_version,
    Campaign.updated_at,
    *_newest_and_count(ImpactEntry),
    *_newest_and_count(ImpactStory),
    *_newest_and_count(CampaignUpdate),
    *_newest_and_count(MatchOffer),
    _offers_in(MatchStatus.ACTIVE).scalar_subquery(),
    _offers_in(MatchStatus.RELEASED).scalar_subquery(),
).where(Campaign.slug == bindparam("slug", type_=Campaign.__table__.c.slug.type))


def _stamp(row: tuple[Any, ...] | None) -> Stamp | None:
    if row is None:
        return None
    campaign_id, status, opens_at, closes_at, *rest = row
    status = CampaignStatus(status)
    if status not in PUBLIC_STATUSES:
        return None
    return Stamp(
        campaign_id=campaign_id,
        status=status,
        opens_at=opens_at,
        closes_at=closes_at,
        row=(campaign_id, status.value, *rest[:3]),
        content=tuple(rest[3:]),
    )


def stamp(slug: str) -> Stamp | None:
    """The public campaign's stamp as committed right now (None if there is no such public
    campaign): one query on a pooled connection, outside the session, whatever the pledge count."""
    return _stamp(database.read_row(STAMP_QUERY, slug=slug))


def stamp_in_session(slug: str) -> Stamp | None:
    """The same stamp, read in the session's transaction: what a page rendered from this session
    shows (so a cached copy is filed under the version it really shows)."""
    return _stamp(db.session.execute(STAMP_QUERY, {"slug": slug}).one_or_none())  # type: ignore[arg-type]
