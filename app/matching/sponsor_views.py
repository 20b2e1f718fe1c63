"""The sponsor's area: their own organisation's match offers, and nobody else's.

A sponsor sees only aggregates (what each offer has matched), never an individual's details.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

from app.blueprints import sponsor as bp
from app.campaigns import listing
from app.extensions import db
from app.matching import match_funding
from app.matching.forms import MatchOfferForm, WithdrawOfferForm
from app.models import MatchOffer, MatchStatus, Organisation, OrganisationKind, Role
from app.reporting import reports
from app.reporting.transparency import pdf_response
from app.security import roles_required


def _own_sponsor() -> Organisation | None:
    organisation = current_user.organisation
    return organisation if organisation is not None and organisation.kind == OrganisationKind.SPONSOR else None


def _own_offer_or_404(offer_id: int) -> MatchOffer:
    sponsor = _own_sponsor()
    offer = db.session.get(MatchOffer, offer_id)
    # Another sponsor's offer is "not found", exactly like one that does not exist.
    if offer is None or sponsor is None or offer.sponsor_id != sponsor.id:
        abort(404)
    return offer


@bp.get("/")
@roles_required(Role.SPONSOR)
def index() -> str:
    sponsor = _own_sponsor()
    offers = match_funding.offers_for_sponsor(sponsor) if sponsor is not None else []
    backed = {offer.campaign.id for offer, _ in offers}
    # Campaigns it backs first, then the other public ones.
    report_campaigns = sorted(listing.public_campaigns(), key=lambda c: (c.id not in backed, c.title))
    return render_template(
        "matching/sponsor_index.html",
        organisation=sponsor,
        offers=offers,
        campaigns=[c for c in listing.public_campaigns() if match_funding.accepting_offers(c)],
        reports=[(c, reports.default_period(c), c.id in backed) for c in report_campaigns],
    )


@bp.route("/offers/new", methods=["GET", "POST"])
@roles_required(Role.SPONSOR)
def new_offer() -> ResponseReturnValue:
    sponsor = _own_sponsor()
    if sponsor is None:
        abort(403)
    open_campaigns = [c for c in listing.public_campaigns() if match_funding.accepting_offers(c)]
    form = MatchOfferForm(campaigns=open_campaigns)
    if request.method == "GET" and request.args.get("campaign") in {c.slug for c in open_campaigns}:
        form.campaign.data = request.args["campaign"]
    if form.validate_on_submit():
        if form.chosen_campaign is None or form.money is None:  # set by the form's validators; never None here
            abort(400)
        try:
            offer = match_funding.create_offer(
                form.chosen_campaign,
                sponsor,
                form.ratio.data,
                form.money,
                form.eligibility.data,
                form.is_conditional,
                current_user,
            )
        except match_funding.MatchError as error:
            db.session.rollback()
            form.show(error)
        else:
            db.session.commit()
            flash(
                f"Your offer of {match_funding.format_ratio(offer.ratio_bp, offer.currency)} up to "
                f"{offer.campaign.money(offer.cap_pence)} on {offer.campaign.title} is now live and listed "
                "on the campaign page.",
                "success",
            )
            return redirect(url_for("sponsor.index"))
    limits = {c.slug: match_funding.share_limit_message(c, sponsor) for c in open_campaigns}
    return render_template(
        "matching/new_offer.html", form=form, organisation=sponsor, campaigns=open_campaigns, limits=limits
    ), (400 if request.method == "POST" else 200)


@bp.route("/offers/<int:offer_id>/withdraw", methods=["GET", "POST"])
@roles_required(Role.SPONSOR)
def withdraw_offer(offer_id: int) -> Response | tuple[str, int]:
    offer = _own_offer_or_404(offer_id)
    form = WithdrawOfferForm()
    if form.validate_on_submit():
        try:
            match_funding.withdraw_offer(offer, current_user, form.reason.data or "")
        except match_funding.MatchError as error:
            db.session.rollback()
            form.reason.errors = [str(error)]
        else:
            db.session.commit()
            flash(f"Your offer on {offer.campaign.title} is withdrawn.", "success")
            return redirect(url_for("sponsor.index"))
    matched = match_funding.matched_pence(offer)
    return render_template(
        "matching/withdraw_offer.html",
        offer=offer,
        matched=matched,
        can_withdraw=offer.status == MatchStatus.ACTIVE and matched == 0,
        form=form,
    ), (400 if request.method == "POST" else 200)


@bp.get("/reports/<slug>.pdf")
@roles_required(Role.SPONSOR)
def report(slug: str) -> Response:
    """The sponsor's own copy of a public campaign's impact report: the campaign's published
    figures plus its own offers and what they matched, never another sponsor's. A sponsor that
    has not backed the campaign yet gets the same report with no offers of its own in it (the
    evidence it would decide on)."""
    sponsor = _own_sponsor()
    campaign = listing.get_public(slug)
    if sponsor is None or campaign is None:
        abort(404)
    try:
        period = reports.period_for(campaign, request.args.get("period"))
    except reports.ReportError:
        abort(404)
    document, _ = reports.report_pdf(campaign, period, sponsor)
    return pdf_response(document, reports.filename(campaign, period, sponsor))
