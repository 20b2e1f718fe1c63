"""Sponsor match funding, with the safeguards that keep sponsors from buying influence.

A match offer adds money for every pound pledged by eligible pledgers (councils, individuals or
both) at a ratio, up to a cap. What an offer has matched is worked out from the campaign's
pledged totals by kind, which `ledger.totals` keeps current in the same transaction as every
pledge change, so it never needs a scan of the pledges:

    matched = min(cap, eligible pledged × ratio_bp // 10000)     (whole pence, rounded down)

Several offers each match the same pledges independently: two £1-for-£1 offers on councils turn
a council's £1 into £3.

Which matched money counts toward success (see `counts_toward_success`): every ACTIVE offer
counts, conditional or not. A conditional offer is an assurance pledge from the sponsor: it is
paid only if the campaign succeeds, and deciding whether it succeeds is exactly what the count
is for. When a campaign fails, its conditional offers are RELEASED (the sponsor owes nothing) and
stop counting; unconditional offers stay and are paid on what was pledged. A WITHDRAWN offer
counts for nothing, and an offer can only be withdrawn before it has matched anything.

Safeguards for impartiality:
- no one sponsor may provide more than `Campaign.max_sponsor_share_bp` of the target (default
  25 %): the caps of its active offers plus its own live pledges on the campaign;
- every offer is listed publicly on the campaign page, with its sponsor, ratio, cap and what it
  has matched;
- no earmarking: an offer has no field that could direct the money to a council, project or
  purpose. It goes to the campaign as a whole.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from app import audit
from app.extensions import db
from app.ledger import totals
from app.models import (
    LIVE_STATUSES,
    Campaign,
    CampaignStatus,
    MatchEligibility,
    MatchOffer,
    MatchStatus,
    Organisation,
    OrganisationKind,
    Pledge,
    PledgerKind,
    Role,
    User,
    utcnow,
)
from app.money import SYMBOLS, Money

BP = 10_000  # basis points in one: a ratio of 10000 is £1 for every £1
MAX_RATIO_BP = 10 * BP  # £10 for every £1
MAX_RATIO_TEXT = "£10 for every £1"
RATIO_EXAMPLE = "like 1 for £1 for every £1, or 0.50 for 50p for every £1"


class MatchError(ValueError):
    """An offer that cannot be made or changed. The message is fit to show a person; `field` names
    the form field it belongs to, if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# -- ratios ------------------------------------------------------------------------------------

_POUNDS = re.compile(r"^(?:[£€$]\s*)?(\d{1,9})(?:\.(\d+))?$", re.ASCII)
_PENCE = re.compile(r"^(\d{1,9})(?:\.(\d{1,2}))?\s*p$", re.ASCII)
_PAIR = re.compile(r"^(.+?)\s*(?:for every|for each|per|:)\s*(.+)$")


def _units(text: str) -> int:
    """An amount in hundredths of a penny (the unit of a ratio in basis points of £1):
    "£1" / "1" → 10000, "0.5" → 5000, "50p" → 5000, "12.5p" → 1250."""
    text = text.strip()
    if match := _PENCE.match(text):
        return int(match[1]) * 100 + int((match[2] or "").ljust(2, "0"))
    match = _POUNDS.match(text)
    if match is None:
        raise MatchError(f"Enter the ratio as an amount for every £1 pledged, {RATIO_EXAMPLE}", "ratio")
    fraction = match[2] or ""
    if fraction[4:].strip("0"):
        raise MatchError("Enter the ratio with at most 4 decimal places, like 0.5 or 0.125", "ratio")
    return int(match[1]) * BP + int(fraction[:4].ljust(4, "0"))


def parse_ratio(value: str | int | float) -> int:
    """The ratio a person typed, as basis points of the pledged amount: "1" → 10000.

    Accepts "1", "0.5", "£2", "50p", "12.5p" (for every £1 pledged), and pairs such as "£1 for every £2",
    "1:2" or "50p per £1". Whole numbers mean pounds for every £1. Done in integers (a float is
    read from its shortest decimal form), never by float arithmetic.
    """
    if isinstance(value, bool):
        raise MatchError(f"Enter the ratio, {RATIO_EXAMPLE}", "ratio")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise MatchError(f"Enter the ratio, {RATIO_EXAMPLE}", "ratio")
    text = " ".join(text.strip().lower().split())
    text = text.removesuffix(" pledged").removesuffix(" given")
    if not text:
        raise MatchError(f"Enter the ratio, {RATIO_EXAMPLE}", "ratio")
    if text.startswith("-"):
        raise MatchError(f"Enter a ratio greater than zero, {RATIO_EXAMPLE}", "ratio")
    if len(text) > 40:
        raise MatchError(f"Enter the ratio as an amount for every £1 pledged, {RATIO_EXAMPLE}", "ratio")
    pair = _PAIR.match(text)
    if pair:
        given, per = _units(pair[1]), _units(pair[2])
        if per == 0:
            raise MatchError("The amount pledged in a ratio must be more than zero, like £1 for every £1", "ratio")
        if given * BP % per:
            raise MatchError(
                "That ratio does not come to a whole number of hundredths of a penny for every £1: "
                "enter it as an amount for every £1 pledged, like 0.33",
                "ratio",
            )
        ratio_bp = given * BP // per
    else:
        ratio_bp = _units(text)
    if ratio_bp <= 0:
        raise MatchError(f"Enter a ratio greater than zero, {RATIO_EXAMPLE}", "ratio")
    if ratio_bp > MAX_RATIO_BP:
        raise MatchError(f"A sponsor can add at most {MAX_RATIO_TEXT} pledged", "ratio")
    return ratio_bp


def format_ratio(ratio_bp: int, currency: str = "GBP") -> str:
    """10000 → "£1 for every £1"; 5000 → "50p for every £1"; 15000 → "£1.50 for every £1"."""
    symbol = SYMBOLS.get(currency, "")
    pence, rest = divmod(ratio_bp, 100)  # 1 bp of £1 is a hundredth of a penny
    if ratio_bp < BP and currency == "GBP":
        amount = f"{pence}.{rest:02d}".rstrip("0").rstrip(".") + "p"
    elif rest == 0:
        amount = Money(pence, currency).format(whole=True)
    else:
        pounds, pence_part = divmod(ratio_bp, BP)
        amount = f"{symbol}{pounds}.{pence_part:04d}".rstrip("0")
    return f"{amount} for every {symbol}1"


def percent(bp: int) -> str:
    """2500 → "25%", 1250 → "12.5%"."""
    whole, rest = divmod(bp, 100)
    return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"


ELIGIBILITY_TEXT = {
    MatchEligibility.COUNCILS: "councils' pledges",
    MatchEligibility.INDIVIDUALS: "individuals' pledges",
    MatchEligibility.BOTH: "councils' and individuals' pledges",
}


def describe_eligibility(eligibility: MatchEligibility | str) -> str:
    return ELIGIBILITY_TEXT[MatchEligibility(eligibility)]


# -- what an offer has matched ------------------------------------------------------------------


def matched_pence(offer: MatchOffer, campaign: Campaign | None = None) -> int:
    """What `offer` has matched so far, from the campaign's stored totals by kind (0 unless active)."""
    if offer.status != MatchStatus.ACTIVE:
        return 0
    campaign = campaign or offer.campaign
    eligible = totals.eligible_pence(
        offer.eligibility, campaign.pledged_council_pence, campaign.pledged_individual_pence
    )
    return totals.matched_by_rule(offer.ratio_bp, offer.cap_pence, eligible)


def _offers(campaign: Campaign) -> list[MatchOffer]:
    return list(
        db.session.scalars(
            select(MatchOffer)
            .options(joinedload(MatchOffer.sponsor))
            .where(MatchOffer.campaign_id == campaign.id)
            .order_by(MatchOffer.created_at, MatchOffer.id)
        )
    )


def matched_by_offer(campaign: Campaign) -> list[tuple[MatchOffer, int]]:
    """Every offer on the campaign (active, released and withdrawn), oldest first, with what it has
    matched. One query over the campaign's offers; the pledges are never scanned."""
    return [(offer, matched_pence(offer, campaign)) for offer in _offers(campaign)]


def counts_toward_success(campaign: Campaign) -> int:
    """The matched money that counts toward the campaign's target: what every ACTIVE offer has
    matched, conditional or not (conditional offers are paid only if the campaign succeeds, which
    is what this count decides). Equal to `campaign.matched_pence` when the totals are true."""
    return sum(matched for offer, matched in matched_by_offer(campaign) if offer.status == MatchStatus.ACTIVE)


def offers_for_sponsor(sponsor: Organisation) -> list[tuple[MatchOffer, int]]:
    """A sponsor's own offers on every campaign, newest first, with what each has matched."""
    offers = db.session.scalars(
        select(MatchOffer)
        .options(joinedload(MatchOffer.campaign))
        .where(MatchOffer.sponsor_id == sponsor.id)
        .order_by(MatchOffer.created_at.desc(), MatchOffer.id.desc())
    )
    return [(offer, matched_pence(offer)) for offer in offers]


# -- the impartiality safeguard ----------------------------------------------------------------


def share_limit_pence(campaign: Campaign) -> int:
    """The most any one sponsor may provide to the campaign (rounded down to the penny)."""
    return campaign.target_pence * campaign.max_sponsor_share_bp // BP


def provided_by(campaign: Campaign, sponsor: Organisation) -> int:
    """What the sponsor already stands to provide: its active offers' caps and its own live pledges."""
    caps = db.session.scalar(
        select(func.coalesce(func.sum(MatchOffer.cap_pence), 0)).where(
            MatchOffer.campaign_id == campaign.id,
            MatchOffer.sponsor_id == sponsor.id,
            MatchOffer.status == MatchStatus.ACTIVE,
        )
    )
    pledged = db.session.scalar(
        select(func.coalesce(func.sum(Pledge.commitment_pence), 0)).where(
            Pledge.campaign_id == campaign.id,
            Pledge.organisation_id == sponsor.id,
            Pledge.pledger_kind == PledgerKind.SPONSOR,
            Pledge.status.in_(LIVE_STATUSES),
        )
    )
    return int(caps or 0) + int(pledged or 0)


def remaining_share_pence(campaign: Campaign, sponsor: Organisation) -> int:
    return max(0, share_limit_pence(campaign) - provided_by(campaign, sponsor))


def share_limit_message(campaign: Campaign, sponsor: Organisation) -> str:
    """ "Northgate Civic Fund can provide at most £12,000.00 (25% of the target) …"."""
    limit = campaign.money(share_limit_pence(campaign))
    already = campaign.money(provided_by(campaign, sponsor))
    text = (
        f"{sponsor.name} can provide at most {limit} ({percent(campaign.max_sponsor_share_bp)} of the target) "
        f"to {campaign.title}, so that no one sponsor has too large a say."
    )
    if already.pence == 0:
        return f"{text} Enter a cap of {limit} or less."
    remaining = campaign.money(max(0, limit.pence - already.pence))
    text += f" Its offers and pledges on this campaign already come to {already}"
    if remaining.pence == 0:
        return f"{text}, so it cannot offer any more."
    return f"{text}, so enter a cap of {remaining} or less."


# -- making, withdrawing and releasing offers ---------------------------------------------------


def _check_actor(actor: User | None, sponsor: Organisation) -> None:
    if actor is not None and actor.role == Role.SPONSOR and actor.organisation_id != sponsor.id:
        raise MatchError("You can only make or change offers for your own organisation.", "sponsor")


def accepting_offers(campaign: Campaign) -> bool:
    """Offers are made while the campaign is live, up to its deadline (even before it opens)."""
    return campaign.status == CampaignStatus.LIVE and campaign.closes_at > utcnow()


def _check_open(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.LIVE:
        raise MatchError(f"{campaign.title} is not open, so it cannot take match offers.", "campaign")
    if campaign.closes_at <= utcnow():
        raise MatchError(f"{campaign.title} has passed its deadline, so it cannot take match offers.", "campaign")


def _check_cap(campaign: Campaign, sponsor: Organisation, cap: Money) -> None:
    if not isinstance(cap, Money):
        raise MatchError("Enter the cap in pounds, like 5000 or 5000.50", "cap")
    if cap.currency != campaign.currency:
        raise MatchError(f"This campaign is in {campaign.currency}: enter the cap in {campaign.currency}.", "cap")
    if cap.pence <= 0:
        raise MatchError("Enter a cap greater than zero", "cap")
    if provided_by(campaign, sponsor) + cap.pence > share_limit_pence(campaign):
        raise MatchError(share_limit_message(campaign, sponsor), "cap")


def create_offer(
    campaign: Campaign,
    sponsor_org: Organisation,
    ratio: str | int | float,
    cap: Money,
    eligibility: MatchEligibility | str,
    conditional: bool,
    actor: User | None,
) -> MatchOffer:
    """Record a sponsor's match offer, in the caller's transaction, and bring `matched` up to date.

    Raises `MatchError` (nothing written) when the offer breaks a rule: the sponsor must be a
    sponsor organisation (and the actor's own, for a sponsor); the campaign live; the ratio
    between 1p and £10 for every £1; the cap more than zero, in the campaign's currency, and within
    the sponsor's share limit. The share limit is checked again with the campaign row locked, so
    two offers made at once cannot both squeeze under it.
    """
    if sponsor_org is None or sponsor_org.kind != OrganisationKind.SPONSOR:
        raise MatchError("Choose a sponsor organisation", "sponsor")
    _check_actor(actor, sponsor_org)
    _check_open(campaign)
    ratio_bp = parse_ratio(ratio)
    try:
        eligibility = MatchEligibility(eligibility)
    except ValueError:
        raise MatchError("Choose which pledges the offer matches", "eligibility") from None
    if not isinstance(conditional, bool):
        raise MatchError("Choose whether the offer is paid only if the campaign succeeds", "conditional")
    _check_cap(campaign, sponsor_org, cap)

    totals.lock_campaign(campaign.id)
    db.session.refresh(campaign)  # another request may have closed it or added an offer meanwhile
    _check_open(campaign)
    _check_cap(campaign, sponsor_org, cap)
    offer = MatchOffer(
        campaign_id=campaign.id,
        sponsor_id=sponsor_org.id,
        ratio_bp=ratio_bp,
        cap_pence=cap.pence,
        currency=campaign.currency,
        eligibility=eligibility,
        conditional=conditional,
        status=MatchStatus.ACTIVE,
        created_by_id=actor.id if actor is not None else None,
    )
    db.session.add(offer)
    db.session.flush()
    totals.refresh_matched(campaign.id)
    audit.record(
        "match_offer.created",
        actor=actor,
        target=offer,
        summary=(
            f"{sponsor_org.name} offered {format_ratio(ratio_bp, campaign.currency)} of "
            f"{describe_eligibility(eligibility)} up to {cap} on {campaign.title}"
            + (", only if the campaign succeeds" if conditional else ", whatever happens")
        ),
        detail={
            "campaign": campaign.slug,
            "sponsor": sponsor_org.slug,
            "ratio_bp": ratio_bp,
            "cap_pence": cap.pence,
            "currency": campaign.currency,
            "eligibility": eligibility.value,
            "conditional": conditional,
        },
    )
    return offer


def withdraw_offer(offer: MatchOffer, actor: User | None, reason: str) -> None:
    """Withdraw an active offer that has not matched anything yet (in the caller's transaction).

    Once an offer has matched a penny, people have pledged expecting it, so it stays.
    """
    reason = (reason or "").strip()
    if not reason:
        raise MatchError("Enter the reason for withdrawing the offer", "reason")
    if len(reason) > 500:
        raise MatchError("The reason must be 500 characters or fewer", "reason")
    _check_actor(actor, offer.sponsor)
    totals.lock_campaign(offer.campaign_id)
    db.session.refresh(offer)
    campaign = db.session.get_one(Campaign, offer.campaign_id, populate_existing=True)
    if offer.status != MatchStatus.ACTIVE:
        raise MatchError(f"This offer has already been {offer.status.value}.")
    matched = matched_pence(offer, campaign)
    if matched:
        raise MatchError(
            f"This offer has already matched {campaign.money(matched)} of pledges, so it cannot be withdrawn: "
            "people have pledged expecting it. Contact LocalGov Digital if something has gone wrong."
        )
    offer.status = MatchStatus.WITHDRAWN
    db.session.flush()
    totals.refresh_matched(campaign.id)
    audit.record(
        "match_offer.withdrawn",
        actor=actor,
        target=offer,
        summary=f"{offer.sponsor.name} withdrew its offer on {campaign.title}: {reason}",
        detail={"campaign": campaign.slug, "reason": reason},
    )


def release_offers(campaign: Campaign, actor: User | None = None) -> list[MatchOffer]:
    """The campaign failed: release its conditional offers (the sponsors owe nothing).

    Safe to call again and again (the campaign lifecycle does): with nothing left to release it
    reads one small query and writes nothing. Unconditional offers stay active.
    """
    if campaign.status != CampaignStatus.FAILED:
        raise MatchError("Offers are released only when a campaign has failed.")
    if not _conditional_active(campaign.id):
        return []
    totals.lock_campaign(campaign.id)
    released = list(
        db.session.scalars(
            select(MatchOffer)
            .options(joinedload(MatchOffer.sponsor))
            .where(*_conditional_active_filter(campaign.id))
            .order_by(MatchOffer.id)
            .execution_options(populate_existing=True)
        )
    )
    for offer in released:
        offer.status = MatchStatus.RELEASED
    db.session.flush()
    totals.refresh_matched(campaign.id)
    for offer in released:
        audit.record(
            "match_offer.released",
            actor=actor,
            target=offer,
            summary=f"{campaign.title} did not reach its goal, so {offer.sponsor.name}'s conditional offer "
            "was released: nothing is owed.",
            detail={"campaign": campaign.slug},
        )
    return released


def _conditional_active_filter(campaign_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        MatchOffer.campaign_id == campaign_id,
        MatchOffer.status == MatchStatus.ACTIVE,
        MatchOffer.conditional.is_(True),
    )


def _conditional_active(campaign_id: int) -> bool:
    return db.session.scalar(select(MatchOffer.id).where(*_conditional_active_filter(campaign_id)).limit(1)) is not None


def sponsors() -> list[Organisation]:
    """Every sponsor organisation, by name, for the treasurer's form."""
    return list(
        db.session.scalars(
            select(Organisation).where(Organisation.kind == OrganisationKind.SPONSOR).order_by(Organisation.name)
        )
    )
