from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.pledge import Instalment, PaymentMethod, Pledge
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow
from app.money import Money


class PaymentStatus(StrEnum):
    PENDING = "pending"  # our row is written; the charge is being made
    REQUIRES_ACTION = "requires_action"  # the bank wants the pledger to confirm (3-D Secure)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# At most one card payment per instalment may be in flight or have succeeded: a double charge is
# refused by the database, not merely avoided by the code.
_OPEN_CARD_PAYMENT = "method = 'card' AND status IN ('pending', 'requires_action', 'succeeded')"


class Payment(db.Model):  # type: ignore[name-defined,misc]
    """Money actually received or attempted. Written before Stripe is called; its id keys the call."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("fee_pence >= 0", name="fee_not_negative"),
        CheckConstraint("refunded_pence >= 0 AND refunded_pence <= amount_pence", name="refund_within_amount"),
        Index(
            "uq_payment_open_card_instalment",
            "instalment_id",
            unique=True,
            sqlite_where=text(_OPEN_CARD_PAYMENT),
            postgresql_where=text(_OPEN_CARD_PAYMENT),
        ),
        Index("ix_payment_pledge", "pledge_id"),
        # What has been paid against an instalment (invoice balances, overdue invoices).
        Index("ix_payment_instalment_status", "instalment_id", "status"),
        Index("ix_payment_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledge.id"))
    instalment_id: Mapped[int | None] = mapped_column(ForeignKey("instalment.id"))
    amount_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    fee_pence: Mapped[int] = mapped_column(Integer, default=0)
    refunded_pence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    method: Mapped[PaymentMethod] = mapped_column(enum_column(PaymentMethod, "payment_method"))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_balance_transaction_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    bank_reference: Mapped[str | None] = mapped_column(String(140))
    received_on: Mapped[date | None] = mapped_column(Date)
    failure_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while one process is calling Stripe for this payment, so no other process calls too.
    charge_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    pledge: Mapped[Pledge] = relationship()
    instalment: Mapped[Instalment | None] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_pence, self.currency)

    @property
    def collected_pence(self) -> int:
        """What this payment adds to "collected": its amount less refunds, once it has succeeded."""
        if self.status != PaymentStatus.SUCCEEDED:
            return 0
        return self.amount_pence - self.refunded_pence

    @property
    def net_pence(self) -> int:
        return self.collected_pence - self.fee_pence if self.status == PaymentStatus.SUCCEEDED else 0
