"""Stripe webhooks: verify the signature on the raw body, then hand over to `handle_event`."""

from __future__ import annotations

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response

from app.blueprints import webhooks as bp
from app.extensions import csrf, db
from app.payments import gateway, webhooks
from app.security import public


@bp.post("/stripe")
@public
@csrf.exempt
def stripe() -> tuple[Response, int]:
    try:
        event = gateway.construct_event(
            request.get_data(cache=False),
            request.headers.get("Stripe-Signature"),
            current_app.config.get("STRIPE_WEBHOOK_SECRET", ""),
        )
        outcome = webhooks.handle_event(event)
    except gateway.InvalidSignature as error:
        current_app.logger.warning("webhook refused: %s", error)
        return jsonify({"error": "invalid signature"}), 400
    except webhooks.LivemodeMismatch:
        db.session.rollback()
        current_app.logger.warning("webhook refused: livemode mismatch")
        return jsonify({"error": "livemode mismatch"}), 400
    return jsonify({"received": True, "outcome": outcome}), 200
