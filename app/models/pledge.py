from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.campaign import Campaign
from app.models.organisation import Organisation
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow
from app.money import Money


class PledgerKind(StrEnum):
    INDIVIDUAL = "individual"
    COUNCIL = "council"
    SPONSOR = "sponsor"


class Frequency(StrEnum):
    ONE_OFF = "one_off"
    MONTHLY = "monthly"
    ANNUALLY = "annually"

    @property
    def label(self) -> str:
        return {"one_off": "One-off", "monthly": "Monthly", "annually": "Annually"}[self.value]


class PaymentMethod(StrEnum):
    CARD = "card"
    INVOICE = "invoice"
    BANK_TRANSFER = "bank_transfer"


class Visibility(StrEnum):
    PUBLIC = "public"  # name and amount shown
    NAME_HIDDEN = "name_hidden"  # amount shown as "A supporter"
    ANONYMOUS = "anonymous"  # neither name nor amount shown


class PledgeStatus(StrEnum):
    PENDING = "pending"  # started, not yet confirmed (card not saved, or not yet accepted)
    COMMITTED = "committed"  # confirmed; nothing collected yet
    ACTIVE = "active"  # some instalments collected, more to come
    FULFILLED = "fulfilled"  # everything collected
    FAILED = "failed"  # could not be confirmed
    CANCELLED = "cancelled"  # stopped by the pledger or a treasurer
    RELEASED = "released"  # conditional, and the campaign failed: never charged
    REFUNDED = "refunded"

    @property
    def label(self) -> str:
        return self.value.capitalize()


# Pledges in these states count toward "pledged", the pledge count and the council count.
LIVE_STATUSES = frozenset({PledgeStatus.COMMITTED, PledgeStatus.ACTIVE, PledgeStatus.FULFILLED})

# Which status changes are allowed. Anything else is a bug, refused by `pledging.pledges`.
TRANSITIONS: dict[PledgeStatus, frozenset[PledgeStatus]] = {
    PledgeStatus.PENDING: frozenset({PledgeStatus.COMMITTED, PledgeStatus.FAILED, PledgeStatus.CANCELLED}),
    PledgeStatus.COMMITTED: frozenset(
        {PledgeStatus.ACTIVE, PledgeStatus.FULFILLED, PledgeStatus.CANCELLED, PledgeStatus.RELEASED}
    ),
    PledgeStatus.ACTIVE: frozenset({PledgeStatus.FULFILLED, PledgeStatus.CANCELLED, PledgeStatus.REFUNDED}),
    PledgeStatus.FULFILLED: frozenset({PledgeStatus.REFUNDED}),
    PledgeStatus.FAILED: frozenset(),
    PledgeStatus.CANCELLED: frozenset({PledgeStatus.REFUNDED}),
    PledgeStatus.RELEASED: frozenset(),
    PledgeStatus.REFUNDED: frozenset(),
}

REFERENCE_PREFIX = "PL-"
_REFERENCE = re.compile(r"^\s*PL-?0*(\d{1,12})\s*$", re.IGNORECASE)


def parse_reference(text: str) -> int | None:
    """The pledge id in a reference such as "PL-000123" (or None if it is not one)."""
    match = _REFERENCE.match(text or "")
    return int(match[1]) if match else None


class Pledge(db.Model):  # type: ignore[name-defined,misc]
    """A promise to give toward a campaign: one instalment or a schedule of them."""

    __tablename__ = "pledge"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("commitment_pence > 0", name="commitment_positive"),
        CheckConstraint("instalment_count IS NULL OR instalment_count > 0", name="instalment_count_positive"),
        CheckConstraint(
            "pledger_kind != 'council' OR organisation_id IS NOT NULL", name="council_pledge_names_council"
        ),
        CheckConstraint("frequency != 'one_off' OR instalment_count = 1", name="one_off_has_one_instalment"),
        Index("ix_pledge_campaign_status", "campaign_id", "status"),
        # Keyset pages of a campaign's pledges: newest/oldest first, and largest/smallest first.
        Index("ix_pledge_campaign_created", "campaign_id", "created_at", "id"),
        Index("ix_pledge_campaign_commitment", "campaign_id", "commitment_pence", "id"),
        Index("ix_pledge_campaign_kind_status", "campaign_id", "pledger_kind", "status", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    pledger_kind: Mapped[PledgerKind] = mapped_column(enum_column(PledgerKind, "pledger_kind"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    amount_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    frequency: Mapped[Frequency] = mapped_column(enum_column(Frequency, "pledge_frequency"))
    # None means "until cancelled"; then the commitment counts the instalments in the funding period.
    instalment_count: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[PaymentMethod] = mapped_column(enum_column(PaymentMethod, "payment_method"))
    is_conditional: Mapped[bool] = mapped_column(default=False)
    visibility: Mapped[Visibility] = mapped_column(enum_column(Visibility, "pledge_visibility"))
    show_on_wall: Mapped[bool] = mapped_column(default=True)
    # The pledger agreed to be emailed the campaign's updates (receipts and reminders go regardless).
    wants_updates: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    message: Mapped[str | None] = mapped_column(String(500))
    po_number: Mapped[str | None] = mapped_column(String(64))
    # Councils: who receives the invoice, and where.
    billing_contact: Mapped[str | None] = mapped_column(String(200))
    billing_email: Mapped[str | None] = mapped_column(String(254))
    billing_address: Mapped[str | None] = mapped_column(Text)
    status: Mapped[PledgeStatus] = mapped_column(
        enum_column(PledgeStatus, "pledge_status"), default=PledgeStatus.PENDING
    )
    # What this pledge promises inside the campaign's funding period (amount x instalments there).
    commitment_pence: Mapped[int] = mapped_column(Integer)
    # Card pledges: the Stripe customer, the SetupIntent that saved the card and the saved card.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_setup_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_payment_method_id: Mapped[str | None] = mapped_column(String(255))
    # One token per rendered form: a double-submitted form finds the first pledge, never a second.
    submission_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    campaign: Mapped[Campaign] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
    instalments: Mapped[list[Instalment]] = relationship(back_populates="pledge", order_by="Instalment.sequence")
    events: Mapped[list[PledgeEvent]] = relationship(back_populates="pledge", order_by="PledgeEvent.id")

    @property
    def reference(self) -> str:
        return f"{REFERENCE_PREFIX}{self.id:06d}"

    @property
    def amount(self) -> Money:
        return Money(self.amount_pence, self.currency)

    @property
    def commitment(self) -> Money:
        """What counts toward the campaign: the instalments that fit in its funding period."""
        return Money(self.commitment_pence, self.currency)

    @property
    def promised(self) -> Money:
        """Every instalment of the pledge, in the funding period or after it."""
        return Money(self.amount_pence * max(1, len(self.instalments)), self.currency)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def public_name(self) -> str | None:
        """The name to show publicly, or None where the pledger asked not to be named."""
        if self.visibility != Visibility.PUBLIC:
            return None
        if self.pledger_kind == PledgerKind.COUNCIL and self.organisation is not None:
            return self.organisation.name
        return self.name

    def __repr__(self) -> str:
        return f"<Pledge {self.reference} {self.status}>"


class PledgeEvent(db.Model):  # type: ignore[name-defined,misc]
    """Append-only history of a pledge: every status change, who made it, when and why."""

    __tablename__ = "pledge_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledge.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    from_status: Mapped[PledgeStatus | None] = mapped_column(enum_column(PledgeStatus, "pledge_event_from"))
    to_status: Mapped[PledgeStatus] = mapped_column(enum_column(PledgeStatus, "pledge_event_to"))
    reason: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    pledge: Mapped[Pledge] = relationship(back_populates="events")


class InstalmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    REQUIRES_ACTION = "requires_action"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RELEASED = "released"


class Instalment(db.Model):  # type: ignore[name-defined,misc]
    """One scheduled collection of a pledge."""

    __tablename__ = "instalment"
    __table_args__ = (
        UniqueConstraint("pledge_id", "sequence", name="uq_instalment_pledge_sequence"),
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("sequence > 0", name="sequence_positive"),
        Index("ix_instalment_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledge.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    amount_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    status: Mapped[InstalmentStatus] = mapped_column(
        enum_column(InstalmentStatus, "instalment_status"), default=InstalmentStatus.SCHEDULED
    )
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    pledge: Mapped[Pledge] = relationship(back_populates="instalments")

    @property
    def amount(self) -> Money:
        return Money(self.amount_pence, self.currency)
