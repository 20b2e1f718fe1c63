"""What a campaign achieved and where its money went, for anyone to see."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import Campaign, ImpactStory
from app.public import bp
from app.services import impact


@dataclass(frozen=True)
class PageImpact:
    metrics: list[impact.MetricTotal]
    stories: list[ImpactStory]


def page_impact(campaign: Campaign) -> PageImpact:
    """The impact section of the campaign page: two small queries, whatever the number of pledges."""
    return PageImpact(impact.metric_totals(campaign), impact.stories(campaign, limit=3))


bp.add_app_template_global(page_impact, "campaign_impact")
