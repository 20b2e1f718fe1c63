from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.pledge import Instalment, Pledge
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow
from app.money import Money


class InvoiceKind(StrEnum):
    PROFORMA = "proforma"  # payable only if the campaign succeeds; never numbered
    INVOICE = "invoice"  # a numbered VAT-style invoice, payable within 30 days


class InvoiceStatus(StrEnum):
    PROFORMA = "proforma"
    ISSUED = "issued"
    PAID = "paid"
    VOID = "void"


# One live pro-forma and one live issued invoice per instalment (or per match offer).
_LIVE = "status != 'void'"


class Invoice(db.Model):  # type: ignore[name-defined,misc]
    """A council's (or sponsor's) invoice for one instalment of a pledge, or for match funding.

    Whether it is overdue is not stored: it is an issued invoice past its due date with money
    still owing, worked out when asked.
    """

    __tablename__ = "invoice"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("(kind = 'invoice') = (number IS NOT NULL)", name="only_invoices_numbered"),
        CheckConstraint("(pledge_id IS NULL) != (match_offer_id IS NULL)", name="for_a_pledge_or_an_offer"),
        Index(
            "uq_invoice_live_instalment_kind",
            "instalment_id",
            "kind",
            unique=True,
            sqlite_where=text(_LIVE),
            postgresql_where=text(_LIVE),
        ),
        Index(
            "uq_invoice_live_offer_kind",
            "match_offer_id",
            "kind",
            unique=True,
            sqlite_where=text(_LIVE),
            postgresql_where=text(_LIVE),
        ),
        Index("ix_invoice_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    kind: Mapped[InvoiceKind] = mapped_column(enum_column(InvoiceKind, "invoice_kind"))
    status: Mapped[InvoiceStatus] = mapped_column(enum_column(InvoiceStatus, "invoice_status"))
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledge.id"), index=True)
    instalment_id: Mapped[int | None] = mapped_column(ForeignKey("instalment.id"))
    match_offer_id: Mapped[int | None] = mapped_column(ForeignKey("match_offer.id"))
    amount_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    po_number: Mapped[str | None] = mapped_column(String(64))
    bill_to_name: Mapped[str] = mapped_column(String(200))
    bill_to_contact: Mapped[str] = mapped_column(String(200))
    bill_to_email: Mapped[str] = mapped_column(String(254))
    bill_to_address: Mapped[str] = mapped_column(Text)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pledge: Mapped[Pledge | None] = relationship()
    instalment: Mapped[Instalment | None] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_pence, self.currency)

    @property
    def display_number(self) -> str:
        """The invoice number, or the pro-forma's reference (pro-formas are never numbered)."""
        if self.number:
            return self.number
        return f"PF-{self.pledge.reference if self.pledge else f'M{self.match_offer_id}'}-{self.id}"


class InvoiceCounter(db.Model):  # type: ignore[name-defined,misc]
    """The next invoice number per series. Taken with an UPDATE in the invoice's own transaction,
    so numbers never repeat, and a rolled-back invoice gives its number back (no gaps)."""

    __tablename__ = "invoice_counter"

    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
