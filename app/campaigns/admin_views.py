from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.blueprints import admin as bp
from app.campaigns import admin
from app.campaigns.forms import CampaignForm, CancelDraftForm, PublishForm
from app.campaigns.views import campaign_page
from app.extensions import db
from app.models import AuditEntry, Campaign, Role, User
from app.security import roles_required


@bp.get("/")
@roles_required(Role.ADMIN)
def index() -> str:
    users = db.session.scalars(select(User).order_by(User.role, User.email).limit(200))
    all_campaigns = db.session.scalars(select(Campaign).order_by(Campaign.closes_at.desc()))
    return render_template("campaigns/admin_index.html", users=list(users), campaigns=list(all_campaigns))


def _campaign(slug: str) -> Campaign:
    campaign = admin.find(slug)
    if campaign is None:
        abort(404)
    return campaign


def _show_errors(form: CampaignForm | CancelDraftForm, errors: dict[str, str]) -> None:
    """Put the rules' messages on the fields they are about (replacing any shape message)."""
    for name, message in errors.items():
        field = form._fields.get(name) or form._fields["title" if "title" in form._fields else "reason"]
        field.errors = [message]


def _save(form: CampaignForm, campaign: Campaign | None) -> Campaign | None:
    """Validate and save a submitted form; the campaign saved, or None with the errors on the form."""
    valid = form.validate()
    try:
        details = admin.parse(form.raw(), existing=campaign)
    except admin.CampaignInvalid as invalid:
        _show_errors(form, invalid.errors)
        return None
    if not valid:
        return None
    try:
        if campaign is None:
            return admin.create(details, actor=current_user)
        admin.update_campaign(campaign, details, actor=current_user)
    except admin.CampaignInvalid as invalid:
        _show_errors(form, invalid.errors)
        return None
    return campaign


@bp.get("/campaigns")
@roles_required(Role.ADMIN)
def campaigns() -> str:
    return render_template("campaigns/admin/index.html", campaigns=admin.all_campaigns())


@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_campaign() -> ResponseReturnValue:
    form = CampaignForm()
    if form.is_submitted():
        saved = _save(form, None)
        if saved is not None:
            flash(f"{saved.title} is saved as a draft. Preview it, then publish it when it is ready.", "success")
            return redirect(url_for("admin.campaign", slug=saved.slug))
    return render_template("campaigns/admin/form.html", form=form, campaign=None), (
        400 if request.method == "POST" else 200
    )


@bp.get("/campaigns/<slug>")
@roles_required(Role.ADMIN)
def campaign(slug: str) -> str:
    found = _campaign(slug)
    history = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target_type == "campaign", AuditEntry.target_id == found.id)
        .order_by(AuditEntry.id.desc())
        .limit(20)
    )
    return render_template(
        "campaigns/admin/campaign.html",
        campaign=found,
        period=admin.funding_period_text(found),
        history=list(history),
        publish_form=PublishForm(),
    )


@bp.get("/campaigns/<slug>/preview")
@roles_required(Role.ADMIN)
def preview_campaign(slug: str) -> str:
    return campaign_page(_campaign(slug), preview=True)


@bp.route("/campaigns/<slug>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_campaign(slug: str) -> ResponseReturnValue:
    found = _campaign(slug)
    if found.status not in admin.EDITABLE:
        flash(f"{found.title} is {found.status.value}: it can no longer be edited.", "important")
        return redirect(url_for("admin.campaign", slug=found.slug))
    form = CampaignForm(data=None if request.method == "POST" else admin.form_values(found))
    if form.is_submitted():
        saved = _save(form, found)
        if saved is not None:
            flash(f"Your changes to {saved.title} are saved.", "success")
            return redirect(url_for("admin.campaign", slug=saved.slug))
    return render_template("campaigns/admin/form.html", form=form, campaign=found), (
        400 if request.method == "POST" else 200
    )


@bp.post("/campaigns/<slug>/publish")
@roles_required(Role.ADMIN)
def publish_campaign(slug: str) -> ResponseReturnValue:
    found = _campaign(slug)
    if not PublishForm().validate_on_submit():
        abort(400)
    try:
        published = admin.publish(found, actor=current_user)
    except admin.CampaignInvalid as invalid:
        flash(f"{found.title} was not published. {' '.join(invalid.errors.values())}.", "important")
    else:
        if published:
            flash(f"{found.title} is live: anyone can see it and pledge.", "success")
        else:
            flash(f"{found.title} was already live.", "important")
    return redirect(url_for("admin.campaign", slug=found.slug))


@bp.route("/campaigns/<slug>/cancel", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def cancel_campaign(slug: str) -> ResponseReturnValue:
    found = _campaign(slug)
    form = CancelDraftForm()
    if form.validate_on_submit():
        title = found.title
        try:
            admin.cancel_draft(found, actor=current_user, reason=form.reason.data or "")
        except admin.CampaignInvalid as invalid:
            _show_errors(form, invalid.errors)
        else:
            flash(f"The draft {title} is cancelled.", "success")
            return redirect(url_for("admin.campaigns"))
    return render_template("campaigns/admin/cancel.html", campaign=found, form=form), (
        400 if request.method == "POST" else 200
    )
