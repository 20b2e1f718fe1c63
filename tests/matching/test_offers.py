"""Match offers: ratio and cap to the penny, the sponsor share limit, what counts toward success,
withdrawing and releasing — through the service, as the forms, the lifecycle and the CLI use it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.campaigns import lifecycle
from app.extensions import db
from app.ledger import totals
from app.matching import match_funding
from app.models import (
    AuditEntry,
    Campaign,
    CampaignStatus,
    Frequency,
    FundingModel,
    MatchOffer,
    MatchStatus,
    Payment,
    Pledge,
    PledgerKind,
    PledgeStatus,
    Role,
    utcnow,
)
from app.money import Money
from app.payments import settle
from app.pledging import pledges
from tests.factories import (
    CampaignFactory,
    OrganisationFactory,
    SponsorFactory,
    UserFactory,
    make_offer,
    make_pledge,
)


def _fresh(campaign: Campaign) -> Campaign:
    db.session.expire_all()
    return db.session.get_one(Campaign, campaign.id)


def _matched(offer: MatchOffer) -> int:
    campaign = _fresh(offer.campaign)
    return {o.id: m for o, m in match_funding.matched_by_offer(campaign)}[offer.id]


def test_a_pound_for_a_pound_matches_every_penny_up_to_the_cap() -> None:
    campaign = CampaignFactory()
    offer = make_offer(campaign, ratio="£1 for every £1", cap="100", eligibility="both")

    make_pledge(campaign, pounds="60.01")
    assert _matched(offer) == 60_01
    assert _fresh(campaign).matched_pence == 60_01

    make_pledge(campaign, pounds="39.99")
    assert _matched(offer) == 100_00
    make_pledge(campaign, pounds="1")  # past the cap: nothing more
    assert _matched(offer) == 100_00
    assert _fresh(campaign).matched_pence == 100_00


def test_several_offers_with_different_eligibility_each_round_down_to_the_penny() -> None:
    campaign = CampaignFactory()
    northgate, eastfield, southbank = (SponsorFactory(name=n) for n in ("Northgate", "Eastfield", "Southbank"))
    councils_only = make_offer(campaign, northgate, ratio="1", cap="500", eligibility="councils")
    individuals_only = make_offer(campaign, eastfield, ratio="0.5", cap="10000", eligibility="individuals")
    both = make_offer(campaign, southbank, ratio="0.33", cap="500", eligibility="both")

    make_pledge(campaign, kind=PledgerKind.COUNCIL, pounds="600")
    make_pledge(campaign, pounds="25.01")
    make_pledge(campaign, pounds="10", frequency=Frequency.MONTHLY, instalments=12)
    make_pledge(campaign, kind=PledgerKind.SPONSOR, pounds="50", organisation=northgate)  # matched by nobody
    make_pledge(campaign, pounds="99", status=PledgeStatus.PENDING)  # not live: matched by nobody

    campaign = _fresh(campaign)
    assert (campaign.pledged_council_pence, campaign.pledged_individual_pence) == (600_00, 145_01)
    assert campaign.pledged_pence == 600_00 + 145_01 + 50_00
    assert _matched(councils_only) == 500_00  # £600 at £1 for £1, capped at £500
    assert _matched(individuals_only) == 72_50  # £145.01 × 0.5 = £72.505, rounded down
    assert _matched(both) == 245_85  # £745.01 × 0.33 = £245.8533, rounded down
    assert campaign.matched_pence == 500_00 + 72_50 + 245_85
    assert match_funding.counts_toward_success(campaign) == campaign.matched_pence
    assert campaign.raised_pence == campaign.pledged_pence + campaign.matched_pence
    assert totals.verify() == []


def test_cancelling_and_refunding_move_the_match_with_the_pledge() -> None:
    campaign = CampaignFactory()
    offer = make_offer(campaign, ratio="2", cap="1000", eligibility="individuals")
    pledge = make_pledge(campaign, pounds="10", frequency=Frequency.MONTHLY, instalments=6, paid_instalments=2)
    assert _matched(offer) == 120_00  # £60 pledged, doubled

    pledges.change_status(pledge, PledgeStatus.CANCELLED, reason="changed my mind")
    db.session.commit()
    assert _matched(offer) == 40_00  # a cancelled pledge still counts what it paid: £20

    settle.record_refund(_first_payment(pledge), Money(5_00))
    db.session.commit()
    assert _matched(offer) == 30_00
    assert totals.verify() == []


def _first_payment(pledge: Pledge) -> Payment:
    return db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id).order_by(Payment.id)).first()  # type: ignore[return-value]


# -- the share limit ----------------------------------------------------------------------------


def test_the_sponsor_share_limit_is_enforced_with_a_clear_message_and_nothing_written() -> None:
    campaign = CampaignFactory(title="Pipeline community manager", target_pence=48_000_00)  # 25% is £12,000
    sponsor = SponsorFactory(name="Northgate Civic Fund")
    offers_before = db.session.scalar(select(func.count()).select_from(MatchOffer))
    audits_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    version = campaign.totals_version

    with pytest.raises(match_funding.MatchError) as refused:
        match_funding.create_offer(campaign, sponsor, "1", Money(12_000_01), "both", True, None)

    assert str(refused.value) == (
        "Northgate Civic Fund can provide at most £12,000.00 (25% of the target) to Pipeline community manager, "
        "so that no one sponsor has too large a say. Enter a cap of £12,000.00 or less."
    )
    assert refused.value.field == "cap"
    assert not db.session.new and not db.session.dirty
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(MatchOffer)) == offers_before
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audits_before
    assert _fresh(campaign).totals_version == version

    exactly = match_funding.create_offer(campaign, sponsor, "1", Money(12_000_00), "both", True, None)  # to the penny
    db.session.commit()
    assert exactly.cap_pence == 12_000_00


def test_the_limit_counts_every_active_offer_and_the_sponsors_own_pledges() -> None:
    campaign = CampaignFactory(title="Shared role", target_pence=10_000_00, max_sponsor_share_bp=2_000)  # £2,000
    sponsor = SponsorFactory(name="Eastfield Trust")
    other = SponsorFactory(name="Another Sponsor")
    make_offer(campaign, sponsor, cap="1000")
    make_offer(campaign, other, cap="2000")  # another sponsor's offers are its own business
    make_pledge(campaign, kind=PledgerKind.SPONSOR, organisation=sponsor, pounds="600")

    with pytest.raises(match_funding.MatchError) as refused:
        match_funding.create_offer(campaign, sponsor, "1", Money(400_01), "both", True, None)
    assert str(refused.value) == (
        "Eastfield Trust can provide at most £2,000.00 (20% of the target) to Shared role, so that no one sponsor "
        "has too large a say. Its offers and pledges on this campaign already come to £1,600.00, so enter a cap "
        "of £400.00 or less."
    )
    db.session.rollback()
    make_offer(campaign, sponsor, cap="400")
    with pytest.raises(match_funding.MatchError, match=r"already come to £2,000\.00, so it cannot offer any more"):
        match_funding.create_offer(campaign, sponsor, "1", Money(1), "both", True, None)
    db.session.rollback()


def test_a_withdrawn_offer_frees_its_share() -> None:
    campaign = CampaignFactory(target_pence=4_000_00)  # 25%: £1,000
    sponsor = SponsorFactory()
    offer = make_offer(campaign, sponsor, cap="1000")
    match_funding.withdraw_offer(offer, None, "Board decision")
    db.session.commit()
    assert make_offer(campaign, sponsor, cap="1000").status == MatchStatus.ACTIVE


@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        ({"cap": Money(0)}, "Enter a cap greater than zero", "cap"),
        ({"cap": Money(-100)}, "Enter a cap greater than zero", "cap"),
        ({"cap": Money(100, "EUR")}, "This campaign is in GBP: enter the cap in GBP.", "cap"),
        ({"ratio": "0"}, "Enter a ratio greater than zero", "ratio"),
        ({"ratio": "11"}, "at most £10 for every £1", "ratio"),
        ({"eligibility": "pensioners"}, "Choose which pledges the offer matches", "eligibility"),
        ({"sponsor": "council"}, "Choose a sponsor organisation", "sponsor"),
        ({"campaign": "draft"}, "is not open, so it cannot take match offers", "campaign"),
        ({"campaign": "past"}, "has passed its deadline", "campaign"),
        ({"campaign": "failed"}, "is not open", "campaign"),
        ({"actor": "another sponsor"}, "only make or change offers for your own organisation", "sponsor"),
    ],
)
def test_offers_that_break_the_rules_are_refused_and_nothing_is_written(
    change: dict[str, object], message: str, field: str
) -> None:
    campaigns = {
        "live": CampaignFactory(),
        "draft": CampaignFactory(status=CampaignStatus.DRAFT),
        "past": CampaignFactory(closes_at=utcnow() - timedelta(minutes=1), opens_at=utcnow() - timedelta(days=30)),
        "failed": CampaignFactory(status=CampaignStatus.FAILED),
    }
    sponsor = SponsorFactory()
    organisations = {"sponsor": sponsor, "council": OrganisationFactory()}
    outsider = UserFactory(role=Role.SPONSOR, organisation=SponsorFactory())
    args = {
        "campaign": campaigns[str(change.get("campaign", "live"))],
        "sponsor": organisations[str(change.get("sponsor", "sponsor"))],
        "ratio": change.get("ratio", "1"),
        "cap": change.get("cap", Money(100_00)),
        "eligibility": change.get("eligibility", "both"),
        "actor": outsider if "actor" in change else None,
    }

    with pytest.raises(match_funding.MatchError, match=message) as refused:
        match_funding.create_offer(
            args["campaign"],
            args["sponsor"],
            args["ratio"],
            args["cap"],
            args["eligibility"],
            True,
            args["actor"],  # type: ignore[arg-type]
        )

    assert refused.value.field == field
    assert not db.session.new and not db.session.dirty
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(MatchOffer)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_every_offer_change_is_audited() -> None:
    campaign = CampaignFactory()
    sponsor = SponsorFactory(name="Northgate Civic Fund")
    actor = UserFactory(role=Role.SPONSOR, organisation=sponsor)
    offer = make_offer(campaign, sponsor, ratio="0.5", cap="2500", eligibility="councils", actor=actor)
    match_funding.withdraw_offer(offer, actor, "Our board changed its budget")
    db.session.commit()

    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.actor_id, e.target_type, e.target_id) for e in entries] == [
        ("match_offer.created", actor.id, "match_offer", offer.id),
        ("match_offer.withdrawn", actor.id, "match_offer", offer.id),
    ]
    assert entries[0].summary == (
        f"Northgate Civic Fund offered 50p for every £1 of councils' pledges up to £2,500.00 on {campaign.title}, "
        "only if the campaign succeeds"
    )
    assert entries[0].detail["ratio_bp"] == 5_000 and entries[0].detail["cap_pence"] == 2_500_00
    assert "Our board changed its budget" in entries[1].summary


# -- withdrawing ----------------------------------------------------------------------------------


def test_an_offer_that_has_matched_anything_cannot_be_withdrawn() -> None:
    campaign = CampaignFactory()
    offer = make_offer(campaign, ratio="1", cap="100", eligibility="councils")
    make_pledge(campaign, pounds="40")  # an individual: nothing matched yet
    match_funding.withdraw_offer(offer, None, "Changed plans")  # fine
    db.session.commit()
    assert _fresh(campaign).matched_pence == 0

    kept = make_offer(campaign, ratio="1", cap="100", eligibility="individuals")
    assert _matched(kept) == 40_00
    with pytest.raises(
        match_funding.MatchError, match=r"already matched £40\.00 of pledges, so it cannot be withdrawn"
    ):
        match_funding.withdraw_offer(kept, None, "Changed plans")
    db.session.rollback()
    assert db.session.get_one(MatchOffer, kept.id).status == MatchStatus.ACTIVE

    with pytest.raises(match_funding.MatchError, match="Enter the reason"):
        match_funding.withdraw_offer(kept, None, "  ")
    with pytest.raises(match_funding.MatchError, match="already been withdrawn"):
        match_funding.withdraw_offer(offer, None, "again")
    db.session.rollback()


# -- what counts toward success -------------------------------------------------------------------


def test_matched_money_counts_toward_the_target_exactly_as_documented() -> None:
    campaign = CampaignFactory(target_pence=1_000_00, min_councils=1, max_sponsor_share_bp=5_000)
    make_pledge(campaign, kind=PledgerKind.COUNCIL, pounds="600")
    offer = make_offer(campaign, ratio="1", cap="399.99", eligibility="councils", conditional=True)
    campaign = _fresh(campaign)
    assert campaign.raised_pence == 999_99
    assert not lifecycle.conditions_met(campaign)  # a penny short

    # A second offer, unconditional, of one penny tips it over.
    make_offer(campaign, ratio="1", cap="0.01", eligibility="both", conditional=False)
    campaign = _fresh(campaign)
    assert match_funding.counts_toward_success(campaign) == 400_00
    assert lifecycle.raised_toward_target(campaign) == 1_000_00
    assert lifecycle.conditions_met(campaign)  # conditional and unconditional offers both count
    assert _matched(offer) == 399_99


def test_keep_what_you_raise_campaigns_count_matched_money_the_same_way() -> None:
    campaign = CampaignFactory(target_pence=100_00, min_councils=0, funding_model=FundingModel.KEEP_WHAT_YOU_RAISE)
    make_pledge(campaign, pounds="50")
    make_offer(campaign, ratio="1", cap="25")
    assert lifecycle.raised_toward_target(_fresh(campaign)) == 75_00


def test_when_a_campaign_fails_conditional_offers_are_released_and_stop_counting() -> None:
    campaign = CampaignFactory(target_pence=10_000_00)
    conditional = make_offer(campaign, ratio="1", cap="300", conditional=True)
    unconditional = make_offer(campaign, ratio="0.5", cap="300", conditional=False)
    make_pledge(campaign, pounds="400")
    assert _fresh(campaign).matched_pence == 300_00 + 200_00

    with pytest.raises(match_funding.MatchError, match="only when a campaign has failed"):
        match_funding.release_offers(_fresh(campaign))

    campaign = _fresh(campaign)
    campaign.status = CampaignStatus.FAILED
    db.session.commit()
    released = match_funding.release_offers(campaign, actor=None)
    db.session.commit()

    assert [o.id for o in released] == [conditional.id]
    assert db.session.get_one(MatchOffer, conditional.id).status == MatchStatus.RELEASED
    assert db.session.get_one(MatchOffer, unconditional.id).status == MatchStatus.ACTIVE
    campaign = _fresh(campaign)
    assert campaign.matched_pence == 200_00 == match_funding.counts_toward_success(campaign)
    assert {o.id: m for o, m in match_funding.matched_by_offer(campaign)} == {
        conditional.id: 0,
        unconditional.id: 200_00,
    }
    assert totals.verify() == []

    version = campaign.totals_version
    assert match_funding.release_offers(campaign) == []  # again: nothing to do, nothing written
    db.session.commit()
    assert _fresh(campaign).totals_version == version
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "match_offer.released")).all()
    assert actions == ["match_offer.released"]
