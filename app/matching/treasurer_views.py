"""Match offers recorded by a treasurer on a sponsor's behalf (the sponsor's own form is in sponsor_views)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.blueprints import treasurer as bp
from app.extensions import db
from app.matching import match_funding
from app.matching.forms import MatchOfferForm
from app.models import Campaign, Role
from app.security import roles_required


def _campaign_or_404(slug: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        abort(404)
    return campaign


@bp.get("/campaigns/<slug>/offers")
@roles_required(Role.TREASURER, Role.ADMIN)
def match_offers(slug: str) -> str:
    campaign = _campaign_or_404(slug)
    return render_template(
        "matching/match_offers.html",
        campaign=campaign,
        offers=match_funding.matched_by_offer(campaign),
        counted=match_funding.counts_toward_success(campaign),
        accepting=match_funding.accepting_offers(campaign),
    )


@bp.route("/campaigns/<slug>/offers/new", methods=["GET", "POST"])
@roles_required(Role.TREASURER, Role.ADMIN)
def new_match_offer(slug: str) -> ResponseReturnValue:
    campaign = _campaign_or_404(slug)
    sponsors = match_funding.sponsors()
    form = MatchOfferForm(sponsors=sponsors)
    accepting = match_funding.accepting_offers(campaign)
    if accepting and form.validate_on_submit():
        if form.chosen_sponsor is None or form.money is None:  # set by the form's validators; never None here
            abort(400)
        try:
            offer = match_funding.create_offer(
                campaign,
                form.chosen_sponsor,
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
                f"{offer.sponsor.name}'s offer of {match_funding.format_ratio(offer.ratio_bp, offer.currency)} up to "
                f"{campaign.money(offer.cap_pence)} is recorded and listed on the campaign page.",
                "success",
            )
            return redirect(url_for("treasurer.match_offers", slug=campaign.slug))
    limits = [(s, match_funding.share_limit_message(campaign, s)) for s in sponsors] if accepting else []
    return render_template(
        "matching/match_new.html",
        campaign=campaign,
        form=form,
        accepting=accepting,
        limits=limits,
        sponsors=sponsors,
    ), (400 if request.method == "POST" else 200)
