"""Council pledges by purchase order: the form, its confirmation page and the invoice PDFs.

Trust model: a council pledge is made by a signed-in person and recorded against them (treasurers
see who made it). Its pages and PDFs are for that person, treasurers and admins; anyone else gets
404, so an invoice's existence is not revealed. The billing contact, who may have no account,
gets the PDF through a signed link that expires.
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.councils import bp
from app.councils.forms import CouncilPledgeForm, InvoiceCardForm, council_label
from app.extensions import db, limiter
from app.models import (
    Campaign,
    Invoice,
    InvoiceStatus,
    Organisation,
    PaymentStatus,
    Pledge,
    User,
    Visibility,
)
from app.payments import gateway
from app.pledges.forms import ActionForm
from app.security import council_officers_only, public, signed_in
from app.services import campaigns, card_payments, email, invoice_payments, invoices, pledges


def _suggestion(campaign: Campaign, council: Organisation | None) -> Any:
    """The fair-share suggestion for the council (an object with `.amount` and `.explanation`), or None.

    Imported when asked for, so this page keeps working (without a suggestion) wherever the
    fair-share module is missing, and a campaign whose formula settings are unusable shows no
    suggestion rather than an error.
    """
    if council is None:
        return None
    try:
        fair_share = importlib.import_module("app.services.fair_share")
    except ModuleNotFoundError as error:
        if error.name != "app.services.fair_share":
            raise
        return None
    try:
        return fair_share.suggest(campaign, council)
    except ValueError as error:
        current_app.logger.warning("no fair-share suggestion on %s: %s", campaign.slug, error)
        return None


def _render_form(campaign: Campaign, form: CouncilPledgeForm, status: int) -> tuple[str, int]:
    return render_template(
        "councils/new.html",
        campaign=campaign,
        form=form,
        suggestion=_suggestion(campaign, form.organisation),
        first_due=invoices.first_due_date(campaign, True),
    ), status


def _officers_only(slug: str) -> tuple[str, int]:
    campaign = campaigns.get_public(slug)
    if campaign is None:
        abort(404)
    return render_template("councils/officers_only.html", campaign=campaign), 403


@bp.route("/campaigns/<slug>/pledge/council", methods=["GET", "POST"])
@council_officers_only(refusal=_officers_only)
def new(slug: str):
    campaign = campaigns.get_public(slug)
    if campaign is None:
        abort(404)
    if not pledges.accepting_pledges(campaign):
        return render_template("pledges/closed.html", campaign=campaign), 410
    councils = invoices.pledgeable_councils(current_user)
    form = CouncilPledgeForm(campaign, councils)
    if request.method == "POST" and invoices.names_another_council(form.council.data, councils):
        current_app.logger.warning("council pledge refused: user %s named another council", current_user.id)
        abort(403)
    if request.method == "GET":
        chosen = request.args.get("council", "")
        if chosen not in form.councils and current_user.organisation_id is not None:
            chosen = str(current_user.organisation_id)
        form.council.data = chosen if chosen in form.councils else ""
        return _render_form(campaign, form, 200)
    if form.suggest.data:
        # "Show the suggested amount": the same page again for the chosen council, nothing lost.
        return _render_form(campaign, form, 200 if form.council.validate(form) else 400)
    if not form.validate():
        return _render_form(campaign, form, 400)
    assert form.money is not None  # noqa: S101 - set by validate_amount
    assert form.organisation is not None  # noqa: S101 - checked by validate_council
    try:
        pledge = invoices.create_council_pledge(
            campaign,
            invoices.CouncilPledgeRequest(
                organisation=form.organisation,
                user=current_user,
                amount=form.money,
                years=int(form.years.data),
                conditional=form.is_conditional,
                po_number=form.po_number.data,
                billing_contact=form.billing_contact.data,
                billing_email=form.billing_email.data,
                billing_address=form.billing_address.data,
                visibility=Visibility(form.visibility.data),
                show_on_wall=not form.hide_from_wall.data,
                submission_token=form.submission_token.data,
                wants_updates=bool(form.wants_updates.data),
            ),
        )
    except (pledges.PledgeError, invoices.InvoiceError) as error:
        db.session.rollback()
        form.amount.errors = [str(error)]
        return _render_form(campaign, form, 400)
    email.commit_and_deliver()
    current_app.logger.info("council pledge %s by user %s on %s", pledge.reference, current_user.id, campaign.slug)
    return redirect(url_for("councils.pledge", pledge_id=pledge.id))


def _visible_pledge(pledge_id: int) -> Pledge:
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or pledge.organisation is None or not invoices.can_see(current_user, pledge):
        abort(404)
    return pledge


@bp.get("/council-pledges/<int:pledge_id>")
@signed_in
def pledge(pledge_id: int):
    pledge = _visible_pledge(pledge_id)
    documents = list(db.session.scalars(select(Invoice).where(Invoice.pledge_id == pledge.id).order_by(Invoice.id)))
    maker = db.session.get(User, pledge.user_id) if pledge.user_id else None
    return render_template(
        "councils/pledge.html",
        pledge=pledge,
        campaign=pledge.campaign,
        council_label=council_label(pledge.organisation) if pledge.organisation else pledge.name,
        documents=[d for d in documents if d.status != InvoiceStatus.VOID],
        replaced=[d for d in documents if d.status == InvoiceStatus.VOID],
        balance=invoices.balance,
        pay_token=invoices.pay_token,
        financial_year=invoices.schedule.financial_year_label,
        maker=maker,
    )


def _pdf_response(invoice: Invoice) -> Response:
    body = invoices.render_pdf(invoice)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{invoices.pdf_filename(invoice)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/invoices/<int:invoice_id>.pdf")
@signed_in
@limiter.limit("30 per minute")
def invoice_pdf(invoice_id: int):
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or not invoices.can_see(current_user, invoice.pledge):
        abort(404)
    return _pdf_response(invoice)


@bp.get("/invoices/link/<token>.pdf")
@public
@limiter.limit("30 per minute")
def invoice_pdf_link(token: str):
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
    return render_template("councils/pay.html", **context), status


def _pay_unavailable(message: str, retry_url: str) -> tuple[str, int]:
    return render_template("councils/pay_try_again.html", message=message, retry_url=retry_url), 503


@bp.route("/invoices/pay/<token>", methods=["GET", "POST"])
@public
@limiter.limit("20 per minute", methods=["POST"])
def pay_invoice(token: str):
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
def invoice_card_payment(token: str, payment_id: int):
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
        "councils/payment.html",
        invoice=invoice,
        pledge=invoice.pledge,
        payment=payment,
        form=form,
        left=invoice_payments.left_to_pay(invoice),
        client_secret=client_secret,
        stripe_js=gateway.js_url(),
        publishable_key=gateway.publishable_key(),
    )
