"""Card pledges through Stripe: save the card, charge instalments, apply what Stripe tells us.

The order of work is always: write our payment row and commit, then call Stripe with that row's
id as the idempotency key, then record the outcome. If we crash or Stripe is unreachable between
the steps, the row stays `pending` and a retry (or `flask payments collect-due`) finishes it with
the same key, so nothing is lost and nothing is charged twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app import links
from app.database import retry_if_busy, write_transaction
from app.extensions import db
from app.models import (
    Campaign,
    CampaignStatus,
    Instalment,
    InstalmentStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Pledge,
    PledgerKind,
    PledgeStatus,
    Source,
    utcnow,
)
from app.models import Outcome as PaymentOutcome
from app.money import Money
from app.notifications import email
from app.payments import gateway, settle
from app.pledging import pledges

log = logging.getLogger(__name__)

# Stripe's states only move forward: a late or repeated event never moves a payment back.
RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.REQUIRES_ACTION: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CANCELLED: 2,
    PaymentStatus.SUCCEEDED: 3,
}
STRIPE_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "failed": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELLED,
}


class CardFlowError(ValueError):
    """The message is fit to show the pledger."""


def _metadata(pledge: Pledge) -> dict[str, str]:
    return {"pledge_id": str(pledge.id), "pledge_reference": pledge.reference, "campaign": pledge.campaign.slug}


def start_card_setup(pledge: Pledge) -> gateway.SetupSession:
    """A SetupIntent for saving (or replacing) the pledge's card. Commits the ids it gets."""
    session = gateway.start_card_setup(
        email=pledge.email, name=pledge.name, metadata=_metadata(pledge), customer_id=pledge.stripe_customer_id
    )
    with write_transaction():
        db.session.refresh(pledge, with_for_update=True)
        pledge.stripe_customer_id = session.customer_id
        pledge.stripe_setup_intent_id = session.setup_intent_id
        db.session.commit()
    return session


def record_saved_card(pledge: Pledge, setup_intent_id: str) -> Payment | None:
    """The browser says the card is saved: check with Stripe, then commit or charge the pledge.

    Returns the first payment when an unconditional pledge is charged at once.
    """
    saved = gateway.retrieve_setup(setup_intent_id)
    belongs = setup_intent_id == pledge.stripe_setup_intent_id or saved.metadata.get("pledge_id") == str(pledge.id)
    if not belongs:
        raise CardFlowError("That card was not saved for this pledge. Try again.")
    if saved.status != "succeeded" or not saved.payment_method_id:
        raise CardFlowError("Your card has not been saved yet. Enter your card details and try again.")
    with write_transaction():
        db.session.refresh(pledge, with_for_update=True)
        use_card(pledge, saved.payment_method_id, saved.customer_id)
        if pledge.status == PledgeStatus.PENDING and pledge.is_conditional:
            commit_conditional(pledge)
            email.commit_and_deliver()
            return None
        db.session.commit()
    if pledge.status == PledgeStatus.PENDING:
        return charge_instalment(pledge.instalments[0])
    return None


def use_card(pledge: Pledge, payment_method_id: str, customer_id: str | None) -> None:
    pledge.stripe_payment_method_id = payment_method_id
    if customer_id:
        pledge.stripe_customer_id = customer_id
    # A new card gets another go at instalments the old one failed.
    for instalment in pledge.instalments:
        if instalment.status == InstalmentStatus.FAILED:
            instalment.status = InstalmentStatus.SCHEDULED


def commit_conditional(pledge: Pledge) -> None:
    pledges.change_status(pledge, PledgeStatus.COMMITTED, reason="Card saved; charged only if the campaign succeeds")
    email.queue(
        "pledge_confirmation",
        pledge.email,
        f"Your pledge {pledge.reference} to {pledge.campaign.title}",
        pledge=pledge,
        my_pledges_url=links.my_pledges_url(pledge),
    )


def _open_payment_for(instalment: Instalment) -> Payment:
    """The instalment's unfinished card payment, or a new one written and committed now."""
    with write_transaction():
        return _open_payment_in_transaction(instalment)


def _open_payment_in_transaction(instalment: Instalment) -> Payment:
    existing = db.session.scalar(
        select(Payment).where(
            Payment.instalment_id == instalment.id,
            Payment.method == PaymentMethod.CARD,
            Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.SUCCEEDED]),
        )
    )
    if existing is not None:
        return existing
    try:
        payment = settle.open_card_payment(instalment)
        db.session.commit()
    except IntegrityError:
        # Someone else (another collect-due run, a double click) opened it first: use theirs.
        db.session.rollback()
        return db.session.scalars(
            select(Payment)
            .where(Payment.instalment_id == instalment.id, Payment.method == PaymentMethod.CARD)
            .order_by(Payment.id.desc())
        ).first()  # type: ignore[return-value]
    return payment


def charge_instalment(instalment: Instalment) -> Payment:
    """Charge one instalment to the saved card, at most once whatever happens around it.

    Raises `gateway.GatewayUnavailable` when Stripe cannot be reached; the payment row stays
    pending and the same call later completes it.
    """
    pledge = instalment.pledge
    if not pledge.stripe_payment_method_id or not pledge.stripe_customer_id:
        raise CardFlowError("There is no saved card for this pledge.")
    payment = _open_payment_for(instalment)
    customer_id, method_id = pledge.stripe_customer_id, pledge.stripe_payment_method_id
    metadata = {**_metadata(pledge), "instalment": str(instalment.sequence)}
    return charge_once(
        payment,
        lambda: gateway.charge_saved_card(
            payment_id=payment.id,
            amount_pence=payment.amount_pence,
            currency=payment.currency,
            customer_id=customer_id,
            payment_method_id=method_id,
            metadata=metadata,
        ),
    )


def charge_once(payment: Payment, charge: Callable[[], gateway.ChargeResult]) -> Payment:
    """Make the Stripe call `charge` for a committed, pending payment row, at most once.

    A payment that already has a PaymentIntent is brought up to date from Stripe instead of being
    charged again; one that another process is charging right now is returned as it is (still
    pending). Raises `gateway.GatewayUnavailable` when Stripe cannot be reached, leaving the row
    pending for a retry with the same idempotency key.
    """
    if payment.status != PaymentStatus.PENDING:
        return payment
    if payment.stripe_payment_intent_id:
        result = gateway.retrieve_charge(payment.stripe_payment_intent_id)
    else:
        if not _claim(payment):
            return payment  # another process is charging it right now
        try:
            result = charge()
        except gateway.GatewayUnavailable:
            _release(payment)
            raise
        except gateway.GatewayError as error:
            # Stripe refused the request itself: nothing was charged; record why.
            with write_transaction():
                db.session.refresh(payment, with_for_update=True)  # same lock order as webhooks: payment, then campaign
                settle.settle(payment, PaymentOutcome.FAILED, source=Source.BROWSER, note=error.message)
                db.session.commit()
            return payment
        if result.payment_intent_id:
            # Keep Stripe's id at once, in its own commit: whatever happens next, a retry or a
            # webhook can finish this payment from Stripe's record instead of charging again.
            with write_transaction():
                db.session.execute(
                    update(Payment)
                    .where(Payment.id == payment.id, Payment.stripe_payment_intent_id.is_(None))
                    .values(stripe_payment_intent_id=result.payment_intent_id)
                    .execution_options(synchronize_session=False)
                )
                db.session.commit()
    with write_transaction():
        db.session.refresh(payment, with_for_update=True)  # same lock order as webhooks: payment, then campaign
        apply_result(payment, result)
        email.commit_and_deliver()
    return payment


# A claim older than this is from a process that died mid-call; Stripe's idempotency key (our
# payment id) makes the retry safe there, and reconciliation reports anything left over.
STALE_CLAIM = timedelta(minutes=15)


def _claim(payment: Payment) -> bool:
    """Atomically mark the payment as being charged by us; False if someone else holds it."""
    payment_id, now = payment.id, utcnow()
    with write_transaction():
        claimed = db.session.execute(
            update(Payment)
            .where(
                Payment.id == payment_id,
                Payment.status == PaymentStatus.PENDING,
                Payment.stripe_payment_intent_id.is_(None),
                or_(Payment.charge_started_at.is_(None), Payment.charge_started_at < now - STALE_CLAIM),
            )
            .values(charge_started_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def _release(payment: Payment) -> None:
    """Stripe could not be reached: nothing was charged, so let the next attempt try again."""
    db.session.rollback()
    payment_id = payment.id
    with write_transaction():
        db.session.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(charge_started_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


@dataclass(frozen=True)
class Outcome:
    applied: bool
    note: str
    kind: PaymentOutcome | None = None


def apply_result(payment: Payment, result: gateway.ChargeResult, *, source: Source = Source.BROWSER) -> Outcome:
    """Bring our payment up to what Stripe reports, in the caller's transaction.

    Refuses to credit a result whose amount, currency or PaymentIntent does not match the row,
    and never moves a payment to an earlier state (so events may arrive in any order).
    """
    if result.payment_intent_id:
        if payment.stripe_payment_intent_id and payment.stripe_payment_intent_id != result.payment_intent_id:
            note = f"PaymentIntent {result.payment_intent_id} is not this payment's"
            settle.settle(
                None, PaymentOutcome.UNKNOWN_PAYMENT, source=source, reference=result.payment_intent_id, note=note
            )
            return Outcome(False, note, PaymentOutcome.UNKNOWN_PAYMENT)
        payment.stripe_payment_intent_id = result.payment_intent_id
    new = STRIPE_STATUS.get(result.status)
    if new is None:
        return Outcome(False, f"Stripe status {result.status} needs nothing from us")
    if new == PaymentStatus.SUCCEEDED and (
        result.amount_pence != payment.amount_pence or result.currency.upper() != payment.currency
    ):
        log.error(
            "payment %s: Stripe reports %s %s, expected %s %s",
            payment.id,
            result.amount_pence,
            result.currency,
            payment.amount_pence,
            payment.currency,
        )
        kind = (
            PaymentOutcome.CURRENCY_MISMATCH
            if result.currency.upper() != payment.currency
            else PaymentOutcome.AMOUNT_MISMATCH
        )
        note = "amount or currency does not match; not credited"
        settle.settle(payment, kind, source=source, reference=result.payment_intent_id, note=note)
        return Outcome(False, note, kind)
    if RANK[new] == RANK[payment.status]:
        return Outcome(False, f"already {payment.status.value}", PaymentOutcome.DUPLICATE)
    if RANK[new] < RANK[payment.status]:
        note = f"already {payment.status.value}"
        settle.settle(
            payment, PaymentOutcome.OUT_OF_ORDER, source=source, reference=result.payment_intent_id, note=note
        )
        return Outcome(False, note, PaymentOutcome.OUT_OF_ORDER)
    pledge = payment.pledge
    # A card payment of an invoice is made by someone at the invoice's payment page; card
    # pledges' later charges are made off-session and need emails to reach the pledger.
    on_session = pledge.method == PaymentMethod.INVOICE
    if new == PaymentStatus.SUCCEEDED:
        payment.stripe_charge_id = result.charge_id or payment.stripe_charge_id
        if pledge.status == PledgeStatus.PENDING:
            pledges.change_status(pledge, PledgeStatus.COMMITTED, reason="First payment received")
        settle.settle(payment, PaymentOutcome.SUCCEEDED, source=source, reference=result.payment_intent_id)
        email.queue(
            "receipt",
            pledge.email,
            f"Receipt for your payment to {pledge.campaign.title}",
            pledge=pledge,
            payment=payment,
            my_pledges_url=links.my_pledges_url(pledge),
        )
    elif new == PaymentStatus.REQUIRES_ACTION:
        payment.status = PaymentStatus.REQUIRES_ACTION
        settle.settle(payment, PaymentOutcome.REQUIRES_ACTION, source=source, reference=result.payment_intent_id)
        if on_session:
            # Paying an invoice by card: the payer is at the page, which asks their bank at once;
            # the invoice stays payable (and its instalment scheduled) until the money arrives.
            return Outcome(True, f"now {payment.status.value}")
        if payment.instalment is not None:
            payment.instalment.status = InstalmentStatus.REQUIRES_ACTION
        email.queue(
            "confirm_payment",
            pledge.email,
            "Your bank needs you to confirm a payment",
            pledge=pledge,
            payment=payment,
            confirm_url=links.pledge_url("pledges.authenticate", pledge.id, payment_id=payment.id),
        )
    else:
        settle.settle(
            payment,
            PaymentOutcome.ABANDONED if new == PaymentStatus.CANCELLED else PaymentOutcome.FAILED,
            source=source,
            reference=result.payment_intent_id,
            note=result.failure_message or "The card payment did not go through.",
        )
        if pledge.status != PledgeStatus.PENDING and not on_session:
            email.queue(
                "payment_failed",
                pledge.email,
                "A payment for your pledge did not go through",
                pledge=pledge,
                payment=payment,
                my_pledges_url=links.my_pledges_url(pledge),
            )
    return Outcome(True, f"now {payment.status.value}", _KIND.get(payment.status))


_KIND = {
    PaymentStatus.SUCCEEDED: PaymentOutcome.SUCCEEDED,
    PaymentStatus.FAILED: PaymentOutcome.FAILED,
    PaymentStatus.CANCELLED: PaymentOutcome.ABANDONED,
    PaymentStatus.REQUIRES_ACTION: PaymentOutcome.REQUIRES_ACTION,
}


def refresh_payment(payment: Payment) -> Payment:
    """Ask Stripe where a payment stands (after the pledger authenticates in the browser)."""
    if not payment.stripe_payment_intent_id:
        return payment
    result = gateway.retrieve_charge(payment.stripe_payment_intent_id)
    with write_transaction():
        db.session.refresh(payment, with_for_update=True)  # same lock order as webhooks: payment, then campaign
        apply_result(payment, result)
        email.commit_and_deliver()
    return payment


def client_secret_for(payment: Payment) -> str | None:
    if payment.status != PaymentStatus.REQUIRES_ACTION or not payment.stripe_payment_intent_id:
        return None
    return gateway.retrieve_charge(payment.stripe_payment_intent_id).client_secret


def self_cancellable(pledge: Pledge) -> bool:
    """Whether the pledger may cancel this pledge themselves, from a link we sent them.

    Only an individual's card pledge that is still to be collected. A council's pledge stands on
    a purchase order and its invoices: it is changed through the treasurer, who voids or credits
    the paperwork with it, never from a link that anyone holding the pledge's email could use.
    """
    return (
        pledge.pledger_kind == PledgerKind.INDIVIDUAL
        and pledge.method == PaymentMethod.CARD
        and pledge.status in (PledgeStatus.PENDING, PledgeStatus.COMMITTED, PledgeStatus.ACTIVE)
    )


def cancel_pledge(pledge: Pledge, *, reason: str = "Cancelled by the pledger") -> None:
    """Stop future instalments; what was already paid stays paid."""
    if not self_cancellable(pledge):
        if pledge.pledger_kind != PledgerKind.INDIVIDUAL or pledge.method != PaymentMethod.CARD:
            raise CardFlowError(
                f"Pledge {pledge.reference} cannot be cancelled here. To change a council's pledge, "
                "contact the LocalGov Digital treasurer."
            )
        raise CardFlowError("This pledge cannot be cancelled now.")
    pledges.change_status(pledge, PledgeStatus.CANCELLED, reason=reason)
    email.queue(
        "cancellation",
        pledge.email,
        f"Your pledge {pledge.reference} is cancelled",
        pledge=pledge,
        my_pledges_url=links.my_pledges_url(pledge),
    )
    email.commit_and_deliver()


@dataclass
class CollectionReport:
    charged: int = 0
    succeeded: int = 0
    requires_action: int = 0
    failed: int = 0
    unavailable: int = 0

    def __str__(self) -> str:
        return (
            f"{self.charged} instalment(s) charged: {self.succeeded} paid, {self.requires_action} need the "
            f"pledger to confirm, {self.failed} failed; {self.unavailable} left for later (Stripe unreachable)."
        )


def due_instalments(today: date, campaign_id: int | None = None) -> list[int]:
    """Card instalments due by `today` whose pledge may be charged now."""
    only_campaign = [Pledge.campaign_id == campaign_id] if campaign_id is not None else []
    rows = db.session.scalars(
        select(Instalment.id)
        .join(Pledge, Instalment.pledge_id == Pledge.id)
        .join(Campaign, Pledge.campaign_id == Campaign.id)
        .where(
            Instalment.status == InstalmentStatus.SCHEDULED,
            Instalment.due_on <= today,
            Pledge.method == PaymentMethod.CARD,
            Pledge.stripe_payment_method_id.is_not(None),
            Pledge.status.in_([PledgeStatus.PENDING, PledgeStatus.COMMITTED, PledgeStatus.ACTIVE]),
            or_(Pledge.is_conditional.is_(False), Campaign.status == CampaignStatus.SUCCEEDED),
            *only_campaign,
        )
        .order_by(Instalment.due_on, Instalment.id)
    )
    return list(rows)


def collect_due(today: date | None = None, *, campaign_id: int | None = None) -> CollectionReport:
    """Charge every due instalment off-session. Safe to run twice at once: see `charge_instalment`."""
    report = CollectionReport()
    due = due_instalments(today or utcnow().date(), campaign_id)
    db.session.commit()

    def charge(instalment_id: int) -> Payment | None:
        instalment = db.session.get(Instalment, instalment_id)
        if instalment is None or instalment.status != InstalmentStatus.SCHEDULED:
            db.session.commit()
            return None
        return charge_instalment(instalment)

    for instalment_id in due:
        try:
            payment = retry_if_busy(lambda: charge(instalment_id))  # noqa: B023 - called at once
        except gateway.GatewayUnavailable:
            db.session.rollback()
            report.unavailable += 1
            continue
        except CardFlowError:
            db.session.rollback()
            continue
        if payment is None:
            continue
        report.charged += 1
        if payment.status == PaymentStatus.SUCCEEDED:
            report.succeeded += 1
        elif payment.status == PaymentStatus.REQUIRES_ACTION:
            report.requires_action += 1
        elif payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
            report.failed += 1
    return report


def describe_schedule(pledge: Pledge) -> str:
    amount = Money(pledge.amount_pence, pledge.currency)
    count = len(pledge.instalments)
    if count == 1:
        return f"{amount} once"
    every = "month" if pledge.frequency.value == "monthly" else "year"
    return f"{amount} a {every}, {count} payments ({pledge.promised} in all)"
