"""Treasurer actions on a campaign's deadline: close it early, or extend it (with a reason)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.blueprints import treasurer as bp
from app.campaigns import lifecycle
from app.campaigns.forms import CloseEarlyForm, ExtendForm
from app.extensions import db
from app.models import Campaign, Role
from app.security import roles_required


def _campaign(slug: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        abort(404)
    return campaign


@bp.route("/campaigns/<slug>/close", methods=["GET", "POST"])
@roles_required(Role.TREASURER, Role.ADMIN)
def close_campaign(slug: str) -> ResponseReturnValue:
    campaign = _campaign(slug)
    form = CloseEarlyForm()
    if form.validate_on_submit():
        try:
            report = lifecycle.close_early(campaign, actor=current_user, reason=form.reason.data or "")
        except lifecycle.LifecycleError as error:
            db.session.rollback()
            form.reason.errors = [str(error)]
        else:
            outcome = dict(report.closed).get(campaign.slug, "closed")
            flash(
                f"{campaign.title} is closed: it {outcome}. {report.released} pledge(s) released, "
                f"{report.charged} card payment(s) taken, {report.invoiced} invoice(s) issued.",
                "success",
            )
            return redirect(url_for("treasurer.index"))
    return render_template(
        "campaigns/close_campaign.html",
        campaign=campaign,
        form=form,
        would_succeed=lifecycle.conditions_met(campaign),
        raised=lifecycle.raised_toward_target(campaign),
    ), (400 if request.method == "POST" else 200)


@bp.route("/campaigns/<slug>/extend", methods=["GET", "POST"])
@roles_required(Role.TREASURER, Role.ADMIN)
def extend_campaign(slug: str) -> ResponseReturnValue:
    campaign = _campaign(slug)
    form = ExtendForm()
    if form.validate_on_submit():
        try:
            lifecycle.extend(campaign, form.new_close, actor=current_user, reason=form.reason.data or "")
        except lifecycle.LifecycleError as error:
            db.session.rollback()
            form.closes_on.errors = [str(error)]
        else:
            flash(f"The deadline for {campaign.title} is now {form.new_close:%-d %B %Y}, 11:59pm.", "success")
            return redirect(url_for("treasurer.index"))
    return render_template("campaigns/extend_campaign.html", campaign=campaign, form=form), (
        400 if request.method == "POST" else 200
    )
