from __future__ import annotations

import hashlib

from flask import abort, jsonify, request
from werkzeug.wrappers import Response

from app.blueprints import api as bp
from app.campaigns import listing
from app.campaigns import page_cache as cache
from app.extensions import db, limiter
from app.models import Campaign
from app.security import public


@bp.after_request
def readable_from_any_site(response: Response) -> Response:
    """Every API answer, errors included, may be read by another site's script."""
    cache.open_to_any_site(response.headers)
    return response


@bp.get("/campaigns")
@public
def campaign_list() -> Response:
    body = jsonify({"campaigns": [listing.as_json(c) for c in listing.public_campaigns()]}).get_data()
    return cache.json_response(body, hashlib.sha256(body).hexdigest()[:32], request.environ)


@bp.get("/campaigns/<slug>")
@public
@limiter.exempt  # served from the cache, often without Flask at all (see campaigns.page_cache.FastPath)
def campaign(slug: str) -> Response:
    stamp = listing.stamp(slug)
    if stamp is None:
        abort(404)

    def render() -> tuple[listing.Stamp, bytes]:
        shown = listing.stamp_in_session(slug)
        if shown is None:
            abort(404)
        found = db.session.get_one(Campaign, shown.campaign_id, populate_existing=True)
        return shown, jsonify(listing.as_json(found)).get_data()

    return cache.api(stamp, render)
