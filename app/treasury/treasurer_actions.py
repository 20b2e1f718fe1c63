"""What a treasurer does to a pledge, a payment or an invoice, each written to the audit log.

Every action takes the token its confirmation form carried. The target's row is locked first
(SQLite's writing transaction is the lock there), then the audit log is searched for this
action on this target with this token: a form sent twice finds the first one's entry and does
nothing more. Each function commits its own work and delivers the email it queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from app import audit, links
from app.database import write_transaction
from app.extensions import db
from app.invoicing import invoices
from app.models import (
    AuditEntry,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Pledge,
    PledgeStatus,
    User,
    utcnow,
)
from app.money import Money
from app.notifications import email
from app.pledging import pledges

# How far back a repeated form is looked for; a form is never sent again a day later.
REPEAT_WINDOW = timedelta(days=1)
CANCELLABLE = (PledgeStatus.PENDING, PledgeStatus.COMMITTED, PledgeStatus.ACTIVE)


class ActionError(ValueError):
    """An action that cannot be done; the message is fit to show a treasurer."""


@dataclass(frozen=True)
class Done:
    """What happened: `repeat` when the same form had already done it."""

    message: str
    repeat: bool = False


def _locked(model: Any, row_id: int) -> Any:
    row = db.session.scalars(
        select(model).where(model.id == row_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise ActionError("That record no longer exists.")
    return row


def _earlier(action: str, target: Any, token: str) -> AuditEntry | None:
    """This action's audit entry for `target` made by the same form (same token), if any."""
    entries = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.target_type == target.__tablename__,
            AuditEntry.target_id == target.id,
            AuditEntry.action == action,
            AuditEntry.created_at >= utcnow() - REPEAT_WINDOW,
        )
    )
    return next((entry for entry in entries if (entry.detail or {}).get("token") == token), None)


def _finish() -> None:
    email.commit_and_deliver()


# --- Pledges -----------------------------------------------------------------------------------


def cancellable(pledge: Pledge) -> bool:
    return pledge.status in CANCELLABLE


def invoices_to_void(pledge: Pledge) -> list[Invoice]:
    """The pledge's invoices that cancelling would void: pro-formas, and issued invoices nothing was paid against."""
    rows = db.session.scalars(
        select(Invoice)
        .where(Invoice.pledge_id == pledge.id, Invoice.status.in_([InvoiceStatus.PROFORMA, InvoiceStatus.ISSUED]))
        .order_by(Invoice.id)
    )
    return [i for i in rows if i.kind == InvoiceKind.PROFORMA or invoices.paid(i).pence == 0]


def cancel_pledge(pledge_id: int, *, reason: str, actor: User, token: str) -> Done:
    """Stop a pledge's future instalments, tell the pledger, and void what it no longer owes.

    What was already paid stays paid (refund it separately); an issued invoice with a part
    payment stays, so the money received is still accounted for.
    """
    with write_transaction():
        pledge: Pledge = _locked(Pledge, pledge_id)
        if pledge.status == PledgeStatus.CANCELLED:
            db.session.rollback()
            return Done(f"{pledge.reference} is already cancelled.", repeat=True)
        if not cancellable(pledge):
            db.session.rollback()
            raise ActionError(f"{pledge.reference} is {pledge.status.value}, so it cannot be cancelled.")
        voided = invoices_to_void(pledge)
        previous = pledge.status
        pledges.change_status(pledge, PledgeStatus.CANCELLED, reason=f"Cancelled by a treasurer: {reason}", actor=actor)
        for invoice in voided:
            invoice.status = InvoiceStatus.VOID
        audit.record(
            "pledge.cancelled",
            actor=actor,
            target=pledge,
            summary=f"Cancelled {pledge.reference} ({pledge.commitment} pledged): {reason}",
            detail={
                "token": token,
                "reason": reason,
                "from_status": previous.value,
                "voided_invoices": [i.display_number for i in voided],
            },
        )
        email.queue(
            "cancellation",
            pledge.email,
            f"Your pledge {pledge.reference} is cancelled",
            pledge=pledge,
            my_pledges_url=links.my_pledges_url(pledge),
        )
        _finish()
    voided_text = f" Voided {', '.join(i.display_number for i in voided)}." if voided else ""
    return Done(f"{pledge.reference} is cancelled and {pledge.name} has been emailed.{voided_text}")


# --- Payments ----------------------------------------------------------------------------------


def resend_receipt(payment_id: int, *, actor: User, token: str) -> Done:
    """Email the pledger the receipt for a payment again."""
    with write_transaction():
        payment: Payment = _locked(Payment, payment_id)
        pledge = payment.pledge
        if payment.status != PaymentStatus.SUCCEEDED:
            db.session.rollback()
            raise ActionError("Only a payment that has been received has a receipt.")
        if _earlier("payment.receipt_resent", payment, token) is not None:
            db.session.rollback()
            return Done(f"The receipt was already sent again to {pledge.email}.", repeat=True)
        email.queue(
            "receipt",
            pledge.email,
            f"Receipt for your payment to {pledge.campaign.title}",
            pledge=pledge,
            payment=payment,
            my_pledges_url=links.my_pledges_url(pledge),
        )
        audit.record(
            "payment.receipt_resent",
            actor=actor,
            target=payment,
            summary=f"Receipt for {payment.amount} ({pledge.reference}) sent again to the pledger",
            detail={"token": token, "pledge_id": pledge.id},
        )
        _finish()
    return Done(f"The receipt for {payment.amount} has been sent again to {pledge.email}.")


# --- Invoices ----------------------------------------------------------------------------------


def days_overdue(invoice: Invoice, today: date | None = None) -> int:
    today = today or datetime.now(invoices.LONDON).date()
    return (today - invoice.due_on).days if invoice.due_on else 0


def remind_invoice(invoice_id: int, *, actor: User, token: str) -> Done:
    """Send the billing contact a reminder for one overdue invoice now, whenever the last one went."""
    with write_transaction():
        invoice: Invoice = _locked(Invoice, invoice_id)
        if not invoices.is_overdue(invoice):
            db.session.rollback()
            raise ActionError(
                f"{invoice.display_number} is not overdue, so there is nothing to remind about. "
                "You can send the invoice again instead."
            )
        if _earlier("invoice.reminder_sent", invoice, token) is not None:
            db.session.rollback()
            return Done(f"The reminder for {invoice.number} was already sent.", repeat=True)
        assert invoice.pledge is not None  # noqa: S101 - only pledges' invoices are overdue here
        left = invoices.balance(invoice)
        # Recorded as a reminder, so the weekly run does not send another the same day.
        db.session.execute(
            update(Invoice)
            .where(Invoice.id == invoice.id)
            .values(last_reminded_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        email.queue(
            "invoice_reminder",
            invoice.bill_to_email,
            f"Reminder: invoice {invoice.number} is overdue",
            pledge=invoice.pledge,
            invoice=invoice,
            balance=left,
            days_overdue=days_overdue(invoice),
            pdf_url=invoices.pdf_url(invoice),
            pay_url=invoices.pay_url(invoice),
        )
        audit.record(
            "invoice.reminder_sent",
            actor=actor,
            target=invoice,
            summary=f"Reminder for {invoice.number} ({left} to pay) sent to {invoice.bill_to_email}",
            detail={"token": token, "to": invoice.bill_to_email, "balance_pence": left.pence},
        )
        _finish()
    return Done(f"A reminder for {invoice.number} has been sent to {invoice.bill_to_email}.")


def resend_invoice(invoice_id: int, *, actor: User, token: str) -> Done:
    """Email the billing contact the invoice (or pro-forma) again, with a fresh link to its PDF."""
    with write_transaction():
        invoice: Invoice = _locked(Invoice, invoice_id)
        if invoice.status == InvoiceStatus.VOID:
            db.session.rollback()
            raise ActionError(f"{invoice.display_number} is void, so it cannot be sent again.")
        pledge = invoice.pledge
        if pledge is None:
            db.session.rollback()
            raise ActionError(f"{invoice.display_number} is not for a pledge.")
        if _earlier("invoice.resent", invoice, token) is not None:
            db.session.rollback()
            return Done(f"{invoice.display_number} was already sent again.", repeat=True)
        if invoice.kind == InvoiceKind.PROFORMA:
            kind, subject = (
                "invoice_proforma",
                f"Pro-forma invoice for your pledge {pledge.reference} to {pledge.campaign.title}",
            )
        else:
            kind, subject = "invoice_issued", f"Invoice {invoice.number} for your pledge to {pledge.campaign.title}"
        email.queue(
            kind,
            invoice.bill_to_email,
            subject,
            pledge=pledge,
            invoice=invoice,
            pdf_url=invoices.pdf_url(invoice),
            pay_url=invoices.pay_url(invoice),
        )
        audit.record(
            "invoice.resent",
            actor=actor,
            target=invoice,
            summary=f"{invoice.display_number} sent again to {invoice.bill_to_email}",
            detail={"token": token, "to": invoice.bill_to_email},
        )
        _finish()
    return Done(f"{invoice.display_number} has been sent again to {invoice.bill_to_email}.")


@dataclass(frozen=True)
class Received:
    payment: Payment
    left: Money  # still to pay on the invoice
    repeat: bool  # the same transfer was already recorded (a form sent twice)


def record_bank_transfer(invoice_id: int, amount: Money, *, received_on: date, reference: str, actor: User) -> Received:
    """Record money received by bank transfer against an invoice, and what is left to pay.

    The invoice service refuses over-payments and finds a repeat of the same transfer (same
    reference, amount and date) instead of recording it twice.
    """
    with write_transaction():
        invoice: Invoice = _locked(Invoice, invoice_id)
        before = set(db.session.scalars(select(Payment.id).where(Payment.instalment_id == invoice.instalment_id)))
        try:
            payment = invoices.record_bank_transfer(invoice, amount, received_on, reference, actor)
        except invoices.InvoiceError as error:
            db.session.rollback()
            raise ActionError(str(error)) from error
        left = invoices.balance(invoice)
        _finish()
    return Received(payment, left, repeat=payment.id in before)


def send_due_reminders(*, actor: User) -> Done:
    """Remind every overdue invoice not reminded in the last week (what the nightly job does), now."""
    sent = invoices.remind_overdue()
    with write_transaction():
        audit.record(
            "invoice.reminders_run",
            actor=actor,
            summary=f"Overdue invoice reminders run by hand: {sent} sent",
            detail={"sent": sent},
        )
        _finish()
    if sent == 0:
        return Done("No reminders were due: every overdue invoice has been reminded in the last week.", repeat=True)
    return Done(f"{sent} reminder{'s' if sent != 1 else ''} sent.")


def reminder_due(invoice: Invoice, today: date | None = None) -> bool:
    """Whether the nightly run would remind this overdue invoice now (not reminded in the last week)."""
    today = today or datetime.now(invoices.LONDON).date()
    if invoice.last_reminded_at is None:
        return True
    reminded = invoice.last_reminded_at.astimezone(invoices.LONDON).date()
    return (today - reminded).days >= invoices.REMINDER_INTERVAL_DAYS


def overdue_invoices() -> list[Invoice]:
    """Issued invoices past their due date with money still owing, oldest first."""
    today = datetime.now(invoices.LONDON).date()
    rows = db.session.scalars(
        select(Invoice)
        .where(Invoice.kind == InvoiceKind.INVOICE, Invoice.status == InvoiceStatus.ISSUED, Invoice.due_on < today)
        .order_by(Invoice.due_on, Invoice.id)
    )
    return [invoice for invoice in rows if invoices.is_overdue(invoice, today)]
