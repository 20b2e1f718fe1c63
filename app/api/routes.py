from __future__ import annotations

from flask import abort, jsonify
from werkzeug.wrappers import Response

from app.api import bp
from app.extensions import db, limiter
from app.models import Campaign
from app.public import cache
from app.security import public
from app.services import campaigns


@bp.get("/campaigns")
@public
def campaign_list() -> Response:
    return jsonify({"campaigns": [campaigns.as_json(c) for c in campaigns.public_campaigns()]})


@bp.get("/campaigns/<slug>")
@public
@limiter.exempt  # served from the cache, often without Flask at all (see public.cache.FastPath)
def campaign(slug: str) -> Response:
    stamp = campaigns.stamp(slug)
    if stamp is None:
        abort(404)

    def render() -> tuple[campaigns.Stamp, bytes]:
        shown = campaigns.stamp_in_session(slug)
        if shown is None:
            abort(404)
        found = db.session.get_one(Campaign, shown.campaign_id, populate_existing=True)
        return shown, jsonify(campaigns.as_json(found)).get_data()

    return cache.api(stamp, render)
