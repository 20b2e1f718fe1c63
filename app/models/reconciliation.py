"""What the treasurer's money actions keep: refunds made through Stripe, and reconciliation runs.

A `Refund` is written before Stripe is asked to refund, so its id keys the request and a
double-submitted form finds it instead of refunding twice. A `ReconciliationRun` keeps what one
comparison of Stripe with our ledger found; each `ReconciliationDifference` is resolved by a
treasurer (never by the run itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.payment import Payment
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow
from app.models.user import User
from app.money import Money


class RefundStatus(StrEnum):
    PENDING = "pending"  # written; Stripe is being (or may have been) asked
    SUCCEEDED = "succeeded"  # Stripe refunded it and the payment records it
    FAILED = "failed"  # Stripe refused: nothing was refunded


class Refund(db.Model):  # type: ignore[name-defined,misc]
    """A refund a treasurer asked Stripe to make, written before the call; its id keys the request."""

    __tablename__ = "refund"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        Index("ix_refund_payment_status", "payment_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"))
    amount_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    status: Mapped[RefundStatus] = mapped_column(
        enum_column(RefundStatus, "refund_status"), default=RefundStatus.PENDING
    )
    reason: Mapped[str] = mapped_column(String(500))
    # One token per rendered form: the same form sent twice finds this row, never makes a second.
    submission_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    failure_message: Mapped[str | None] = mapped_column(String(500))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Set while one request is calling Stripe for this refund, so no other request calls too.
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment: Mapped[Payment] = relationship()
    requested_by: Mapped[User | None] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_pence, self.currency)


class RunStatus(StrEnum):
    RUNNING = "running"
    CLEAN = "clean"  # Stripe and our records agree
    DIFFERENCES = "differences"
    FAILED = "failed"  # could not finish (Stripe unreachable); nothing is known


class DifferenceKind(StrEnum):
    UNKNOWN_TO_US = "unknown_to_us"  # Stripe has money we have no payment for
    MISSING_AT_STRIPE = "missing_at_stripe"  # our payment says Stripe, Stripe does not know it
    AMOUNT_MISMATCH = "amount_mismatch"  # amount or currency differ
    STATUS_MISMATCH = "status_mismatch"  # e.g. succeeded at Stripe, pending here (a lost webhook)
    REFUND_MISMATCH = "refund_mismatch"  # Stripe and we disagree on how much was refunded

    @property
    def label(self) -> str:
        return {
            "unknown_to_us": "Unknown to us",
            "missing_at_stripe": "Missing at Stripe",
            "amount_mismatch": "Amount or currency differs",
            "status_mismatch": "Status differs",
            "refund_mismatch": "Refunds differ",
        }[self.value]


class Resolution(StrEnum):
    APPLIED = "applied"  # Stripe's state was applied to our payment, through the ledger's own code
    EXPLAINED = "explained"  # a treasurer explained it with a note; nothing was changed

    @property
    def label(self) -> str:
        return {"applied": "Stripe's state applied", "explained": "Explained"}[self.value]


class ReconciliationRun(db.Model):  # type: ignore[name-defined,misc]
    """One comparison of recent Stripe objects with our payments. It never changes money records."""

    __tablename__ = "reconciliation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[RunStatus] = mapped_column(
        enum_column(RunStatus, "reconciliation_status"), default=RunStatus.RUNNING
    )
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    payment_intents_checked: Mapped[int] = mapped_column(Integer, default=0)
    charges_checked: Mapped[int] = mapped_column(Integer, default=0)
    refunds_checked: Mapped[int] = mapped_column(Integer, default=0)
    payments_checked: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))

    started_by: Mapped[User | None] = relationship()
    differences: Mapped[list[ReconciliationDifference]] = relationship(
        back_populates="run", order_by="ReconciliationDifference.id"
    )


class ReconciliationDifference(db.Model):  # type: ignore[name-defined,misc]
    """One thing Stripe and our records disagree on, and how a treasurer resolved it."""

    __tablename__ = "reconciliation_difference"
    __table_args__ = (UniqueConstraint("run_id", "key", name="uq_reconciliation_difference_run_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_run.id"))
    kind: Mapped[DifferenceKind] = mapped_column(enum_column(DifferenceKind, "reconciliation_difference_kind"))
    # The same difference found by a later run has the same key and, if nothing moved, fingerprint.
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    stripe_id: Mapped[str | None] = mapped_column(String(255), index=True)
    summary: Mapped[str] = mapped_column(Text)
    ours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stripe: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Whether "apply Stripe's state" can settle it (a lost webhook, refunds we have not recorded).
    can_apply: Mapped[bool] = mapped_column(default=False)
    resolution: Mapped[Resolution | None] = mapped_column(enum_column(Resolution, "reconciliation_resolution"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # An explanation given in an earlier run for exactly this difference, carried forward.
    explained_in_id: Mapped[int | None] = mapped_column(ForeignKey("reconciliation_difference.id"))

    run: Mapped[ReconciliationRun] = relationship(back_populates="differences")
    payment: Mapped[Payment | None] = relationship()
    resolved_by: Mapped[User | None] = relationship()
