"""Campaign administration: create, edit, publish and cancel campaigns (the rules; views stay thin).

The web pages (`campaigns.admin_views`) and the CLI (`flask campaigns create|publish`) call the
same functions. Each function that changes a campaign owns its transaction: it validates, makes
the change with an audit entry, and commits, or raises `CampaignInvalid` with one plain-English
message per field and changes nothing. The unique slug constraint, not a prior look-up, is what
stops two creations of the same slug at once.

A live campaign's target or deadline change is announced (`campaigns.notices`): a dated notice on
its page and an email to each pledger. The public page cache needs no separate purge: the edit
takes the campaign's lock, which moves `totals_version`, and the ORM moves `updated_at`; both
are in the page's cache key (`listing.Stamp`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import audit
from app.campaigns import lifecycle, notices
from app.database import write_transaction
from app.extensions import db
from app.ledger import totals
from app.models import Campaign, CampaignStatus, FundingModel, User, utcnow
from app.money import Money, MoneyError, financial_year_label, parse_financial_year
from app.templating import LONDON

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_TARGET_PENCE = 2_000_000_000  # £20 million: the column is a 32-bit integer of pence
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.LIVE)


class CampaignInvalid(ValueError):
    """What was wrong, one message per field (keys are the form's field names)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class CampaignDetails:
    """Everything an admin sets on a campaign, already parsed and checked."""

    slug: str
    title: str
    summary: str
    body: str
    target_pence: int
    min_councils: int
    funding_model: FundingModel
    closes_at: datetime
    funding_starts_on: date
    funding_ends_on: date
    annual_cost_pence: int | None
    max_sponsor_share_bp: int


def closing_time(day: date) -> datetime:
    """A campaign closes at 11:59pm UK time on its last day."""
    return datetime.combine(day, time(23, 59), tzinfo=LONDON)


def funding_period_text(campaign: Campaign) -> str:
    first, last = financial_year_label(campaign.funding_starts_on), financial_year_label(campaign.funding_ends_on)
    return first if first == last else f"{first} to {last}"


def form_values(campaign: Campaign) -> dict[str, Any]:
    """A campaign as the form's text: what `parse` reads back into the same details."""
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "summary": campaign.summary,
        "body": campaign.body,
        "target": Money(campaign.target_pence, campaign.currency).format(),
        "min_councils": str(campaign.min_councils),
        "funding_model": campaign.funding_model.value,
        "closes_on": campaign.closes_at.astimezone(LONDON).date(),
        "funding_period": funding_period_text(campaign),
        "annual_cost": Money(campaign.annual_cost_pence, campaign.currency).format()
        if campaign.annual_cost_pence
        else "",
        "max_sponsor_share": _percent_text(campaign.max_sponsor_share_bp),
    }


def _percent_text(bp: int) -> str:
    return f"{bp // 100}" if bp % 100 == 0 else f"{bp / 100:g}"


def _pounds(text: str, what: str, errors: dict[str, str], key: str) -> int | None:
    try:
        pence = Money.parse(text).pence
    except MoneyError:
        errors[key] = f"Enter {what} in pounds, like 45,000 or 45000.00"
        return None
    if pence <= 0:
        errors[key] = f"{what[0].upper()}{what[1:]} must be more than £0"
        return None
    if pence > MAX_TARGET_PENCE:
        errors[key] = f"{what[0].upper()}{what[1:]} must be £20,000,000 or less"
        return None
    return pence


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return str(value).strip() if value is not None else ""


def parse(raw: dict[str, Any], *, existing: Campaign | None = None, now: datetime | None = None) -> CampaignDetails:
    """Check what was typed (text, and `closes_on` as a date) and return the details, or raise
    `CampaignInvalid` saying what to fix. The same rules for the web form and the CLI."""
    now = now or utcnow()
    errors: dict[str, str] = {}

    slug = _text(raw, "slug").lower()
    if not slug:
        errors["slug"] = "Enter a web address for the campaign, like pipeline-2027-28"
    elif len(slug) > 80 or not SLUG.match(slug):
        errors["slug"] = (
            "The web address can only have lower-case letters, numbers and single hyphens, up to 80 characters"
        )
    elif existing is not None and existing.status != CampaignStatus.DRAFT and slug != existing.slug:
        errors["slug"] = "The web address cannot change once the campaign is published"

    title, summary, body = _text(raw, "title"), _text(raw, "summary"), _text(raw, "body")
    if not title:
        errors["title"] = "Enter the campaign's title"
    elif len(title) > 200:
        errors["title"] = "The title must be 200 characters or fewer"
    if not summary:
        errors["summary"] = "Enter a one-sentence summary of the campaign"
    elif len(summary) > 500:
        errors["summary"] = "The summary must be 500 characters or fewer"
    if len(body) > 20_000:
        errors["body"] = "The description must be 20,000 characters or fewer"

    target = _text(raw, "target")
    target_pence = None
    if not target:
        errors["target"] = "Enter the target in pounds, like 45,000"
    else:
        target_pence = _pounds(target, "the target", errors, "target")

    min_text = _text(raw, "min_councils") or "0"
    min_councils = 0
    if not min_text.isdigit() or int(min_text) > 1000:
        errors["min_councils"] = "Enter the minimum number of councils as a whole number from 0 to 1000"
    else:
        min_councils = int(min_text)

    model_text = _text(raw, "funding_model") or FundingModel.ALL_OR_NOTHING.value
    try:
        funding_model = FundingModel(model_text)
    except ValueError:
        errors["funding_model"] = "Choose all or nothing, or keep what you raise"
        funding_model = FundingModel.ALL_OR_NOTHING

    closes_on = raw.get("closes_on")
    closes_at = None
    if not isinstance(closes_on, date):
        errors["closes_on"] = "Enter the deadline as a real date, like 31 3 2027"
    else:
        unchanged = existing is not None and closes_on == existing.closes_at.astimezone(LONDON).date()
        # The same day keeps the same closing moment (a campaign made elsewhere may close at noon).
        closes_at = existing.closes_at if existing is not None and unchanged else closing_time(closes_on)
        if closes_at <= now and not unchanged:
            errors["closes_on"] = f"The deadline must be in the future: {closes_on:%-d %B %Y} has already passed"

    period = _text(raw, "funding_period")
    starts_on = ends_on = None
    if not period:
        errors["funding_period"] = "Enter the funding period as a financial year, like 2027-28"
    else:
        first, _, last = period.partition(" to ")
        try:
            starts_on, _ = parse_financial_year(first)
            _, ends_on = parse_financial_year(last or first)
        except ValueError as error:
            errors["funding_period"] = str(error)
        else:
            if ends_on <= starts_on:
                errors["funding_period"] = "The funding period must end after it starts, like 2027-28 to 2028-29"
            elif closes_at is not None and ends_on <= closes_at.astimezone(LONDON).date():
                errors["funding_period"] = (
                    f"The funding period must not be over before the deadline: {period} ends on "
                    f"{ends_on:%-d %B %Y}, but pledges are taken until {closes_at.astimezone(LONDON):%-d %B %Y}"
                )

    annual = _text(raw, "annual_cost")
    annual_cost_pence = _pounds(annual, "the annual cost", errors, "annual_cost") if annual else None

    share_text = _text(raw, "max_sponsor_share").rstrip("%").strip() or "25"
    share_bp = 2500
    try:
        share = float(share_text)
    except ValueError:
        share = -1.0
    if not 0 < share <= 100:
        errors["max_sponsor_share"] = "Enter the largest share one sponsor may hold as a percentage from 1 to 100"
    else:
        share_bp = round(share * 100)

    if errors:
        raise CampaignInvalid(errors)
    # No errors, so every value was set.
    assert target_pence is not None  # noqa: S101
    assert closes_at is not None  # noqa: S101
    assert starts_on is not None  # noqa: S101
    assert ends_on is not None  # noqa: S101
    return CampaignDetails(
        slug=slug,
        title=title,
        summary=summary,
        body=body,
        target_pence=target_pence,
        min_councils=min_councils,
        funding_model=funding_model,
        closes_at=closes_at,
        funding_starts_on=starts_on,
        funding_ends_on=ends_on,
        annual_cost_pence=annual_cost_pence,
        max_sponsor_share_bp=share_bp,
    )


def _duplicate_slug(slug: str) -> CampaignInvalid:
    return CampaignInvalid({"slug": f"There is already a campaign at /campaigns/{slug}: choose another web address"})


def _snapshot(details: CampaignDetails | Campaign) -> dict[str, Any]:
    out = {}
    for field in fields(CampaignDetails):
        value = getattr(details, field.name)
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        out[field.name] = value.isoformat() if isinstance(value, date) else getattr(value, "value", value)
    return out


def find(slug: str) -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.slug == slug))


def all_campaigns() -> list[Campaign]:
    return list(db.session.scalars(select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())))


def create(details: CampaignDetails, *, actor: User | None) -> Campaign:
    """Create a draft campaign (nobody sees it until it is published)."""
    if find(details.slug) is not None:
        raise _duplicate_slug(details.slug)
    with write_transaction():
        campaign = Campaign(status=CampaignStatus.DRAFT, opens_at=utcnow(), currency="GBP", **_columns(details))
        db.session.add(campaign)
        try:
            db.session.flush()
        except IntegrityError as error:  # created by someone else a moment ago
            db.session.rollback()
            raise _duplicate_slug(details.slug) from error
        audit.record(
            "campaign.created",
            actor=actor,
            target=campaign,
            summary=f"Created the draft campaign {details.title} ({details.slug})",
            detail=_snapshot(details),
        )
        try:
            db.session.commit()
        except IntegrityError as error:
            db.session.rollback()
            raise _duplicate_slug(details.slug) from error
    return campaign


def _columns(details: CampaignDetails) -> dict[str, Any]:
    return {field.name: getattr(details, field.name) for field in fields(CampaignDetails)}


def update_campaign(campaign: Campaign, details: CampaignDetails, *, actor: User | None) -> list[str]:
    """Save an admin's edit; returns the names of the fields that changed.

    On a live campaign, a new target or deadline is announced on its page and to its pledgers,
    and conditional card instalments due at the old deadline follow the new one.
    """
    if campaign.status not in EDITABLE:
        raise CampaignInvalid({"title": f"This campaign is {campaign.status.value}: it can no longer be edited"})
    if details.slug != campaign.slug and find(details.slug) is not None:
        raise _duplicate_slug(details.slug)
    campaign_id = campaign.id
    with write_transaction():
        totals.lock_campaign(campaign_id)
        campaign = db.session.get_one(Campaign, campaign_id, populate_existing=True)
        if campaign.status not in EDITABLE:
            db.session.rollback()
            raise CampaignInvalid({"title": f"This campaign is {campaign.status.value}: it can no longer be edited"})
        before, after = _snapshot(campaign), _snapshot(details)
        changed = [name for name in after if before[name] != after[name]]
        if not changed:
            db.session.rollback()
            return []
        old_target, old_close = campaign.target_pence, campaign.closes_at
        for name in changed:
            setattr(campaign, name, getattr(details, name))
        if campaign.status == CampaignStatus.LIVE:
            if "target_pence" in changed:
                notices.target_changed(campaign, old_target, actor=actor)
            if "closes_at" in changed:
                notices.deadline_changed(campaign, old_close, actor=actor)
                lifecycle.follow_deadline(campaign, old_close)
        audit.record(
            "campaign.updated",
            actor=actor,
            target=campaign,
            summary=f"Edited {campaign.title}: {', '.join(name.replace('_', ' ') for name in changed)}",
            detail={name: {"from": before[name], "to": after[name]} for name in changed},
        )
        try:
            db.session.commit()
        except IntegrityError as error:
            db.session.rollback()
            raise _duplicate_slug(details.slug) from error
    return changed


def publish(campaign: Campaign, *, actor: User | None) -> bool:
    """Make a draft live now. False if it was already live (publishing twice is harmless)."""
    if campaign.status == CampaignStatus.LIVE:
        return False
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignInvalid({"status": f"This campaign is {campaign.status.value}: only a draft can be published"})
    now = utcnow()
    # Everything is checked again: a draft saved last month may have a deadline that has passed.
    parse(form_values(campaign), now=now)
    with write_transaction():
        published = db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.DRAFT, Campaign.closes_at > now)
            .values(
                status=CampaignStatus.LIVE, opens_at=now, updated_at=now, totals_version=Campaign.totals_version + 1
            )
            .execution_options(synchronize_session=False)
        )
        if published.rowcount != 1:  # type: ignore[attr-defined]
            db.session.rollback()
            db.session.refresh(campaign)
            if campaign.status == CampaignStatus.LIVE:
                return False  # published by someone else a moment ago
            raise CampaignInvalid({"closes_on": "The deadline has passed: change it before publishing"})
        audit.record(
            "campaign.published",
            actor=actor,
            target=campaign,
            summary=f"Published {campaign.title}: pledges are open until {notices.deadline_text(campaign.closes_at)}",
        )
        db.session.commit()
    db.session.refresh(campaign)
    return True


def cancel_draft(campaign: Campaign, *, actor: User | None, reason: str) -> None:
    """Withdraw a draft that was never published. Its details stay in the audit log.

    A live campaign is ended by closing it (`lifecycle.close_early`), which decides its outcome
    and releases or collects its pledges.
    """
    reason = reason.strip()
    if not reason:
        raise CampaignInvalid({"reason": "Enter the reason for cancelling the draft"})
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignInvalid(
            {"reason": "Only a draft can be cancelled: close a live campaign instead, which settles its pledges"}
        )
    with write_transaction():
        audit.record(
            "campaign.cancelled",
            actor=actor,
            target=campaign,
            summary=f"Cancelled the draft campaign {campaign.title} ({campaign.slug}): {reason}",
            detail={**_snapshot(campaign), "reason": reason},
        )
        # Draft campaigns take no pledges; anything written for one (news, figures) goes with it.
        for relation in (campaign.updates, campaign.notices):
            for row in relation:
                db.session.delete(row)
        db.session.delete(campaign)
        try:
            db.session.commit()
        except IntegrityError as error:
            db.session.rollback()
            raise CampaignInvalid(
                {"reason": "This draft already has records attached, so it cannot be cancelled"}
            ) from error
