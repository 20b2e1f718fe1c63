"""Council invoices: their PDFs (for the council's officers, or by the signed link emailed to the
billing contact) and paying a numbered invoice by card from the link printed on it."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

from app.blueprints import councils as bp
from app.extensions import db, limiter
from app.invoicing import invoice_payments, invoices
from app.invoicing.forms import InvoiceCardForm
from app.models import Invoice, PaymentStatus
from app.payments import card_payments, gateway
from app.pledging.forms import ActionForm
from app.security import public, signed_in


def _pdf_response(invoice: Invoice) -> Response:
    body = invoices.render_pdf(invoice)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{invoices.pdf_filename(invoice)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/invoices/<int:invoice_id>.pdf")
@signed_in
@limiter.limit("30 per minute")
def invoice_pdf(invoice_id: int) -> ResponseReturnValue:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or not invoices.can_see(current_user, invoice.pledge):
        abort(404)
    return _pdf_response(invoice)


@bp.get("/invoices/link/<token>.pdf")
@public
@limiter.limit("30 per minute")
def invoice_pdf_link(token: str) -> ResponseReturnValue:
    invoice_id = invoices.invoice_id_from(token)
    invoice = db.session.get(Invoice, invoice_id) if invoice_id is not None else None
    if invoice is None or invoice.pledge is None:
        abort(404)
    return _pdf_response(invoice)


# --- Paying an invoice by card (the signed link printed on the invoice and in its emails) -------


def _payable_invoice_or_404(token: str) -> Invoice:
    invoice = invoice_payments.invoice_from_token(token)
    if invoice is None:
        abort(404)
    return invoice


def _pay_page(
    invoice: Invoice, form: InvoiceCardForm, *, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    state = invoice_payments.payability(invoice)
    context: dict[str, Any] = {
        "invoice": invoice,
        "pledge": invoice.pledge,
        "state": state.value,
        "form": form,
        "error": error,
        "left": invoice_payments.left_to_pay(invoice),
        "paid_on": invoice_payments.paid_on(invoice) if state == invoice_payments.Payability.PAID else None,
    }
    if state == invoice_payments.Payability.PAYABLE:
        try:
            entry = invoice_payments.start_card_entry(invoice)
        except gateway.GatewayUnavailable as problem:
            return _pay_unavailable(problem.message, request.path)
        form.expected_pence.data = str(context["left"].pence)
        context.update(
            client_secret=entry.client_secret, stripe_js=gateway.js_url(), publishable_key=gateway.publishable_key()
        )
    return render_template("invoicing/pay.html", **context), status


def _pay_unavailable(message: str, retry_url: str) -> tuple[str, int]:
    return render_template("invoicing/pay_try_again.html", message=message, retry_url=retry_url), 503


@bp.route("/invoices/pay/<token>", methods=["GET", "POST"])
@public
@limiter.limit("20 per minute", methods=["POST"])
def pay_invoice(token: str) -> ResponseReturnValue:
    """An invoice's card payment page: what is left to pay and a card field (numbered, unpaid invoices only)."""
    invoice = _payable_invoice_or_404(token)
    form = InvoiceCardForm()
    if request.method == "GET":
        waiting = invoice_payments.open_payment(invoice)
        if waiting is not None and waiting.status == PaymentStatus.REQUIRES_ACTION:
            # Someone started paying and their bank asked them to confirm: finish that first.
            return redirect(url_for("councils.invoice_card_payment", token=token, payment_id=waiting.id))
        return _pay_page(invoice, form)
    if not form.validate_on_submit():
        abort(400)
    try:
        attempt = invoice_payments.pay(invoice, form.setup_intent.data, expected_pence=int(form.expected_pence.data))
    except gateway.GatewayUnavailable as problem:
        db.session.rollback()
        return _pay_unavailable(problem.message, url_for("councils.pay_invoice", token=token))
    except (invoice_payments.NotPayable, card_payments.CardFlowError, gateway.GatewayError) as problem:
        db.session.rollback()
        db.session.refresh(invoice)
        return _pay_page(
            invoice,
            InvoiceCardForm(formdata=None),
            error=getattr(problem, "message", None) or str(problem),
            status=409 if isinstance(problem, invoice_payments.NotPayable) else 402,
        )
    payment = attempt.payment
    current_app.logger.info("invoice %s card payment %s: %s", invoice.number, payment.id, payment.status.value)
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED) and not attempt.reused:
        db.session.refresh(invoice)
        message = payment.failure_message or "Your card payment did not go through."
        return _pay_page(invoice, InvoiceCardForm(formdata=None), error=message, status=402)
    return redirect(url_for("councils.invoice_card_payment", token=token, payment_id=payment.id))


@bp.route("/invoices/pay/<token>/payments/<int:payment_id>", methods=["GET", "POST"])
@public
@limiter.limit("30 per minute", methods=["POST"])
def invoice_card_payment(token: str, payment_id: int) -> ResponseReturnValue:
    """Where one card payment of the invoice stands; confirms it with the payer's bank if asked.

    POST (after Stripe.js's `confirmCardPayment`, or "check again") asks Stripe afresh.
    """
    invoice = _payable_invoice_or_404(token)
    payment = invoice_payments.payment_of(invoice, payment_id)
    if payment is None:
        abort(404)
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            invoice_payments.refresh(payment)
        except gateway.GatewayUnavailable as problem:
            db.session.rollback()
            return _pay_unavailable(problem.message, request.path)
        return redirect(url_for("councils.invoice_card_payment", token=token, payment_id=payment_id))
    client_secret = None
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        try:
            client_secret = invoice_payments.client_secret_for(payment)
        except gateway.GatewayUnavailable as problem:
            return _pay_unavailable(problem.message, request.path)
    db.session.refresh(invoice)
    return render_template(
        "invoicing/payment.html",
        invoice=invoice,
        pledge=invoice.pledge,
        payment=payment,
        form=form,
        left=invoice_payments.left_to_pay(invoice),
        client_secret=client_secret,
        stripe_js=gateway.js_url(),
        publishable_key=gateway.publishable_key(),
    )
