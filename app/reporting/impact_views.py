"""Recording a campaign's impact, outgoings and updates.

Admins and treasurers record impact figures, stories and outgoings; only admins publish updates
and email them to the pledgers who agreed to hear. Views are thin: validate, call `reporting.impact`, redirect.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.blueprints import admin as bp
from app.extensions import db
from app.models import Campaign, CampaignUpdate, Role
from app.notifications import email
from app.reporting import impact
from app.reporting.forms import ConfirmForm, ImpactEntryForm, OutgoingForm, StoryForm, UpdateForm
from app.security import roles_required


def _campaign_or_404(slug: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        abort(404)
    return campaign


def _form_page(campaign: Campaign, form: Any, heading: str, action: str, status: int) -> tuple[str, int]:
    return render_template(
        "reporting/impact_form.html", campaign=campaign, form=form, heading=heading, action=action
    ), status


@bp.get("/campaigns/<slug>/impact")
@roles_required(Role.ADMIN, Role.TREASURER)
def impact_index(slug: str) -> str:
    campaign = _campaign_or_404(slug)
    updates = list(
        db.session.scalars(
            select(CampaignUpdate)
            .where(CampaignUpdate.campaign_id == campaign.id)
            .order_by(CampaignUpdate.published_at.desc(), CampaignUpdate.id.desc())
            .limit(50)
        )
    )
    return render_template(
        "reporting/impact.html",
        campaign=campaign,
        metrics=impact.metric_totals(campaign),
        entries=impact.recent_entries(campaign),
        stories=impact.stories(campaign, limit=50),
        outgoings=impact.recent_outgoings(campaign),
        spending=impact.outgoings_by_category(campaign),
        updates=[(u, impact.emailing_of(u)) for u in updates],
        is_admin=current_user.has_role(Role.ADMIN),
    )


@bp.route("/campaigns/<slug>/impact/figures/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.TREASURER)
def new_impact_entry(slug: str) -> Response | tuple[str, int]:
    campaign = _campaign_or_404(slug)
    form = ImpactEntryForm()
    if form.validate_on_submit():
        try:
            entry = impact.record_entry(
                campaign, form.recorded_on.data, form.metric.data, form.value.data, current_user, form.note.data or ""
            )
        except impact.ImpactError as error:
            db.session.rollback()
            form.value.errors = [str(error)]
        else:
            db.session.commit()
            flash(f"Recorded {entry.metric.label.lower()}: {entry.value:,}.", "success")
            return redirect(url_for("admin.impact_index", slug=campaign.slug))
    return _form_page(
        campaign,
        form,
        "Record an impact figure",
        url_for("admin.new_impact_entry", slug=slug),
        400 if form.is_submitted() else 200,
    )


@bp.route("/campaigns/<slug>/impact/stories/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.TREASURER)
def new_story(slug: str) -> Response | tuple[str, int]:
    campaign = _campaign_or_404(slug)
    form = StoryForm()
    if form.validate_on_submit():
        try:
            story = impact.add_story(
                campaign,
                form.title.data or "",
                form.text.data or "",
                form.link.data,
                form.published_on.data,
                current_user,
            )
        except impact.ImpactError as error:
            db.session.rollback()
            form.text.errors = [str(error)]
        else:
            db.session.commit()
            flash(f"Added the story “{story.title}”.", "success")
            return redirect(url_for("admin.impact_index", slug=campaign.slug))
    return _form_page(
        campaign,
        form,
        "Add an impact story",
        url_for("admin.new_story", slug=slug),
        400 if form.is_submitted() else 200,
    )


@bp.route("/campaigns/<slug>/outgoings/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.TREASURER)
def new_outgoing(slug: str) -> Response | tuple[str, int]:
    campaign = _campaign_or_404(slug)
    form = OutgoingForm()
    if form.validate_on_submit() and form.money is not None:
        try:
            outgoing = impact.add_outgoing(
                campaign, form.spent_on.data, form.category.data, form.money, form.description.data or "", current_user
            )
        except impact.ImpactError as error:
            db.session.rollback()
            form.amount.errors = [str(error)]
        else:
            db.session.commit()
            flash(f"Recorded {outgoing.amount} spent on {outgoing.category.label.lower()}.", "success")
            return redirect(url_for("admin.impact_index", slug=campaign.slug))
    return _form_page(
        campaign,
        form,
        "Record money spent",
        url_for("admin.new_outgoing", slug=slug),
        400 if form.is_submitted() else 200,
    )


@bp.route("/campaigns/<slug>/updates/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_update(slug: str) -> Response | tuple[str, int]:
    campaign = _campaign_or_404(slug)
    form = UpdateForm()
    if form.validate_on_submit():
        try:
            update = impact.publish_update(campaign, form.title.data or "", form.body.data or "", current_user)
        except impact.ImpactError as error:
            db.session.rollback()
            form.body.errors = [str(error)]
        else:
            db.session.commit()
            flash(f"Published “{update.title}” on the campaign page.", "success")
            return redirect(url_for("admin.impact_index", slug=campaign.slug))
    return _form_page(
        campaign, form, "Publish an update", url_for("admin.new_update", slug=slug), 400 if form.is_submitted() else 200
    )


@bp.route("/updates/<int:update_id>/email", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def email_update(update_id: int) -> Response | str:
    update = db.session.get(CampaignUpdate, update_id)
    if update is None:
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            sent = impact.email_update(update, current_user)
        except impact.ImpactError as error:
            db.session.rollback()
            flash(f"{error}. Nothing was sent.", "info")
            return redirect(url_for("admin.email_update", update_id=update.id))
        if sent is None:
            db.session.rollback()
            flash("This update has already been emailed to pledgers; nothing more was sent.", "success")
        else:
            email.commit_and_deliver()
            flash(f"Emailed “{update.title}” to {sent:,} pledgers who asked for updates.", "success")
        return redirect(url_for("admin.impact_index", slug=update.campaign.slug))
    return render_template(
        "reporting/email_update.html",
        update=update,
        form=form,
        emailing=impact.emailing_of(update),
        audience=impact.update_audience(update.campaign),
    )
