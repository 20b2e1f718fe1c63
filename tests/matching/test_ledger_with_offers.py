"""Matched money stays equal to the ledger through any sequence of pledges, payments, refunds,
cancels and offers being made, withdrawn and released.

A Hypothesis state machine does those things in random order. After every step the campaign's
stored totals must equal `totals.from_ledger` (so `totals.verify()` finds nothing), and matched
must equal a sum this test works out itself from the rows and the offers, by the rule in
app/matching/match_funding.py: min(cap, eligible pledged × ratio // 10000) per active offer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from app.extensions import db
from app.ledger import totals
from app.matching import match_funding
from app.models import (
    LIVE_STATUSES,
    Campaign,
    CampaignStatus,
    Frequency,
    Instalment,
    InstalmentStatus,
    MatchEligibility,
    MatchOffer,
    MatchStatus,
    Payment,
    PaymentStatus,
    Pledge,
    PledgerKind,
    PledgeStatus,
)
from app.money import Money
from app.payments import settle
from app.pledging import pledges
from tests.factories import CampaignFactory, OrganisationFactory, SponsorFactory, make_pledge
from tests.helpers import empty_database

pick = st.integers(min_value=0, max_value=1_000_000)


def by_hand(campaign_id: int) -> dict[str, int]:
    """Pledged by councils and by individuals, and matched, from the rows alone."""
    rows = db.session.execute(
        select(Pledge.id, Pledge.status, Pledge.pledger_kind, Pledge.commitment_pence).where(
            Pledge.campaign_id == campaign_id
        )
    ).all()
    received: dict[int, int] = defaultdict(int)
    for pledge_id, amount, refunded in db.session.execute(
        select(Payment.pledge_id, Payment.amount_pence, Payment.refunded_pence).where(
            Payment.pledge_id.in_([r.id for r in rows]), Payment.status == PaymentStatus.SUCCEEDED
        )
    ):
        received[pledge_id] += amount - refunded
    split = {PledgerKind.COUNCIL: 0, PledgerKind.INDIVIDUAL: 0, PledgerKind.SPONSOR: 0}
    for row in rows:
        if row.status in LIVE_STATUSES:
            split[row.pledger_kind] += row.commitment_pence
        elif row.status == PledgeStatus.CANCELLED:
            split[row.pledger_kind] += received[row.id]
    matched = 0
    for offer in db.session.scalars(select(MatchOffer).where(MatchOffer.campaign_id == campaign_id)):
        if offer.status != MatchStatus.ACTIVE:
            continue
        eligible = {
            MatchEligibility.COUNCILS: split[PledgerKind.COUNCIL],
            MatchEligibility.INDIVIDUALS: split[PledgerKind.INDIVIDUAL],
            MatchEligibility.BOTH: split[PledgerKind.COUNCIL] + split[PledgerKind.INDIVIDUAL],
        }[offer.eligibility]
        matched += min(offer.cap_pence, eligible * offer.ratio_bp // 10_000)
    return {
        "pledged_council_pence": split[PledgerKind.COUNCIL],
        "pledged_individual_pence": split[PledgerKind.INDIVIDUAL],
        "matched_pence": matched,
    }


class MatchedLedger(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.campaign_id = CampaignFactory(target_pence=20_000_00).id
        self.councils = [OrganisationFactory() for _ in range(2)]
        self.sponsors = [SponsorFactory() for _ in range(2)]
        self.refusals: list[str] = []  # every refusal must be one of the documented ones

    def teardown(self) -> None:
        db.session.rollback()
        empty_database()

    def _campaign(self) -> Campaign:
        return db.session.get_one(Campaign, self.campaign_id)

    def _pledges(self, *statuses: PledgeStatus) -> list[Pledge]:
        return list(
            db.session.scalars(
                select(Pledge)
                .where(Pledge.campaign_id == self.campaign_id, Pledge.status.in_(statuses))
                .order_by(Pledge.id)
            )
        )

    @initialize(count=st.integers(min_value=1, max_value=3))
    def a_few_pledges(self, count: int) -> None:
        for n in range(count):
            make_pledge(self._campaign(), pounds=f"{10 + n}.01")

    @rule(
        kind=st.sampled_from(PledgerKind),
        pence=st.integers(min_value=100, max_value=500_000),
        monthly=st.booleans(),
        which=pick,
        confirmed=st.booleans(),
    )
    def pledge(self, kind: PledgerKind, pence: int, monthly: bool, which: int, confirmed: bool) -> None:
        if self._campaign().status != CampaignStatus.LIVE:
            return  # a failed campaign takes no more pledges
        organisation = None
        if kind == PledgerKind.COUNCIL:
            organisation = self.councils[which % 2]
        elif kind == PledgerKind.SPONSOR:
            organisation = self.sponsors[which % 2]
        make_pledge(
            self._campaign(),
            pounds=f"{pence // 100}.{pence % 100:02d}",
            kind=kind,
            organisation=organisation,
            frequency=Frequency.MONTHLY if monthly else Frequency.ONE_OFF,
            instalments=3 if monthly else None,
            status=PledgeStatus.COMMITTED if confirmed else PledgeStatus.PENDING,
        )

    @rule(which=pick)
    def commit_pending(self, which: int) -> None:
        if candidates := self._pledges(PledgeStatus.PENDING):
            pledges.change_status(candidates[which % len(candidates)], PledgeStatus.COMMITTED, reason="card saved")
            db.session.commit()

    @rule(which=pick)
    def pay_an_instalment(self, which: int) -> None:
        due = list(
            db.session.scalars(
                select(Instalment)
                .join(Pledge)
                .where(
                    Pledge.campaign_id == self.campaign_id,
                    Pledge.status.in_(LIVE_STATUSES),
                    Instalment.status == InstalmentStatus.SCHEDULED,
                )
                .order_by(Instalment.id)
            )
        )
        if due:
            settle.mark_succeeded(settle.open_card_payment(due[which % len(due)]))
            db.session.commit()

    @rule(which=pick, share=st.integers(min_value=1, max_value=100))
    def refund(self, which: int, share: int) -> None:
        paid = [
            p
            for p in db.session.scalars(
                select(Payment).join(Pledge).where(Pledge.campaign_id == self.campaign_id).order_by(Payment.id)
            )
            if p.status == PaymentStatus.SUCCEEDED and p.amount_pence > p.refunded_pence
        ]
        if paid:
            payment = paid[which % len(paid)]
            settle.record_refund(payment, Money(max(1, (payment.amount_pence - payment.refunded_pence) * share // 100)))
            db.session.commit()

    @rule(which=pick)
    def cancel(self, which: int) -> None:
        if candidates := self._pledges(PledgeStatus.PENDING, PledgeStatus.COMMITTED, PledgeStatus.ACTIVE):
            pledges.change_status(candidates[which % len(candidates)], PledgeStatus.CANCELLED, reason="cancelled")
            db.session.commit()

    @rule(
        which=pick,
        ratio_bp=st.integers(min_value=1, max_value=100_000),
        cap=st.integers(min_value=1, max_value=600_000),
        eligibility=st.sampled_from(MatchEligibility),
        conditional=st.booleans(),
    )
    def offer(self, which: int, ratio_bp: int, cap: int, eligibility: MatchEligibility, conditional: bool) -> None:
        ratio = f"{ratio_bp // 10_000}.{ratio_bp % 10_000:04d}"
        try:
            match_funding.create_offer(
                self._campaign(), self.sponsors[which % 2], ratio, Money(cap), eligibility, conditional, None
            )
        except match_funding.MatchError as refused:
            db.session.rollback()
            self.refusals.append(str(refused))
        else:
            db.session.commit()

    @rule(which=pick)
    def withdraw(self, which: int) -> None:
        active = list(
            db.session.scalars(
                select(MatchOffer)
                .where(MatchOffer.campaign_id == self.campaign_id, MatchOffer.status == MatchStatus.ACTIVE)
                .order_by(MatchOffer.id)
            )
        )
        if active:
            offer = active[which % len(active)]
            try:
                match_funding.withdraw_offer(offer, None, "changed plans")
            except match_funding.MatchError as refused:
                db.session.rollback()
                self.refusals.append(str(refused))
            else:
                db.session.commit()

    @rule()
    def campaign_fails(self) -> None:
        campaign = self._campaign()
        if campaign.status == CampaignStatus.LIVE:
            campaign.status = CampaignStatus.FAILED
            db.session.commit()
        match_funding.release_offers(self._campaign())
        db.session.commit()

    @invariant()
    def offers_are_refused_only_for_documented_reasons(self) -> None:
        expected = ("can provide at most", "is not open", "already matched")
        unexpected = [text for text in self.refusals if not any(reason in text for reason in expected)]
        assert not unexpected

    @invariant()
    def matched_money_agrees_with_the_ledger(self) -> None:
        db.session.expire_all()
        campaign = self._campaign()
        stored = asdict(totals.stored(campaign))
        assert stored == asdict(totals.from_ledger(self.campaign_id))
        hand = by_hand(self.campaign_id)
        assert {k: stored[k] for k in hand} == hand
        assert match_funding.counts_toward_success(campaign) == campaign.matched_pence
        assert totals.verify() == []


def test_matched_money_equals_the_ledger_after_every_change() -> None:
    run_state_machine_as_test(
        MatchedLedger,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
            print_blob=True,
        ),
    )
