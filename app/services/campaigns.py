"""Reading campaigns for the public pages and the API. Costs do not grow with the pledge count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import (
    LIVE_STATUSES,
    PUBLIC_STATUSES,
    Campaign,
    CampaignStatus,
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


def days_left(campaign: Campaign, now: datetime | None = None) -> int:
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
