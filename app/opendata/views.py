"""Open data anyone may download: a campaign's ledger (CSV, JSON) and the 360Giving package."""

from __future__ import annotations

import json

from flask import abort, request, stream_with_context
from werkzeug.wrappers import Response

from app.blueprints import public as bp
from app.campaigns import listing
from app.opendata import giving, ledger
from app.security import public

CACHE = "public, max-age=60"


def _campaign_or_404(slug: str):  # type: ignore[no-untyped-def]
    found = listing.get_public(slug)
    if found is None:
        abort(404)
    return found


def _download(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = CACHE
    return response


@bp.get("/campaigns/<slug>/ledger.csv")
@public
def ledger_csv(slug: str) -> Response:
    campaign = _campaign_or_404(slug)
    body = ledger.csv_body(campaign.id)
    return _download(Response(stream_with_context(body), mimetype="text/csv"), f"{campaign.slug}-ledger.csv")


@bp.get("/campaigns/<slug>/ledger.json")
@public
def ledger_json(slug: str) -> Response:
    campaign = _campaign_or_404(slug)
    body = ledger.json_body(campaign)
    return _download(Response(stream_with_context(body), mimetype="application/json"), f"{campaign.slug}-ledger.json")


@bp.get("/open-data/360giving.json")
@public
def giving_json() -> Response:
    """Every public campaign's organisation contributions, or one campaign's (`?campaign=slug`)."""
    slug = request.args.get("campaign", "").strip()
    campaigns = [_campaign_or_404(slug)] if slug else listing.public_campaigns()
    try:
        data = giving.package(campaigns)
    except giving.NothingToPublish:
        abort(404, "No council or sponsor has paid toward this campaign yet, so there is nothing to publish.")
    name = f"{slug or 'pledgeline'}-360giving.json"
    return _download(Response(json.dumps(data, ensure_ascii=False), mimetype="application/json"), name)
