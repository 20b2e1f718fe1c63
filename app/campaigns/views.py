from __future__ import annotations

from flask import abort, current_app, jsonify, redirect, render_template, url_for
from sqlalchemy import text
from werkzeug.wrappers import Response

from app.blueprints import public as bp
from app.campaigns import fair_share, listing
from app.campaigns import page_cache as cache
from app.extensions import db, limiter
from app.matching import match_funding
from app.models import Campaign
from app.security import public


@bp.get("/")
@public
def index() -> Response | str:
    live = listing.public_campaigns()
    if len(live) == 1:
        return redirect(url_for("public.campaign", slug=live[0].slug))
    return render_template("campaigns/campaigns.html", campaigns=live)


@bp.get("/campaigns")
@public
def campaign_list() -> str:
    return render_template("campaigns/campaigns.html", campaigns=listing.public_campaigns())


@bp.get("/campaigns/<slug>")
@public
@limiter.exempt  # served from the cache, often without Flask at all (see campaigns.page_cache.FastPath)
def campaign(slug: str) -> Response | str:
    stamp = listing.stamp(slug)
    if stamp is None:
        abort(404)
    if not cache.is_anonymous_visitor():
        found = listing.get_public(slug)
        if found is None:
            abort(404)
        return campaign_page(found)

    def render() -> tuple[listing.Stamp, str]:
        shown = listing.stamp_in_session(slug)
        if shown is None:
            abort(404)
        return shown, campaign_page(db.session.get_one(Campaign, shown.campaign_id, populate_existing=True))

    return cache.page(stamp, render)


def campaign_page(found: Campaign, *, preview: bool = False) -> str:
    """The public page; `preview` marks it as an admin's preview of how it will look."""
    return render_template(
        "campaigns/campaign.html",
        campaign=found,
        preview=preview,
        days_left=listing.days_left(found),
        councils_needed=listing.councils_needed(found),
        supporters=listing.recent_supporters(found),
        councils=listing.wall_of_councils(found),
        offers=match_funding.matched_by_offer(found),
    )


@bp.get("/campaigns/<slug>/fair-share")
@public
def fair_share_formula(slug: str) -> str:
    found = listing.get_public(slug)
    if found is None:
        abort(404)
    return render_template(
        "campaigns/fair_share.html",
        campaign=found,
        formula=fair_share.formula_for(found),
        examples=fair_share.examples(found),
    )


@bp.get("/healthz")
@public
def healthz() -> tuple[Response, int]:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        db.session.rollback()
        return jsonify({"status": "error", "database": "unavailable"}), 503
    if current_app.config.get("JOBS_IMMEDIATE"):
        return jsonify({"status": "ok", "database": "ok"}), 200  # no queue: jobs run as they are called
    from app import jobs

    try:
        age = jobs.oldest_waiting_age()
    except Exception:  # noqa: BLE001 - the queue (Redis) is down; pages still serve, so say so without 503
        return jsonify({"status": "degraded", "database": "ok", "jobs": "unavailable"}), 200
    return jsonify({"status": "ok", "database": "ok", "jobs": "ok", "oldest_job_age_seconds": age}), 200
