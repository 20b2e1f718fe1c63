"""What happened to a payment, from which source: one typed row per settled outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow


class Outcome(StrEnum):
    """A payment outcome, decided where it is observed and never re-read from a note."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABANDONED = "abandoned"
    REQUIRES_ACTION = "requires_action"
    REFUNDED = "refunded"
    CARD_SAVED = "card_saved"
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    UNKNOWN_PAYMENT = "unknown_payment"
    OUT_OF_ORDER = "out_of_order"
    DUPLICATE = "duplicate"


# Outcomes that are recorded but credit nothing.
NOT_CREDITED = frozenset({Outcome.AMOUNT_MISMATCH, Outcome.CURRENCY_MISMATCH, Outcome.UNKNOWN_PAYMENT})


class Source(StrEnum):
    BROWSER = "browser"
    WEBHOOK = "webhook"
    RECONCILE = "reconcile"
    BANK_TRANSFER = "bank_transfer"
    REFUND = "refund"


class PaymentEvent(db.Model):  # type: ignore[name-defined,misc]
    """Append-only: one row for every outcome `settle.settle` applied or refused."""

    __tablename__ = "payment_event"
    __table_args__ = (
        CheckConstraint("amount_pence IS NULL OR amount_pence > 0", name="amount_positive"),
        Index("ix_payment_event_payment", "payment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    source: Mapped[Source] = mapped_column(enum_column(Source, "payment_event_source"))
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome, "payment_event_outcome"))
    amount_pence: Mapped[int | None] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
