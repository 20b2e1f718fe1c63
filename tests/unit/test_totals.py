"""Campaign totals stay equal to the ledger through any sequence of pledge and payment changes.

A Hypothesis state machine makes pledges of every kind and frequency, commits, pays, refunds,
records bank transfers, cancels, releases and fails them, in random order. After every step the
campaign's stored totals must equal `totals.from_ledger` *and* a sum the test does itself from the
rows, by its own reading of DESIGN.md ("What the totals mean").
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import asdict
from datetime import date

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, text

from app.extensions import db
from app.ledger import rollups, totals
from app.models import (
    LIVE_STATUSES,
    Campaign,
    Frequency,
    Instalment,
    InstalmentStatus,
    Payment,
    PaymentStatus,
    Pledge,
    PledgerKind,
    PledgeStatus,
    Visibility,
)
from app.money import Money
from app.payments import settle
from app.pledging import pledges
from tests.factories import CampaignFactory, OrganisationFactory, make_pledge
from tests.helpers import empty_database

FIELDS = totals.TOTAL_FIELDS
OPEN = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


def stored_totals(campaign_id: int) -> dict[str, int]:
    """The campaign row's totals as the database holds them (plain SQL, nothing cached)."""
    row = db.session.execute(
        text(f"SELECT {', '.join(FIELDS)} FROM campaign WHERE id = :id"),  # noqa: S608 - our own column names
        {"id": campaign_id},
    ).one()
    return dict(zip(FIELDS, (int(v) for v in row), strict=True))


def totals_from_rows(campaign_id: int) -> dict[str, int]:
    """The totals worked out here, in Python, from the pledge, instalment and payment rows.

    - pledged: each live pledge's whole schedule (the sum of its instalments), plus what a
      cancelled pledge actually paid before it stopped (money received stays pledged);
    - collected: succeeded payments less what was refunded of them;
    - pledge_count / council_count: live pledges, and the distinct councils behind them;
    - pledged by councils / by individuals: the pledged rule, split by who pledged (sponsors' own
      pledges in neither);
    - matched: nothing, as this machine makes no match offers (tests/matching has one that does).
    """
    pledge_rows = db.session.execute(
        select(Pledge.id, Pledge.status, Pledge.pledger_kind, Pledge.organisation_id).where(
            Pledge.campaign_id == campaign_id
        )
    ).all()
    ids = [row.id for row in pledge_rows]
    schedule: dict[int, int] = defaultdict(int)
    for pledge_id, amount in db.session.execute(
        select(Instalment.pledge_id, Instalment.amount_pence).where(Instalment.pledge_id.in_(ids))
    ):
        schedule[pledge_id] += amount
    received: dict[int, int] = defaultdict(int)
    for pledge_id, status, amount, refunded in db.session.execute(
        select(Payment.pledge_id, Payment.status, Payment.amount_pence, Payment.refunded_pence).where(
            Payment.pledge_id.in_(ids)
        )
    ):
        if status == PaymentStatus.SUCCEEDED:
            received[pledge_id] += amount - refunded

    result = dict.fromkeys(FIELDS, 0)
    councils = set()
    split = {PledgerKind.COUNCIL: "pledged_council_pence", PledgerKind.INDIVIDUAL: "pledged_individual_pence"}
    for row in pledge_rows:
        pledged = 0
        if row.status in LIVE_STATUSES:
            pledged = schedule[row.id]
            result["pledge_count"] += 1
            if row.pledger_kind == PledgerKind.COUNCIL:
                councils.add(row.organisation_id)
        elif row.status == PledgeStatus.CANCELLED:
            pledged = received[row.id]
        result["pledged_pence"] += pledged
        if row.pledger_kind in split:  # a sponsor's own pledge counts in neither split
            result[split[row.pledger_kind]] += pledged
    result["collected_pence"] = sum(received.values())
    result["council_count"] = len(councils)
    return result


pounds = st.integers(min_value=100, max_value=250_000).map(lambda p: f"{p // 100}.{p % 100:02d}")
pick = st.integers(min_value=0, max_value=1_000_000)
pledge_specs = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(PledgerKind),
        "frequency": st.sampled_from(Frequency),
        # 0 means "until cancelled": as many as the funding period holds (12 months, or 1 year).
        "instalments": st.integers(min_value=0, max_value=12),
        "conditional": st.booleans(),
        "amount": pounds,
        "council": st.integers(min_value=0, max_value=2),
        "visibility": st.sampled_from(Visibility),
        "confirmed": st.booleans(),
    }
)


class LedgerMachine(RuleBasedStateMachine):
    """One fresh campaign per example; the rules are what people, Stripe and the treasurer do."""

    def __init__(self) -> None:
        super().__init__()
        self.campaign_id = CampaignFactory(min_councils=2).id
        self.councils = [OrganisationFactory() for _ in range(3)]
        # What the test itself has seen arrive and go back: an account independent of every row.
        self.money_in = 0
        self.changed = True

    def teardown(self) -> None:
        db.session.rollback()
        empty_database()

    # -- helpers ----------------------------------------------------------------------------

    def _pledges(self, *statuses: PledgeStatus) -> list[Pledge]:
        query = select(Pledge).where(Pledge.campaign_id == self.campaign_id).order_by(Pledge.id)
        if statuses:
            query = query.where(Pledge.status.in_(statuses))
        return list(db.session.scalars(query))

    def _payments(self, *statuses: PaymentStatus) -> list[Payment]:
        query = (
            select(Payment)
            .join(Pledge)
            .where(Pledge.campaign_id == self.campaign_id, Payment.status.in_(statuses))
            .order_by(Payment.id)
        )
        return list(db.session.scalars(query))

    def _payable(self) -> list[Instalment]:
        """Instalments with nothing collected and no charge in flight, across the campaign."""
        in_flight = select(Payment.instalment_id).where(Payment.status.in_(OPEN), Payment.instalment_id.is_not(None))
        query = (
            select(Instalment)
            .join(Pledge)
            .where(
                Pledge.campaign_id == self.campaign_id,
                Instalment.status.in_((InstalmentStatus.SCHEDULED, InstalmentStatus.FAILED)),
                Instalment.id.not_in(in_flight),
            )
            .order_by(Instalment.pledge_id, Instalment.sequence)
        )
        return list(db.session.scalars(query))

    def _done(self) -> None:
        db.session.commit()
        self.changed = True

    def _succeed(self, payment: Payment, fee: int = 0) -> None:
        if payment.status != PaymentStatus.SUCCEEDED:
            self.money_in += payment.amount_pence
        settle.mark_succeeded(payment, fee_pence=fee)

    # -- pledging ----------------------------------------------------------------------------

    def _make(self, spec: dict) -> None:  # type: ignore[type-arg]
        count = None if spec["instalments"] == 0 else spec["instalments"]
        if spec["frequency"] == Frequency.ANNUALLY and count is not None:
            count = 1
        kind = spec["kind"]
        make_pledge(
            db.session.get_one(Campaign, self.campaign_id),
            pounds=spec["amount"],
            kind=kind,
            frequency=spec["frequency"],
            instalments=count,
            conditional=spec["conditional"],
            visibility=spec["visibility"],
            organisation=self.councils[spec["council"]] if kind == PledgerKind.COUNCIL else None,
            status=PledgeStatus.COMMITTED if spec["confirmed"] else PledgeStatus.PENDING,
        )
        self.changed = True

    @initialize(specs=st.lists(pledge_specs, min_size=2, max_size=5))
    def some_pledges_to_start_with(self, specs: list[dict]) -> None:  # type: ignore[type-arg]
        for spec in specs:
            self._make(spec)

    @rule(spec=pledge_specs)
    def pledge(self, spec: dict) -> None:  # type: ignore[type-arg]
        self._make(spec)

    @rule(which=pick, to=st.sampled_from([PledgeStatus.COMMITTED, PledgeStatus.FAILED]))
    def settle_pending_pledge(self, which: int, to: PledgeStatus) -> None:
        candidates = self._pledges(PledgeStatus.PENDING)
        if candidates:
            pledges.change_status(candidates[which % len(candidates)], to, reason="card saved or refused")
            self._done()

    @rule(which=pick)
    def cancel(self, which: int) -> None:
        candidates = self._pledges(PledgeStatus.PENDING, PledgeStatus.COMMITTED, PledgeStatus.ACTIVE)
        if candidates:
            pledges.change_status(candidates[which % len(candidates)], PledgeStatus.CANCELLED, reason="cancelled")
            self._done()

    @rule(which=pick)
    def release_conditional(self, which: int) -> None:
        candidates = [p for p in self._pledges(PledgeStatus.COMMITTED) if p.is_conditional]
        if candidates:
            pledges.change_status(candidates[which % len(candidates)], PledgeStatus.RELEASED, reason="campaign failed")
            self._done()

    @rule(which=pick)
    def mark_a_fully_refunded_pledge_refunded(self, which: int) -> None:
        kept = {p.pledge_id for p in self._payments(PaymentStatus.SUCCEEDED) if p.collected_pence}
        candidates = [
            p for p in self._pledges(PledgeStatus.ACTIVE, PledgeStatus.FULFILLED, PledgeStatus.CANCELLED)
            if p.id not in kept
        ]  # fmt: skip
        if candidates:
            pledges.change_status(candidates[which % len(candidates)], PledgeStatus.REFUNDED, reason="refunded")
            self._done()

    # -- money ------------------------------------------------------------------------------

    @rule(which=pick, outcome=st.sampled_from(["succeeds", "fails", "waits"]), fee=st.integers(0, 99))
    def charge_card(self, which: int, outcome: str, fee: int) -> None:
        payable = self._payable()
        if not payable:
            return
        payment = settle.open_card_payment(payable[which % len(payable)])
        if outcome == "succeeds":
            self._succeed(payment, fee)
        elif outcome == "fails":
            settle.mark_failed(payment, "Your card was declined.")
        self._done()

    @rule(which=pick, succeeded=st.booleans())
    def stripe_answers_a_waiting_charge(self, which: int, succeeded: bool) -> None:
        waiting = self._payments(*OPEN)
        if waiting:
            payment = waiting[which % len(waiting)]
            if succeeded:
                self._succeed(payment)
            else:
                settle.mark_failed(payment, "Authentication failed.")
            self._done()

    @rule(which=pick, again=st.sampled_from(["succeeded", "failed"]))
    def a_late_or_repeated_webhook_changes_nothing(self, which: int, again: str) -> None:
        done = self._payments(PaymentStatus.SUCCEEDED)
        if done:
            payment = done[which % len(done)]
            if again == "succeeded":
                self._succeed(payment)
            else:
                settle.mark_failed(payment, "A late failure must never undo a success.")
            self._done()
            assert payment.status == PaymentStatus.SUCCEEDED

    @rule(which=pick, share=st.integers(min_value=1, max_value=100))
    def partial_refund(self, which: int, share: int) -> None:
        refundable = [p for p in self._payments(PaymentStatus.SUCCEEDED) if p.amount_pence > p.refunded_pence]
        if refundable:
            payment = refundable[which % len(refundable)]
            remaining = payment.amount_pence - payment.refunded_pence
            amount = max(1, remaining * share // 100)
            settle.record_refund(payment, Money(amount))
            self.money_in -= amount
            self._done()

    @rule(which=pick)
    def refunding_more_than_is_left_is_refused(self, which: int) -> None:
        done = self._payments(PaymentStatus.SUCCEEDED)
        if done:
            payment = done[which % len(done)]
            with pytest.raises(settle.PaymentError, match="at most"):
                settle.record_refund(payment, Money(payment.amount_pence - payment.refunded_pence + 1))
            db.session.rollback()
            self.changed = True

    @rule(which=pick, for_instalment=st.booleans(), amount=st.integers(min_value=1, max_value=500_000))
    def bank_transfer(self, which: int, for_instalment: bool, amount: int) -> None:
        instalment = None
        if for_instalment and (payable := self._payable()):
            instalment = payable[which % len(payable)]
            pledge = instalment.pledge
            amount = instalment.amount_pence
        else:
            candidates = self._pledges()
            pledge = candidates[which % len(candidates)]
        settle.record_bank_transfer(
            pledge, instalment, Money(amount), received_on=date(2027, 4, 30), reference=f"BACS {pledge.reference}"
        )
        self.money_in += amount
        self._done()

    # -- what must always hold ----------------------------------------------------------------

    @invariant()
    def stored_totals_equal_the_ledger(self) -> None:
        if not self.changed:
            return  # the step found nothing to do
        self.changed = False
        stored = stored_totals(self.campaign_id)
        ledger = asdict(totals.from_ledger(self.campaign_id))
        by_hand = totals_from_rows(self.campaign_id)
        assert stored == by_hand, f"stored {stored} but the rows say {by_hand}"
        assert ledger == by_hand, f"from_ledger {ledger} but the rows say {by_hand}"
        assert stored["collected_pence"] == self.money_in
        # The roll-ups by kind of pledge and by day, moved by the same changes, agree too.
        assert rollups.differences(self.campaign_id) == []


def test_stored_totals_equal_the_ledger_after_every_change() -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
            print_blob=True,
        ),
    )


# -- `flask totals verify` ---------------------------------------------------------------------


def _two_campaigns() -> tuple[Campaign, Campaign]:
    busy = CampaignFactory(slug="busy")
    quiet = CampaignFactory(slug="quiet")
    council = OrganisationFactory()
    make_pledge(busy, pounds="2,000", kind=PledgerKind.COUNCIL, organisation=council)
    make_pledge(busy, pounds="10", frequency=Frequency.MONTHLY, paid_instalments=3, status=PledgeStatus.ACTIVE)
    make_pledge(quiet, pounds="25", paid_instalments=1, status=PledgeStatus.FULFILLED)
    return busy, quiet


def test_totals_verify_reports_agreement_and_exits_zero(runner) -> None:  # type: ignore[no-untyped-def]
    _two_campaigns()

    result = runner.invoke(args=["totals", "verify"])

    assert result.exit_code == 0, result.output
    assert "All campaign totals agree with the ledger." in result.output


@pytest.mark.parametrize("field", FIELDS)
def test_totals_verify_names_a_tampered_total_and_exits_non_zero(runner, field: str) -> None:  # type: ignore[no-untyped-def]
    busy, _ = _two_campaigns()
    ledger = asdict(totals.from_ledger(busy.id))
    db.session.execute(text(f"UPDATE campaign SET {field} = {field} + 7 WHERE slug = 'busy'"))  # noqa: S608
    db.session.commit()

    result = runner.invoke(args=["totals", "verify"])

    assert result.exit_code != 0
    assert f"busy: {field} is {ledger[field] + 7} but the ledger says {ledger[field]}" in result.output
    assert "quiet" not in result.output
    assert "1 difference(s) found." in result.output


@pytest.mark.postgres_only
def test_totals_verify_never_reports_pledges_being_made_while_it_runs(app, is_postgres: bool) -> None:  # type: ignore[no-untyped-def]
    if not is_postgres:
        pytest.skip("SQLite lets one writer in at a time; the race needs PostgreSQL")
    campaign_id = CampaignFactory().id
    stop = threading.Event()
    made = []

    def keep_pledging() -> None:
        with app.app_context():
            campaign = db.session.get_one(Campaign, campaign_id)
            while not stop.is_set():
                made.append(make_pledge(campaign, pounds="5", paid_instalments=1, status=PledgeStatus.FULFILLED).id)
            db.session.remove()

    writer = threading.Thread(target=keep_pledging)
    writer.start()
    try:
        reports = []
        deadline = time.monotonic() + 30
        while len(made) < 25 and time.monotonic() < deadline:
            reports.extend(totals.verify())
            db.session.rollback()
    finally:
        stop.set()
        writer.join()

    assert len(made) >= 25, "the writer should have been pledging throughout"
    assert reports == [], f"verify reported differences that were only pledges in flight: {reports[:3]}"
    assert totals.verify() == []
