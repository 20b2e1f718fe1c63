"""Admin pages: register an endpoint (its secret shown once), see its deliveries, stop it."""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app import audit
from app.blueprints import admin as bp
from app.extensions import db
from app.models import Role, WebhookDelivery, WebhookEndpoint
from app.outgoing import delivery
from app.outgoing.events import EVENT_TYPES
from app.outgoing.forms import DisableForm, EndpointForm
from app.security import roles_required

NEW_SECRET = "webhook_secret_once"  # noqa: S105 - the session key, not a secret


@bp.get("/webhooks")
@roles_required(Role.ADMIN)
def webhooks() -> str:
    endpoints = db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc()))
    return render_template("outgoing/index.html", endpoints=list(endpoints), event_types=EVENT_TYPES)


@bp.route("/webhooks/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_webhook() -> ResponseReturnValue:
    form = EndpointForm()
    if form.is_submitted() and _valid(form):
        secret = f"whsec_{secrets.token_urlsafe(32)}"
        endpoint = WebhookEndpoint(
            url=(form.url.data or "").strip(),
            description=(form.description.data or "").strip(),
            events=[e for e in EVENT_TYPES if e in (form.events.data or [])],
            secret=secret,
            owner_id=current_user.id,
        )
        db.session.add(endpoint)
        db.session.flush()
        audit.record(
            "webhook.registered",
            actor=current_user,
            target=endpoint,
            summary=f"Webhook endpoint {endpoint.url} registered for {', '.join(endpoint.events)}",
        )
        db.session.commit()
        session[NEW_SECRET] = {"id": endpoint.id, "secret": secret}
        return redirect(url_for("admin.webhook", endpoint_id=endpoint.id))
    status = 400 if request.method == "POST" else 200
    return render_template("outgoing/new.html", form=form), status


def _valid(form: EndpointForm) -> bool:
    """Every field checked, the address's destination too, so each mistake is shown at once."""
    valid = form.validate()
    if not form.url.errors:
        try:
            delivery.check_url(form.url.data or "")
        except delivery.AddressRefused as refused:
            form.url.errors = [str(refused)]
            valid = False
    return valid


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@bp.get("/webhooks/<int:endpoint_id>")
@roles_required(Role.ADMIN)
def webhook(endpoint_id: int) -> str:
    endpoint = _endpoint(endpoint_id)
    shown = session.pop(NEW_SECRET, None)
    secret = shown["secret"] if shown and shown.get("id") == endpoint.id else None
    deliveries = db.session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(50)
    )
    return render_template(
        "outgoing/show.html",
        endpoint=endpoint,
        secret=secret,
        deliveries=list(deliveries),
        form=DisableForm(),
        header=delivery.SIGNATURE_HEADER,
    )


@bp.post("/webhooks/<int:endpoint_id>/disable")
@roles_required(Role.ADMIN)
def disable_webhook(endpoint_id: int) -> ResponseReturnValue:
    endpoint = _endpoint(endpoint_id)
    form = DisableForm()
    if form.validate_on_submit() and endpoint.is_active:
        delivery.disable(endpoint, "Stopped by an admin", notify=False)
        audit.record("webhook.disabled", actor=current_user, target=endpoint, summary=f"Stopped {endpoint.url}")
        db.session.commit()
        flash("Events are no longer sent to this endpoint.", "success")
    return redirect(url_for("admin.webhook", endpoint_id=endpoint.id))
