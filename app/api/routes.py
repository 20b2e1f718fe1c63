from __future__ import annotations

from flask import abort, jsonify
from werkzeug.wrappers import Response

from app.api import bp
from app.security import public
from app.services import campaigns


@bp.get("/campaigns")
@public
def campaign_list() -> Response:
    return jsonify({"campaigns": [campaigns.as_json(c) for c in campaigns.public_campaigns()]})


@bp.get("/campaigns/<slug>")
@public
def campaign(slug: str) -> Response:
    found = campaigns.get_public(slug)
    if found is None:
        abort(404)
    return jsonify(campaigns.as_json(found))
