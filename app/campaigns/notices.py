"""Telling people that a live campaign's target or deadline changed.

A dated notice goes on the campaign's public page and every live pledger is emailed, in the
transaction that makes the change (so neither happens without the other).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app import links
from app.extensions import db
from app.models import LIVE_STATUSES, Campaign, CampaignNotice, NoticeKind, Pledge, User
from app.money import format_pence
from app.notifications import email
from app.templating import LONDON


def deadline_text(closes_at: datetime) -> str:
    return f"{closes_at.astimezone(LONDON):%-d %B %Y}"


def target_changed(campaign: Campaign, old_pence: int, *, actor: User | None) -> CampaignNotice:
    return _announce(
        campaign,
        NoticeKind.TARGET,
        f"The target changed from {format_pence(old_pence, campaign.currency)} "
        f"to {format_pence(campaign.target_pence, campaign.currency)}.",
        actor=actor,
    )


def deadline_changed(campaign: Campaign, old: datetime, *, actor: User | None) -> CampaignNotice:
    later = campaign.closes_at > old
    return _announce(
        campaign,
        NoticeKind.DEADLINE,
        f"The deadline {'moved later' if later else 'moved earlier'}: from {deadline_text(old)} "
        f"to {deadline_text(campaign.closes_at)}.",
        actor=actor,
    )


def _announce(campaign: Campaign, kind: NoticeKind, text: str, *, actor: User | None) -> CampaignNotice:
    notice = CampaignNotice(campaign=campaign, kind=kind, text=text, author_id=actor.id if actor else None)
    db.session.add(notice)
    pledges = db.session.scalars(
        select(Pledge).where(Pledge.campaign_id == campaign.id, Pledge.status.in_(LIVE_STATUSES)).order_by(Pledge.id)
    )
    for pledge in pledges:
        email.queue(
            "campaign_changed",
            pledge.email,
            f"{campaign.title}: the {'target' if kind == NoticeKind.TARGET else 'deadline'} has changed",
            pledge=pledge,
            campaign=campaign,
            notice=notice,
            campaign_url=links.external_url("public.campaign", slug=campaign.slug),
            my_pledges_url=links.my_pledges_url(pledge),
        )
    return notice
