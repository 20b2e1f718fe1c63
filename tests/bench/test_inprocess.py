"""The in-process comparisons replay exactly what the app ran, and time both sides alike."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Campaign
from bench import dataset, inprocess


def test_the_dashboard_is_compared_with_the_statements_it_ran() -> None:
    dataset.load(120)
    campaign_id = db.session.scalar(select(Campaign.id).where(Campaign.slug == dataset.CAMPAIGN_SLUG))

    samples = inprocess.dashboard_samples(campaign_id, repeat=3)

    assert len(samples["dashboard_app"]) == len(samples["dashboard_raw"]) == 3
    statements = " ".join(samples["dashboard_statements"])
    assert "campaign_group" in statements and "campaign_day" in statements


def test_every_pledge_table_case_is_timed_after_a_warm_up() -> None:
    dataset.load(120)
    campaign_id = db.session.scalar(select(Campaign.id).where(Campaign.slug == dataset.CAMPAIGN_SLUG))

    samples = inprocess.table_samples(campaign_id, repeat=2)

    assert set(samples) == {
        "table_first",
        "table_committed",
        "table_councils",
        "table_search_email",
        "table_search_rare_word",
    }
    assert all(len(times) == 2 for times in samples.values())
