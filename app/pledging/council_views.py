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
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.blueprints import councils as bp
from app.campaigns import listing
from app.extensions import db
from app.invoicing import invoices
from app.models import (
    Campaign,
    Invoice,
    InvoiceStatus,
    Organisation,
    Pledge,
    User,
    Visibility,
)
from app.notifications import email
from app.pledging import pledges
from app.pledging.council_forms import CouncilPledgeForm, council_label
from app.security import council_officers_only, signed_in


def _suggestion(campaign: Campaign, council: Organisation | None) -> Any:
    """The fair-share suggestion for the council (an object with `.amount` and `.explanation`), or None.

    Imported when asked for, so this page keeps working (without a suggestion) wherever the
    fair-share module is missing, and a campaign whose formula settings are unusable shows no
    suggestion rather than an error.
    """
    if council is None:
        return None
    try:
        fair_share = importlib.import_module("app.campaigns.fair_share")
    except ModuleNotFoundError as error:
        if error.name != "app.campaigns.fair_share":
            raise
        return None
    try:
        return fair_share.suggest(campaign, council)
    except ValueError as error:
        current_app.logger.warning("no fair-share suggestion on %s: %s", campaign.slug, error)
        return None


def _render_form(campaign: Campaign, form: CouncilPledgeForm, status: int) -> tuple[str, int]:
    return render_template(
        "pledging/council_new.html",
        campaign=campaign,
        form=form,
        suggestion=_suggestion(campaign, form.organisation),
        first_due=invoices.first_due_date(campaign, True),
    ), status


def _officers_only(slug: str) -> tuple[str, int]:
    campaign = listing.get_public(slug)
    if campaign is None:
        abort(404)
    return render_template("pledging/officers_only.html", campaign=campaign), 403


@bp.route("/campaigns/<slug>/pledge/council", methods=["GET", "POST"])
@council_officers_only(refusal=_officers_only)
def new(slug: str) -> ResponseReturnValue:
    campaign = listing.get_public(slug)
    if campaign is None:
        abort(404)
    if not pledges.accepting_pledges(campaign):
        return render_template("pledging/closed.html", campaign=campaign), 410
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
def pledge(pledge_id: int) -> ResponseReturnValue:
    pledge = _visible_pledge(pledge_id)
    documents = list(db.session.scalars(select(Invoice).where(Invoice.pledge_id == pledge.id).order_by(Invoice.id)))
    maker = db.session.get(User, pledge.user_id) if pledge.user_id else None
    return render_template(
        "pledging/council_pledge.html",
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
