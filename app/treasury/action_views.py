"""The treasurer's money actions: refund, cancel, resend, remind, record a bank transfer.

Each is a confirmation page (GET says exactly what will happen) and a form that does it (POST).
The views are thin: the rules, the audit entries and the once-only guarantees are in
`payments.refunds` and `treasury.treasurer_actions`.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from app.blueprints import treasurer as bp
from app.extensions import db
from app.invoicing import invoices
from app.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Pledge,
    Refund,
    RefundStatus,
    Role,
    parse_reference,
)
from app.money import Money
from app.payments import gateway, refunds
from app.security import roles_required
from app.treasury import treasurer_actions
from app.treasury.action_forms import BankTransferForm, CancelPledgeForm, RefundForm, SendForm

TREASURERS = (Role.TREASURER, Role.ADMIN)


def _get(model: Any, row_id: int) -> Any:
    row = db.session.get(model, row_id)
    if row is None:
        abort(404)
    return row


def _status(form: Any) -> int:
    return 400 if request.method == "POST" else 200


def _say(done: treasurer_actions.Done) -> None:
    """Flash what happened; a repeat of a form whose first message is still waiting to be shown adds nothing."""
    if done.repeat and session.get("_flashes"):
        return
    flash(done.message, "info" if done.repeat else "success")


def _back_to(pledge_id: int | None) -> ResponseReturnValue:
    if pledge_id is None:
        return redirect(url_for("treasurer.actions"))
    return redirect(url_for("treasurer.pledge_actions", pledge_id=pledge_id))


# --- Finding what to act on --------------------------------------------------------------------


def _find(query: str) -> Pledge | None:
    """The pledge a reference (PL-000123), invoice number (INV-000001) or Stripe id (pi_…, ch_…) belongs to."""
    text = query.strip()
    pledge_id = parse_reference(text)
    if pledge_id is not None:
        return db.session.get(Pledge, pledge_id)
    invoice = db.session.scalar(select(Invoice).where(func.upper(Invoice.number) == text.upper()))
    if invoice is not None:
        return invoice.pledge
    payment = db.session.scalars(
        select(Payment).where((Payment.stripe_payment_intent_id == text) | (Payment.stripe_charge_id == text))
    ).first()
    return payment.pledge if payment is not None else None


@bp.get("/actions")
@roles_required(*TREASURERS)
def actions() -> ResponseReturnValue:
    query = (request.args.get("q") or "")[:100]
    error = None
    if query.strip():
        pledge = _find(query)
        if pledge is not None:
            return redirect(url_for("treasurer.pledge_actions", pledge_id=pledge.id))
        error = "No pledge, invoice or Stripe payment matches that. Check it and try again."
    return render_template(
        "treasury/actions.html",
        query=query,
        error=error,
        overdue=treasurer_actions.overdue_invoices(),
    ), (404 if error else 200)


@bp.get("/actions/pledges/<int:pledge_id>")
@roles_required(*TREASURERS)
def pledge_actions(pledge_id: int) -> ResponseReturnValue:
    pledge: Pledge = _get(Pledge, pledge_id)
    payments = list(db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id).order_by(Payment.id)))
    pledge_refunds = list(
        db.session.scalars(
            select(Refund)
            .join(Payment, Refund.payment_id == Payment.id)
            .where(Payment.pledge_id == pledge.id)
            .order_by(Refund.id)
        )
    )
    pledge_invoices = list(
        db.session.scalars(select(Invoice).where(Invoice.pledge_id == pledge.id).order_by(Invoice.id))
    )
    return render_template(
        "treasury/action_pledge.html",
        pledge=pledge,
        payments=payments,
        refunds=pledge_refunds,
        invoices=[(i, invoices.paid(i), invoices.balance(i), invoices.is_overdue(i)) for i in pledge_invoices],
        cancellable=treasurer_actions.cancellable(pledge),
        refundable={p.id: refunds.refundable(p) for p in payments},
        # The ledger's page for the pledge (events, instalments, emails), where the dashboard has one.
        history_url=url_for("treasurer.pledge", pledge_id=pledge.id)
        if "treasurer.pledge" in current_app.view_functions
        else None,
    )


# --- Pledges and payments ----------------------------------------------------------------------


@bp.route("/actions/pledges/<int:pledge_id>/cancel", methods=["GET", "POST"])
@roles_required(*TREASURERS)
def cancel_pledge(pledge_id: int) -> ResponseReturnValue:
    pledge: Pledge = _get(Pledge, pledge_id)
    form = CancelPledgeForm()
    # Not gated on the pledge's status: a second press of the same form finds it already cancelled.
    if form.validate_on_submit():
        try:
            done = treasurer_actions.cancel_pledge(
                pledge.id, reason=form.reason.data or "", actor=current_user, token=form.token.data or ""
            )
        except treasurer_actions.ActionError as error:
            form.reason.errors = [str(error)]
        else:
            _say(done)
            return _back_to(pledge.id)
    return render_template(
        "treasury/action_cancel.html",
        pledge=pledge,
        form=form,
        cancellable=treasurer_actions.cancellable(pledge),
        voided=treasurer_actions.invoices_to_void(pledge) if treasurer_actions.cancellable(pledge) else [],
        paid=Money(
            sum(p.collected_pence for p in db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id))),
            pledge.currency,
        ),
    ), _status(form)


def _refund_problem(payment: Payment) -> str | None:
    try:
        refunds.check_refundable(payment)
    except refunds.RefundError as error:
        return str(error)
    if not refunds.refundable(payment).any:
        return "Nothing is left to refund of this payment."
    return None


@bp.route("/actions/payments/<int:payment_id>/refund", methods=["GET", "POST"])
@roles_required(*TREASURERS)
def refund_payment(payment_id: int) -> ResponseReturnValue:
    payment: Payment = _get(Payment, payment_id)
    form = RefundForm()
    form.amount.currency = payment.currency
    if request.method == "GET":
        form.amount.data = str(refunds.refundable(payment).left).lstrip("£€$")
    problem = _refund_problem(payment)
    unavailable = None
    status = _status(form)
    if request.method == "POST":
        # The same form again: show what became of its refund, or finish one Stripe did not answer.
        earlier = refunds.by_token(form.token.data or "")
        if earlier is not None and earlier.payment_id == payment.id:
            if earlier.status != RefundStatus.PENDING:
                return _after_refund(earlier, repeat=True)
            problem = None
    if problem is None and form.validate_on_submit():
        assert form.amount.money is not None  # noqa: S101 - set by the field's validation
        try:
            refund = refunds.refund_payment(
                payment,
                form.amount.money,
                reason=form.reason.data or "",
                actor=current_user,
                token=form.token.data or "",
                end_pledge=bool(form.end_pledge.data),
            )
        except refunds.RefundError as error:
            form.amount.errors = [str(error)]
        except gateway.GatewayUnavailable as error:
            unavailable = error.message
            status = 503
        else:
            return _after_refund(refund)
    db.session.refresh(payment)
    return render_template(
        "treasury/refund.html",
        payment=payment,
        pledge=payment.pledge,
        form=form,
        problem=problem,
        unavailable=unavailable,
        available=refunds.refundable(payment),
        unfinished=refunds.in_flight(payment),
    ), status


def _after_refund(refund: Refund, *, repeat: bool = False) -> ResponseReturnValue:
    payment = refund.payment
    if repeat and session.get("_flashes"):
        return _back_to(payment.pledge_id)  # the first press's message is still to be shown
    if refund.status == RefundStatus.SUCCEEDED:
        flash(
            f"{refund.amount} has been refunded to {payment.pledge.name}'s card and they have been emailed. "
            f"{Money(payment.refunded_pence, payment.currency)} of this {payment.amount} payment is now refunded.",
            "success",
        )
    elif refund.status == RefundStatus.FAILED:
        flash(
            f"Stripe refused the refund of {refund.amount}, so nothing was refunded: {refund.failure_message}", "info"
        )
    else:
        flash(f"The refund of {refund.amount} is being made. Refresh this page in a minute to see it.", "info")
    return _back_to(payment.pledge_id)


@bp.route("/actions/payments/<int:payment_id>/receipt", methods=["GET", "POST"])
@roles_required(*TREASURERS)
def resend_receipt(payment_id: int) -> ResponseReturnValue:
    payment: Payment = _get(Payment, payment_id)
    form = SendForm()
    form.submit.label.text = "Send the receipt again"
    error = None
    if payment.status == PaymentStatus.SUCCEEDED and form.validate_on_submit():
        try:
            done = treasurer_actions.resend_receipt(payment.id, actor=current_user, token=form.token.data or "")
        except treasurer_actions.ActionError as problem:
            error = str(problem)
        else:
            _say(done)
            return _back_to(payment.pledge_id)
    return render_template(
        "treasury/action_receipt.html", payment=payment, pledge=payment.pledge, form=form, error=error
    ), _status(form)


# --- Invoices ----------------------------------------------------------------------------------


def _pledge_invoice(invoice_id: int) -> Invoice:
    invoice: Invoice = _get(Invoice, invoice_id)
    if invoice.pledge is None:
        abort(404)  # match-funding invoices are the sponsor pages' business
    return invoice


@bp.route("/actions/invoices/<int:invoice_id>/bank-transfer", methods=["GET", "POST"])
@roles_required(*TREASURERS)
def record_bank_transfer(invoice_id: int) -> ResponseReturnValue:
    invoice = _pledge_invoice(invoice_id)
    form = BankTransferForm()
    form.amount.currency = invoice.currency
    left = invoices.balance(invoice)
    payable = invoice.kind == InvoiceKind.INVOICE and invoice.status == InvoiceStatus.ISSUED and left.pence > 0
    if request.method == "GET" and payable:
        form.amount.data = str(left).lstrip("£€$")
        form.reference.data = invoice.number
    # Not gated on `payable`: the invoice service refuses what cannot be paid, and recognises the
    # same transfer sent twice even once the first has paid the invoice off.
    if form.validate_on_submit():
        assert form.amount.money is not None  # noqa: S101 - set by the field's validation
        assert form.received_on.data is not None  # noqa: S101 - validated
        try:
            received = treasurer_actions.record_bank_transfer(
                invoice.id,
                form.amount.money,
                received_on=form.received_on.data,
                reference=form.reference.data or "",
                actor=current_user,
            )
        except treasurer_actions.ActionError as error:
            form.amount.errors = [str(error)]
        else:
            left_now = received.left
            outstanding = f"{left_now} is still to pay." if left_now.pence > 0 else "It is now paid in full."
            _say(
                treasurer_actions.Done(
                    f"{received.payment.amount} received by bank transfer is recorded against {invoice.number}. "
                    f"{outstanding}",
                    repeat=received.repeat,
                )
            )
            return _back_to(invoice.pledge_id)
    return render_template(
        "treasury/action_bank_transfer.html",
        invoice=invoice,
        pledge=invoice.pledge,
        form=form,
        payable=payable,
        paid=invoices.paid(invoice),
        left=left,
    ), _status(form)


@bp.route("/actions/invoices/<int:invoice_id>/remind", methods=["GET", "POST"])
@roles_required(*TREASURERS)
def remind_invoice(invoice_id: int) -> ResponseReturnValue:
    invoice = _pledge_invoice(invoice_id)
    form = SendForm()
    form.submit.label.text = "Send the reminder"
    overdue = invoices.is_overdue(invoice)
    error = None
    if overdue and form.validate_on_submit():
        try:
            done = treasurer_actions.remind_invoice(invoice.id, actor=current_user, token=form.token.data or "")
        except treasurer_actions.ActionError as problem:
            error = str(problem)
        else:
            _say(done)
            return _back_to(invoice.pledge_id)
    return render_template(
        "treasury/action_invoice_remind.html",
        invoice=invoice,
        pledge=invoice.pledge,
        form=form,
        overdue=overdue,
        error=error,
        left=invoices.balance(invoice),
        days_overdue=treasurer_actions.days_overdue(invoice),
    ), _status(form)


@bp.route("/actions/invoices/<int:invoice_id>/resend", methods=["GET", "POST"])
@roles_required(*TREASURERS)
def resend_invoice(invoice_id: int) -> ResponseReturnValue:
    invoice = _pledge_invoice(invoice_id)
    form = SendForm()
    form.submit.label.text = "Send it again"
    sendable = invoice.status != InvoiceStatus.VOID
    error = None
    if sendable and form.validate_on_submit():
        try:
            done = treasurer_actions.resend_invoice(invoice.id, actor=current_user, token=form.token.data or "")
        except treasurer_actions.ActionError as problem:
            error = str(problem)
        else:
            _say(done)
            return _back_to(invoice.pledge_id)
    return render_template(
        "treasury/action_invoice_resend.html",
        invoice=invoice,
        pledge=invoice.pledge,
        form=form,
        sendable=sendable,
        error=error,
    ), _status(form)


@bp.route("/actions/reminders", methods=["GET", "POST"])
@roles_required(*TREASURERS)
def send_reminders() -> ResponseReturnValue:
    form = SendForm()
    form.submit.label.text = "Send the reminders that are due"
    if form.validate_on_submit():
        done = treasurer_actions.send_due_reminders(actor=current_user)
        _say(done)
        return redirect(url_for("treasurer.actions"))
    overdue = treasurer_actions.overdue_invoices()
    return render_template(
        "treasury/action_reminders.html",
        form=form,
        overdue=[(i, invoices.balance(i), treasurer_actions.days_overdue(i)) for i in overdue],
        due_now=[i for i in overdue if treasurer_actions.reminder_due(i)],
    ), _status(form)
