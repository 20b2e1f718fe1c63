"""Reconciliation: compare recent Stripe objects with our payments and report every difference.

A run reads Stripe's PaymentIntents, charges and refunds of the last 30 days, and our card
payments of the same days, and reports where they disagree:

- **unknown to us** — money at Stripe (a PaymentIntent or charge that succeeded or is still
  going through, or a refund) with no payment of ours behind it;
- **missing at Stripe** — our payment names a PaymentIntent Stripe does not know, a succeeded
  card payment has no PaymentIntent at all, or a pending one never reached Stripe;
- **amount or currency** differ between Stripe's PaymentIntent and our payment;
- **status** differs — Stripe says succeeded while we say pending or failed (a lost webhook), or
  the reverse;
- **refunds** differ — Stripe's running total of refunds is not what our payment records.

A run never changes a money record: it writes only the run and its differences. A treasurer
resolves each difference with an audited action — `apply_stripe_state` (through the card flow's
own `apply_result`, or `settle.record_refund`, so the campaign totals move with it) or
`explain` with a note. An explanation carries forward to later runs that find exactly the same
difference, so a known difference is not reported as new every night.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app import audit
from app.database import write_transaction
from app.extensions import db
from app.models import (
    NOT_CREDITED,
    DifferenceKind,
    Outcome,
    Payment,
    PaymentMethod,
    PaymentStatus,
    ReconciliationDifference,
    ReconciliationRun,
    Refund,
    RefundStatus,
    Resolution,
    RunStatus,
    Source,
    User,
    utcnow,
)
from app.money import Money
from app.notifications import email
from app.payments import card_payments, gateway, settle

log = logging.getLogger(__name__)

WINDOW = timedelta(days=30)
# A pending payment younger than this may be being charged right now (see card_payments.STALE_CLAIM).
PENDING_GRACE = timedelta(minutes=15)
# Stripe states in which money has moved, or is moving, and so must be ours.
MONEY_STATES = frozenset({"succeeded", "processing", "requires_capture"})


class ReconcileError(ValueError):
    """A resolution that cannot be made; the message is fit to show a treasurer."""


@dataclass
class Found:
    """A difference before it is stored."""

    kind: DifferenceKind
    key: str
    summary: str
    payment_id: int | None = None
    stripe_id: str | None = None
    ours: dict[str, Any] = field(default_factory=dict)
    stripe: dict[str, Any] = field(default_factory=dict)
    can_apply: bool = False

    @property
    def fingerprint(self) -> str:
        facts = json.dumps([self.kind.value, self.key, self.ours, self.stripe], sort_keys=True, default=str)
        return hashlib.sha256(facts.encode()).hexdigest()


@dataclass
class Comparison:
    """Everything one run looked at, and what it found."""

    found: list[Found] = field(default_factory=list)
    payment_intents: int = 0
    charges: int = 0
    refunds: int = 0
    payments: int = 0


def _money(pence: int, currency: str) -> str:
    try:
        return str(Money(pence, currency))
    except ValueError:
        return f"{pence} {currency or '?'} minor units"


def _ours(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": payment.id,
        "pledge": payment.pledge.reference,
        "status": payment.status.value,
        "amount_pence": payment.amount_pence,
        "currency": payment.currency,
        "refunded_pence": payment.refunded_pence,
        "payment_intent": payment.stripe_payment_intent_id,
    }


def _theirs(intent: gateway.StripeIntent) -> dict[str, Any]:
    charge = intent.charge
    return {
        "payment_intent": intent.payment_intent_id,
        "status": intent.stripe_status,
        "amount_pence": intent.result.amount_pence,
        "currency": intent.result.currency,
        "charge": charge.charge_id if charge else None,
        "refunded_pence": charge.refunded_pence if charge else None,
        "payment_id": (intent.result.metadata or {}).get("payment_id"),
        "created": intent.created.isoformat(),
    }


def _our_state(intent: gateway.StripeIntent) -> PaymentStatus:
    """What our payment would say for this PaymentIntent; anything still under way counts as pending."""
    status = card_payments.STRIPE_STATUS.get(intent.result.status)
    return status if status is not None else PaymentStatus.PENDING


# Failed and cancelled both mean "no money"; they are not a difference worth a treasurer's time.
_NO_MONEY = {PaymentStatus.FAILED, PaymentStatus.CANCELLED}


def _same_state(ours: PaymentStatus, theirs: PaymentStatus) -> bool:
    return ours == theirs or (ours in _NO_MONEY and theirs in _NO_MONEY)


class _Comparer:
    def __init__(self, since: datetime, now: datetime) -> None:
        self.since, self.now = since, now
        self.result = Comparison()
        self.compared: set[int] = set()  # our payments already compared with Stripe
        self.reported_unknown: set[str] = set()  # Stripe ids already reported as unknown to us
        self.seen_intents: set[str] = set()
        self.seen_charges: set[str] = set()

    def add(self, found: Found) -> None:
        if all(f.key != found.key for f in self.result.found):
            self.result.found.append(found)

    # -- finding our payment for a Stripe object --

    @staticmethod
    def payment_for_intent(intent: gateway.StripeIntent) -> tuple[Payment | None, Payment | None]:
        """(our payment for it, or another payment its metadata names that has its own PaymentIntent)."""
        if not intent.result.payment_intent_id:
            return None, None  # never `IS NULL`: it would match every payment without a Stripe id
        payment = db.session.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent.payment_intent_id))
        if payment is not None:
            return payment, None
        # A crash after Stripe answered but before we saved the id leaves only the metadata to go on.
        named = (intent.result.metadata or {}).get("payment_id")
        if isinstance(named, str) and named.isdigit():
            candidate = db.session.get(Payment, int(named))
            if candidate is not None and candidate.stripe_payment_intent_id is None:
                return candidate, None
            return None, candidate
        return None, None

    @staticmethod
    def payment_for_charge(charge_id: str | None, intent_id: str | None) -> Payment | None:
        clauses = []
        if charge_id:
            clauses.append(Payment.stripe_charge_id == charge_id)
        if intent_id:
            clauses.append(Payment.stripe_payment_intent_id == intent_id)
        if not clauses:
            return None
        return db.session.scalars(select(Payment).where(or_(*clauses))).first()

    # -- the comparisons --

    def intents(self, intents: Iterable[gateway.StripeIntent]) -> None:
        for intent in intents:
            self.result.payment_intents += 1
            self.seen_intents.add(intent.payment_intent_id)
            if intent.charge is not None:
                self.seen_charges.add(intent.charge.charge_id)
            payment, other = self.payment_for_intent(intent)
            if payment is not None:
                self.compare(payment, intent)
            elif intent.stripe_status in MONEY_STATES:
                self.unknown_intent(intent, other)

    def unknown_intent(self, intent: gateway.StripeIntent, other: Payment | None) -> None:
        amount = _money(intent.result.amount_pence, intent.result.currency)
        if other is not None:
            summary = (
                f"Stripe has {amount} ({intent.stripe_status}) in PaymentIntent {intent.payment_intent_id}, whose "
                f"metadata names our payment {other.id} ({other.pledge.reference}) — but that payment is "
                f"{other.stripe_payment_intent_id}. This may be a second charge for one payment."
            )
        else:
            summary = (
                f"Stripe has {amount} ({intent.stripe_status}) in PaymentIntent {intent.payment_intent_id}, "
                "and we have no payment for it."
            )
        self.reported_unknown.add(intent.payment_intent_id)
        if intent.charge is not None:
            self.reported_unknown.add(intent.charge.charge_id)
        self.add(
            Found(
                DifferenceKind.UNKNOWN_TO_US,
                f"unknown:{intent.payment_intent_id}",
                summary,
                payment_id=other.id if other is not None else None,
                stripe_id=intent.payment_intent_id,
                ours=_ours(other) if other is not None else {},
                stripe=_theirs(intent),
            )
        )

    def compare(self, payment: Payment, intent: gateway.StripeIntent) -> None:
        """One payment of ours against its PaymentIntent: amount first, then status, then refunds."""
        self.compared.add(payment.id)
        self.result.payments += 1
        ref = f"payment {payment.id} ({payment.pledge.reference})"
        theirs, ours = _theirs(intent), _ours(payment)
        if intent.result.amount_pence != payment.amount_pence or intent.result.currency.upper() != payment.currency:
            self.add(
                Found(
                    DifferenceKind.AMOUNT_MISMATCH,
                    f"amount:{payment.id}:{intent.payment_intent_id}",
                    f"Stripe's PaymentIntent {intent.payment_intent_id} is for "
                    f"{_money(intent.result.amount_pence, intent.result.currency)} ({intent.stripe_status}); "
                    f"our {ref} is for {payment.amount} ({payment.status.value}). Nothing will be credited "
                    "automatically: check the charge in Stripe and refund or correct it there.",
                    payment_id=payment.id,
                    stripe_id=intent.payment_intent_id,
                    ours=ours,
                    stripe=theirs,
                )
            )
            return
        state = _our_state(intent)
        if not _same_state(payment.status, state):
            forward = card_payments.RANK[state] > card_payments.RANK[payment.status]
            if state == PaymentStatus.SUCCEEDED:
                summary = (
                    f"Stripe took {payment.amount} in PaymentIntent {intent.payment_intent_id}, but our {ref} is "
                    f"{payment.status.value}: the webhook that would have told us was lost."
                )
            elif payment.status == PaymentStatus.SUCCEEDED:
                summary = (
                    f"Our {ref} says {payment.amount} was received, but Stripe's PaymentIntent "
                    f"{intent.payment_intent_id} is {intent.stripe_status}."
                )
            else:
                summary = (
                    f"Stripe's PaymentIntent {intent.payment_intent_id} is {intent.stripe_status}, "
                    f"but our {ref} is {payment.status.value}."
                )
            self.add(
                Found(
                    DifferenceKind.STATUS_MISMATCH,
                    f"status:{payment.id}:{intent.payment_intent_id}",
                    summary,
                    payment_id=payment.id,
                    stripe_id=intent.payment_intent_id,
                    ours=ours,
                    stripe=theirs,
                    can_apply=forward and payment.status != PaymentStatus.SUCCEEDED,
                )
            )
            return
        if payment.status == PaymentStatus.SUCCEEDED and intent.charge is not None:
            self.compare_refunds(payment, intent.charge.refunded_pence, intent.payment_intent_id, ours, theirs)

    def compare_refunds(
        self, payment: Payment, stripe_refunded: int, stripe_id: str, ours: dict[str, Any], theirs: dict[str, Any]
    ) -> None:
        if stripe_refunded == payment.refunded_pence:
            return
        stripe_amount = _money(stripe_refunded, payment.currency)
        self.add(
            Found(
                DifferenceKind.REFUND_MISMATCH,
                f"refunds:{payment.id}",
                f"Stripe has refunded {stripe_amount} of {stripe_id}; our payment {payment.id} "
                f"({payment.pledge.reference}) records {Money(payment.refunded_pence, payment.currency)} refunded.",
                payment_id=payment.id,
                stripe_id=stripe_id,
                ours=ours,
                stripe=theirs,
                can_apply=payment.refunded_pence < stripe_refunded <= payment.amount_pence,
            )
        )

    def charges(self, charges: Iterable[gateway.StripeCharge]) -> None:
        """Charges the PaymentIntents did not cover: made without one, or on an older PaymentIntent."""
        for charge in charges:
            self.result.charges += 1
            if charge.charge_id in self.seen_charges or charge.payment_intent_id in self.seen_intents:
                continue
            self.seen_charges.add(charge.charge_id)
            payment = self.payment_for_charge(charge.charge_id, charge.payment_intent_id)
            if payment is not None:
                self.recheck(payment)
            elif charge.status in MONEY_STATES or charge.status == "pending":
                self.unknown_charge(charge.charge_id, charge.payment_intent_id, charge.amount_pence, charge.currency)

    def unknown_charge(self, charge_id: str, intent_id: str | None, amount: int, currency: str) -> None:
        if charge_id in self.reported_unknown or (intent_id and intent_id in self.reported_unknown):
            return
        self.reported_unknown.add(charge_id)
        self.add(
            Found(
                DifferenceKind.UNKNOWN_TO_US,
                f"unknown:{charge_id}",
                f"Stripe has a charge {charge_id} of {_money(amount, currency)}"
                + (f" (PaymentIntent {intent_id})" if intent_id else " made without a PaymentIntent")
                + ", and we have no payment for it.",
                stripe_id=charge_id,
                stripe={"charge": charge_id, "payment_intent": intent_id, "amount_pence": amount, "currency": currency},
            )
        )

    def refunds(self, refunds: Iterable[gateway.StripeRefund]) -> None:
        """Refunds made lately of payments older than the window, or of charges we do not know."""
        for refund in refunds:
            self.result.refunds += 1
            intent_id = refund.payment_intent_id or (refund.charge.payment_intent_id if refund.charge else None)
            if refund.charge_id in self.seen_charges or (intent_id and intent_id in self.seen_intents):
                continue  # its charge was compared above, running total and all
            if refund.charge_id:
                self.seen_charges.add(refund.charge_id)
            payment = self.payment_for_charge(refund.charge_id, intent_id)
            if payment is not None:
                self.recheck(payment)
            elif refund.status in ("succeeded", "pending") and refund.charge_id:
                if refund.charge_id in self.reported_unknown or (intent_id and intent_id in self.reported_unknown):
                    continue
                self.reported_unknown.add(refund.charge_id)
                self.add(
                    Found(
                        DifferenceKind.UNKNOWN_TO_US,
                        f"unknown-refund:{refund.refund_id}",
                        f"Stripe refunded {_money(refund.amount_pence, refund.currency)} ({refund.refund_id}) of "
                        f"charge {refund.charge_id}, and we have no payment for that charge.",
                        stripe_id=refund.refund_id,
                        stripe={
                            "refund": refund.refund_id,
                            "charge": refund.charge_id,
                            "payment_intent": intent_id,
                            "amount_pence": refund.amount_pence,
                            "currency": refund.currency,
                        },
                    )
                )

    def recheck(self, payment: Payment) -> None:
        """Compare a payment found through a charge or refund with its PaymentIntent, fetched on its own."""
        if payment.id in self.compared:
            return
        if not payment.stripe_payment_intent_id:
            return
        intent = gateway.find_payment_intent(payment.stripe_payment_intent_id)
        if intent is None:
            self.missing(payment, f"Stripe does not know its PaymentIntent {payment.stripe_payment_intent_id}")
            return
        self.seen_intents.add(intent.payment_intent_id)
        self.compare(payment, intent)

    def ours(self) -> None:
        """Our card payments of the window that nothing at Stripe accounted for."""
        rows = db.session.scalars(
            select(Payment)
            .where(Payment.method == PaymentMethod.CARD, Payment.created_at >= self.since)
            .order_by(Payment.id)
        )
        for payment in rows:
            if payment.id in self.compared:
                continue
            if payment.stripe_payment_intent_id:
                self.recheck(payment)
            elif payment.status == PaymentStatus.SUCCEEDED:
                self.missing(payment, "it is a succeeded card payment with no PaymentIntent")
            elif payment.status == PaymentStatus.PENDING and payment.created_at < self.now - PENDING_GRACE:
                self.missing(
                    payment,
                    "it has been pending since "
                    f"{payment.created_at:%Y-%m-%d %H:%M} UTC and never reached Stripe "
                    "(`flask payments collect-due` will try it again)",
                )
            else:
                self.compared.add(payment.id)
                self.result.payments += 1

    def missing(self, payment: Payment, why: str) -> None:
        if payment.id not in self.compared:
            self.compared.add(payment.id)
            self.result.payments += 1
        self.add(
            Found(
                DifferenceKind.MISSING_AT_STRIPE,
                f"missing:{payment.id}",
                f"Our payment {payment.id} ({payment.pledge.reference}, {payment.amount}, {payment.status.value}) "
                f"is missing at Stripe: {why}.",
                payment_id=payment.id,
                stripe_id=payment.stripe_payment_intent_id,
                ours=_ours(payment),
            )
        )


def compare(since: datetime, now: datetime | None = None) -> Comparison:
    """Compare Stripe's objects created since `since` with our card payments. Reads only.

    Raises `gateway.GatewayError` if Stripe cannot be read.
    """
    comparer = _Comparer(since, now or utcnow())
    comparer.intents(gateway.list_payment_intents(since))
    comparer.charges(gateway.list_charges(since))
    comparer.refunds(gateway.list_refunds(since))
    comparer.ours()
    return comparer.result


# --- Runs --------------------------------------------------------------------------------------


def run(*, actor: User | None = None, days: int = 30, now: datetime | None = None) -> ReconciliationRun:
    """Compare the last `days` of Stripe with our records and keep the result. Changes no money record.

    Safe to run twice at once: each run keeps its own result. If Stripe cannot be read the run is
    kept as failed, with the reason.
    """
    now = now or utcnow()
    since = now - timedelta(days=days)
    with write_transaction():
        record = ReconciliationRun(
            window_start=since, started_at=utcnow(), status=RunStatus.RUNNING, started_by_id=actor.id if actor else None
        )
        db.session.add(record)
        db.session.commit()
    run_id = record.id
    try:
        result = compare(since, now)
    except gateway.GatewayError as error:
        db.session.rollback()
        with write_transaction():
            record = db.session.get_one(ReconciliationRun, run_id)
            record.status = RunStatus.FAILED
            record.error = error.message[:500]
            record.finished_at = utcnow()
            db.session.commit()
        return record
    # Reading Stripe took a while: begin the writing afresh, so SQLite's writer lock is held briefly.
    db.session.rollback()
    with write_transaction():
        record = db.session.get_one(ReconciliationRun, run_id)
        record.payment_intents_checked = result.payment_intents
        record.charges_checked = result.charges
        record.refunds_checked = result.refunds
        record.payments_checked = result.payments
        for found in result.found:
            _stored(record, found)
        record.status = RunStatus.DIFFERENCES if result.found else RunStatus.CLEAN
        record.finished_at = utcnow()
        db.session.commit()
    log.info("reconciliation run %s: %s difference(s)", run_id, len(result.found))
    return record


def _stored(record: ReconciliationRun, found: Found) -> ReconciliationDifference:
    difference = ReconciliationDifference(
        run=record,
        kind=found.kind,
        key=found.key[:255],
        fingerprint=found.fingerprint,
        payment_id=found.payment_id,
        stripe_id=found.stripe_id,
        summary=found.summary,
        ours=found.ours,
        stripe=found.stripe,
        can_apply=found.can_apply,
    )
    db.session.add(difference)
    earlier = db.session.scalars(
        select(ReconciliationDifference)
        .where(
            ReconciliationDifference.key == difference.key,
            ReconciliationDifference.fingerprint == difference.fingerprint,
            ReconciliationDifference.resolution == Resolution.EXPLAINED,
        )
        .order_by(ReconciliationDifference.id.desc())
    ).first()
    if earlier is not None:
        difference.resolution = Resolution.EXPLAINED
        difference.resolution_note = earlier.resolution_note
        difference.resolved_at = earlier.resolved_at
        difference.resolved_by_id = earlier.resolved_by_id
        difference.explained_in_id = earlier.explained_in_id or earlier.id
    return difference


def latest_run() -> ReconciliationRun | None:
    """The most recent run that finished (clean, with differences, or failed)."""
    return db.session.scalars(
        select(ReconciliationRun)
        .where(ReconciliationRun.status != RunStatus.RUNNING)
        .order_by(ReconciliationRun.started_at.desc(), ReconciliationRun.id.desc())
    ).first()


def running_now() -> ReconciliationRun | None:
    """A run started in the last half hour that has not finished."""
    return db.session.scalars(
        select(ReconciliationRun)
        .where(
            ReconciliationRun.status == RunStatus.RUNNING,
            ReconciliationRun.started_at >= utcnow() - timedelta(minutes=30),
        )
        .order_by(ReconciliationRun.id.desc())
    ).first()


def open_differences(record: ReconciliationRun) -> list[ReconciliationDifference]:
    return [d for d in record.differences if d.resolution is None]


# --- Resolving a difference --------------------------------------------------------------------


def check_resolvable(difference: ReconciliationDifference) -> None:
    if difference.resolution is not None:
        raise ReconcileError("This difference has already been resolved.")
    latest = latest_run()
    if latest is None or latest.id != difference.run_id:
        raise ReconcileError("A newer reconciliation has replaced this result. Resolve the differences it found.")


def _claim(difference_id: int, resolution: Resolution, actor: User, note: str) -> bool:
    claimed = db.session.execute(
        update(ReconciliationDifference)
        .where(ReconciliationDifference.id == difference_id, ReconciliationDifference.resolution.is_(None))
        .values(resolution=resolution, resolution_note=note, resolved_at=utcnow(), resolved_by_id=actor.id)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def explain(difference_id: int, *, actor: User, note: str) -> ReconciliationDifference:
    """Mark a difference as explained, with the treasurer's note. Changes nothing else."""
    with write_transaction():
        difference = db.session.get_one(ReconciliationDifference, difference_id, populate_existing=True)
        try:
            check_resolvable(difference)
        except ReconcileError:
            db.session.rollback()
            raise
        if not _claim(difference.id, Resolution.EXPLAINED, actor, note):
            db.session.rollback()
            raise ReconcileError("This difference has already been resolved.")
        audit.record(
            "reconciliation.explained",
            actor=actor,
            target=difference,
            summary=f"{difference.kind.label}: explained — {note}",
            detail={
                "run_id": difference.run_id,
                "kind": difference.kind.value,
                "payment_id": difference.payment_id,
                "stripe_id": difference.stripe_id,
                "note": note,
            },
        )
        db.session.commit()
    db.session.refresh(difference)
    return difference


def apply_stripe_state(difference_id: int, *, actor: User, note: str = "") -> str:
    """Bring our payment up to what Stripe says now, through the ledger's own code; returns what changed.

    Stripe is asked afresh (not the run's copy), the payment is locked, and the change goes
    through `card_payments.apply_result` (a lost webhook) or `settle.record_refund` (refunds we
    did not record), so the campaign totals and the pledge's status move with it.
    """
    difference = db.session.get_one(ReconciliationDifference, difference_id, populate_existing=True)
    check_resolvable(difference)
    if not difference.can_apply or difference.payment is None:
        raise ReconcileError("Stripe's state cannot be applied to this difference; explain it instead.")
    intent_id = difference.payment.stripe_payment_intent_id or difference.stripe_id
    if not intent_id:
        raise ReconcileError("There is no PaymentIntent to read Stripe's state from.")
    intent = gateway.find_payment_intent(intent_id)
    if intent is None:
        raise ReconcileError(f"Stripe no longer knows PaymentIntent {intent_id}.")
    made = gateway.refunds_of(intent_id) if difference.kind == DifferenceKind.REFUND_MISMATCH else []
    db.session.rollback()
    try:
        with write_transaction():
            changed = _apply(difference_id, intent, actor, note)
            _finish_our_refunds(difference.payment_id, made)
            email.commit_and_deliver()
    except IntegrityError as error:
        db.session.rollback()
        log.error("applying difference %s: %s", difference_id, error.orig)
        raise ReconcileError(
            "Another payment already pays this instalment, so this one cannot be marked paid too. "
            "Refund the Stripe charge instead, then explain this difference."
        ) from error
    return changed


def _finish_our_refunds(payment_id: int | None, made: list[gateway.StripeRefund]) -> None:
    """Our refunds left unfinished (Stripe answered after we stopped listening) that Stripe did make."""
    by_our_id = {r.metadata.get("refund_id"): r for r in made if r.status == "succeeded"}
    for refund in db.session.scalars(
        select(Refund).where(Refund.payment_id == payment_id, Refund.status == RefundStatus.PENDING)
    ):
        stripe_refund = by_our_id.get(str(refund.id))
        if stripe_refund is not None and stripe_refund.amount_pence == refund.amount_pence:
            refund.status = RefundStatus.SUCCEEDED
            refund.stripe_refund_id = stripe_refund.refund_id
            refund.completed_at = utcnow()


def _apply(difference_id: int, intent: gateway.StripeIntent, actor: User, note: str) -> str:
    difference = db.session.get_one(ReconciliationDifference, difference_id, populate_existing=True)
    payment = db.session.scalars(
        select(Payment)
        .where(Payment.id == difference.payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    before = {"status": payment.status.value, "refunded_pence": payment.refunded_pence}
    if difference.kind == DifferenceKind.REFUND_MISMATCH:
        stripe_refunded = intent.charge.refunded_pence if intent.charge else 0
        extra = min(stripe_refunded, payment.amount_pence) - payment.refunded_pence
        if extra > 0 and payment.status == PaymentStatus.SUCCEEDED:
            settle.settle(payment, Outcome.REFUNDED, source=Source.RECONCILE, amount_pence=extra, actor=actor)
            changed = f"Recorded {Money(extra, payment.currency)} more refunded, as Stripe says."
        else:
            changed = "Nothing to change: our payment already records what Stripe has refunded."
    else:
        if intent.payment_intent_id != (payment.stripe_payment_intent_id or intent.payment_intent_id):
            db.session.rollback()
            raise ReconcileError("Stripe's PaymentIntent is not this payment's.")
        outcome = card_payments.apply_result(payment, intent.result, source=Source.RECONCILE)
        if outcome.kind in NOT_CREDITED:
            db.session.rollback()
            raise ReconcileError(f"Stripe's state was not applied: {outcome.note}.")
        changed = (
            f"Payment {payment.id} is {payment.status.value}, as Stripe says."
            if outcome.applied
            else f"Nothing to change: payment {payment.id} is already {payment.status.value}."
        )
    if not _claim(difference.id, Resolution.APPLIED, actor, note or changed):
        db.session.rollback()
        raise ReconcileError("This difference has already been resolved.")
    audit.record(
        "reconciliation.applied",
        actor=actor,
        target=payment,
        summary=f"{difference.kind.label} for {payment.pledge.reference}: {changed}",
        detail={
            "difference_id": difference.id,
            "run_id": difference.run_id,
            "kind": difference.kind.value,
            "payment_intent": intent.payment_intent_id,
            "before": before,
            "after": {"status": payment.status.value, "refunded_pence": payment.refunded_pence},
            "note": note,
        },
    )
    return changed
