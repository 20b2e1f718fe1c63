"""What the funded role achieved, campaign updates, and where the money went.

Admins and treasurers record impact figures, stories and outgoings; admins publish updates and
may email each one, once, to the campaign's pledgers who agreed to hear. Everything read back
here is aggregated in SQL (a handful of rows per campaign), so pages and reports that show it
never grow with pledges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from app import audit, links
from app.extensions import db
from app.models import (
    LIVE_STATUSES,
    Campaign,
    CampaignUpdate,
    ImpactEntry,
    ImpactMetric,
    ImpactStory,
    MatchOffer,
    Outgoing,
    OutgoingCategory,
    Pledge,
    UpdateEmailing,
    User,
)
from app.money import Money
from app.notifications import email


class ImpactError(ValueError):
    """Something an admin or treasurer entered that cannot be recorded."""


def _clean(text: str, limit: int, what: str, *, required: bool = True) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise ImpactError(f"Enter {what}")
    if len(text) > limit:
        raise ImpactError(f"{what[0].upper()}{what[1:]} must be {limit:,} characters or fewer")
    return text


def check_link(link: str | None) -> str | None:
    """An optional https:// (or http://) address to read more; anything else is refused."""
    link = (link or "").strip()
    if not link:
        return None
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(link) > 500:
        raise ImpactError("Enter a web address starting with https://")
    return link


# --- Recording ---------------------------------------------------------------------------------


def record_entry(
    campaign: Campaign, recorded_on: date, metric: ImpactMetric | str, value: int, actor: User | None, note: str = ""
) -> ImpactEntry:
    if value < 0 or value > 1_000_000:
        raise ImpactError("Enter a whole number from 0 to 1,000,000")
    entry = ImpactEntry(
        campaign_id=campaign.id,
        recorded_on=recorded_on,
        metric=ImpactMetric(metric),
        value=value,
        note=_clean(note, 300, "a note", required=False),
        created_by_id=actor.id if actor else None,
    )
    db.session.add(entry)
    db.session.flush()
    audit.record(
        "impact.recorded",
        actor=actor,
        target=entry,
        summary=f"{entry.metric.label}: {value:,} on {recorded_on.isoformat()} ({campaign.slug})",
    )
    return entry


def add_story(
    campaign: Campaign, title: str, text: str, link: str | None, published_on: date, actor: User | None
) -> ImpactStory:
    story = ImpactStory(
        campaign_id=campaign.id,
        title=_clean(title, 200, "a title"),
        text=_clean(text, 5000, "the story"),
        link=check_link(link),
        published_on=published_on,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(story)
    db.session.flush()
    audit.record("impact.story_added", actor=actor, target=story, summary=f"{story.title} ({campaign.slug})")
    return story


def add_outgoing(
    campaign: Campaign,
    spent_on: date,
    category: OutgoingCategory | str,
    amount: Money,
    description: str,
    actor: User | None,
) -> Outgoing:
    if amount.currency != campaign.currency:
        raise ImpactError(f"Enter the amount in {campaign.currency}")
    if amount.pence <= 0:
        raise ImpactError("Enter an amount more than zero")
    outgoing = Outgoing(
        campaign_id=campaign.id,
        spent_on=spent_on,
        category=OutgoingCategory(category),
        amount_pence=amount.pence,
        currency=amount.currency,
        description=_clean(description, 300, "what the money was spent on"),
        created_by_id=actor.id if actor else None,
    )
    db.session.add(outgoing)
    db.session.flush()
    audit.record(
        "outgoing.recorded",
        actor=actor,
        target=outgoing,
        summary=f"{outgoing.category.label}: {amount} on {spent_on.isoformat()} ({campaign.slug})",
    )
    return outgoing


def publish_update(campaign: Campaign, title: str, body: str, actor: User | None) -> CampaignUpdate:
    update = CampaignUpdate(
        campaign_id=campaign.id,
        title=_clean(title, 200, "a title"),
        body=_clean(body, 10_000, "the update"),
        author_id=actor.id if actor else None,
    )
    db.session.add(update)
    db.session.flush()
    audit.record("update.published", actor=actor, target=update, summary=f"{update.title} ({campaign.slug})")
    return update


def emailing_of(update: CampaignUpdate) -> UpdateEmailing | None:
    return db.session.scalar(select(UpdateEmailing).where(UpdateEmailing.update_id == update.id))


def update_recipients(campaign: Campaign) -> list[tuple[str, str, int]]:
    """(email, name, a pledge id) of everyone with a live pledge on the campaign who agreed to hear
    its news, one row per address (an address with several pledges hears if any of them said yes).
    The pledge names the address in the email's link to stop these emails."""
    rows = db.session.execute(
        select(func.lower(Pledge.email), func.min(Pledge.name), func.min(Pledge.id))
        .where(
            Pledge.campaign_id == campaign.id,
            Pledge.status.in_(LIVE_STATUSES),
            Pledge.wants_updates.is_(True),
        )
        .group_by(func.lower(Pledge.email))
        .order_by(func.lower(Pledge.email))
    ).all()
    return [(str(address), str(name), int(pledge_id)) for address, name, pledge_id in rows]


@dataclass(frozen=True)
class Audience:
    """Who an update email would reach: addresses with a live pledge, and those that agreed to hear."""

    agreed: int
    pledgers: int


def update_audience(campaign: Campaign) -> Audience:
    """One query: distinct live pledgers' addresses, and how many of them agreed to hear."""
    address = func.lower(Pledge.email)
    pledgers, agreed = db.session.execute(
        select(
            func.count(func.distinct(address)),
            func.count(func.distinct(case((Pledge.wants_updates.is_(True), address)))),
        ).where(Pledge.campaign_id == campaign.id, Pledge.status.in_(LIVE_STATUSES))
    ).one()
    return Audience(agreed=int(agreed or 0), pledgers=int(pledgers or 0))


def email_update(update: CampaignUpdate, actor: User | None) -> int | None:
    """Queue the update for every live pledger who agreed to hear, once. Returns how many were
    queued, or None if it had already been emailed (a second press, or two at once: the unique row
    lets one through). Each email carries the pledger's own link to stop these emails.

    With nobody to send to it refuses, rather than spend the update's one emailing on no one.
    """
    if emailing_of(update) is not None:
        return None
    campaign = update.campaign
    recipients = update_recipients(campaign)
    if not recipients:
        raise ImpactError("Nobody with a live pledge has agreed to get updates yet, so there is no one to email")
    try:
        with db.session.begin_nested():
            emailing = UpdateEmailing(
                update_id=update.id, recipient_count=len(recipients), sent_by_id=actor.id if actor else None
            )
            db.session.add(emailing)
            db.session.flush()
    except IntegrityError:
        return None
    page = links.external_url("public.campaign", slug=campaign.slug)
    for address, name, pledge_id in recipients:
        email.queue(
            "update",
            address,
            f"{campaign.title}: {update.title}"[:200],
            update=update,
            campaign=campaign,
            name=name,
            campaign_url=page,
            stop_url=links.stop_updates_url(pledge_id),
        )
    audit.record(
        "update.emailed",
        actor=actor,
        target=update,
        summary=f"{update.title} emailed to {len(recipients):,} pledgers who asked for updates ({campaign.slug})",
    )
    return len(recipients)


# --- Reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricTotal:
    metric: ImpactMetric
    value: int
    as_of: date | None  # the latest day recorded

    @property
    def label(self) -> str:
        return self.metric.label


def metric_totals(campaign: Campaign, start: date | None = None, end: date | None = None) -> list[MetricTotal]:
    """Each metric's figure for the period: the sum of what was recorded, except members, which is
    the latest head count. Metrics never recorded are left out."""
    conditions = [ImpactEntry.campaign_id == campaign.id]
    if start is not None:
        conditions.append(ImpactEntry.recorded_on >= start)
    if end is not None:
        conditions.append(ImpactEntry.recorded_on <= end)
    sums = {
        ImpactMetric(metric): (int(total or 0), latest)
        for metric, total, latest in db.session.execute(
            select(ImpactEntry.metric, func.sum(ImpactEntry.value), func.max(ImpactEntry.recorded_on))
            .where(*conditions)
            .group_by(ImpactEntry.metric)
        )
    }
    result = []
    for metric in ImpactMetric:
        if metric not in sums:
            continue
        total, latest = sums[metric]
        if metric.is_running_total:
            total = int(
                db.session.scalar(
                    select(ImpactEntry.value)
                    .where(*conditions, ImpactEntry.metric == metric)
                    .order_by(ImpactEntry.recorded_on.desc(), ImpactEntry.id.desc())
                    .limit(1)
                )
                or 0
            )
        result.append(MetricTotal(metric, total, latest))
    return result


def recent_entries(campaign: Campaign, limit: int = 20) -> list[ImpactEntry]:
    return list(
        db.session.scalars(
            select(ImpactEntry)
            .where(ImpactEntry.campaign_id == campaign.id)
            .order_by(ImpactEntry.recorded_on.desc(), ImpactEntry.id.desc())
            .limit(limit)
        )
    )


def stories(
    campaign: Campaign, start: date | None = None, end: date | None = None, limit: int = 10
) -> list[ImpactStory]:
    conditions = [ImpactStory.campaign_id == campaign.id]
    if start is not None:
        conditions.append(ImpactStory.published_on >= start)
    if end is not None:
        conditions.append(ImpactStory.published_on <= end)
    return list(
        db.session.scalars(
            select(ImpactStory)
            .where(*conditions)
            .order_by(ImpactStory.published_on.desc(), ImpactStory.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class CategoryTotal:
    category: OutgoingCategory
    pence: int
    count: int

    @property
    def label(self) -> str:
        return self.category.label


def outgoings_by_category(
    campaign: Campaign, start: date | None = None, end: date | None = None
) -> list[CategoryTotal]:
    """Money spent, by category (largest first); one GROUP BY."""
    conditions = [Outgoing.campaign_id == campaign.id]
    if start is not None:
        conditions.append(Outgoing.spent_on >= start)
    if end is not None:
        conditions.append(Outgoing.spent_on <= end)
    rows = db.session.execute(
        select(Outgoing.category, func.sum(Outgoing.amount_pence), func.count())
        .where(*conditions)
        .group_by(Outgoing.category)
    ).all()
    totals = [CategoryTotal(OutgoingCategory(category), int(pence or 0), int(n)) for category, pence, n in rows]
    return sorted(totals, key=lambda t: (-t.pence, t.category.value))


def recent_outgoings(campaign: Campaign, limit: int = 20) -> list[Outgoing]:
    return list(
        db.session.scalars(
            select(Outgoing)
            .where(Outgoing.campaign_id == campaign.id)
            .order_by(Outgoing.spent_on.desc(), Outgoing.id.desc())
            .limit(limit)
        )
    )


def data_version(campaign: Campaign) -> str:
    """Changes whenever anything a report or the transparency page shows changes: the campaign's
    totals (its `totals_version` moves with every pledge and payment), its own row, its offers,
    and its impact entries, stories, outgoings and updates (rows are only ever added, so the
    newest id and the count of each say whether anything changed)."""
    parts = [str(campaign.totals_version), campaign.updated_at.isoformat() if campaign.updated_at else ""]
    for model, column in (
        (ImpactEntry, ImpactEntry.campaign_id),
        (ImpactStory, ImpactStory.campaign_id),
        (Outgoing, Outgoing.campaign_id),
        (CampaignUpdate, CampaignUpdate.campaign_id),
        (MatchOffer, MatchOffer.campaign_id),
    ):
        newest, count = db.session.execute(select(func.max(model.id), func.count()).where(column == campaign.id)).one()
        parts.append(f"{newest or 0}.{count}")
    # Offers change status (withdrawn, released) without a new row.
    statuses = db.session.execute(
        select(MatchOffer.status, func.count()).where(MatchOffer.campaign_id == campaign.id).group_by(MatchOffer.status)
    ).all()
    parts.append(",".join(f"{s}:{n}" for s, n in sorted((str(s), int(n)) for s, n in statuses)))
    return "-".join(parts)
