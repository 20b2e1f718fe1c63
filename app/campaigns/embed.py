"""A campaign's progress for other sites to show: a small card for a frame, and an SVG badge.

Both read the campaign's own totals (the same columns the page and the API show), carry an
ETag of the campaign's stamp so a repeat request costs one small query and a 304, and may be
kept by caches for a minute. The card is the only page any site may frame (`allow_framing`);
it has no form and no script. The badge is an image, so it needs no permission to be shown.
"""

from __future__ import annotations

from flask import abort, render_template, request
from werkzeug.wrappers import Response

from app.blueprints import public as bp
from app.campaigns import listing
from app.campaigns import page_cache as cache
from app.extensions import db, limiter
from app.models import Campaign
from app.money import format_pence
from app.security import allow_framing, public

CACHE_CONTROL = "public, max-age=60"
# Badge text is measured, not rendered, so widths are estimated from an average glyph width of
# Verdana at 11px (what most badges use) and rounded up: a little slack is better than clipping.
GLYPH_WIDTH = 7
PADDING = 10


def _campaign(slug: str, kind: str) -> tuple[Campaign, str]:
    stamp = listing.stamp(slug)
    if stamp is None:
        abort(404)
    found = db.session.get(Campaign, stamp.campaign_id)
    if found is None:
        abort(404)
    return found, cache.etag_for((kind, *cache.page_key(stamp)))


def _cached(response: Response, etag: str) -> Response:
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response.make_conditional(request.environ) if request.if_none_match else response


@bp.get("/embed/campaigns/<slug>")
@public
@limiter.exempt  # read-only and cheap; a council's busy home page must not be refused
def embed_card(slug: str) -> Response:
    found, etag = _campaign(slug, "embed")
    allow_framing()
    html = render_template("campaigns/embed.html", campaign=found, days_left=listing.days_left(found))
    return _cached(Response(html, mimetype="text/html"), etag)


def badge_parts(found: Campaign) -> tuple[str, str]:
    """The badge's label and value, in the campaign page's words: 'Pledged', '£30,500 of £45,000 (67%)'."""
    raised = format_pence(found.raised_pence, found.currency, whole=True)
    target = format_pence(found.target_pence, found.currency, whole=True)
    label = "Pledged and matched" if found.matched_pence else "Pledged"
    return label, f"{raised} of {target} ({found.percent_of_target}%)"


@bp.get("/campaigns/<slug>/badge.svg")
@public
@limiter.exempt
def badge(slug: str) -> Response:
    found, etag = _campaign(slug, "badge")
    label, value = badge_parts(found)
    label_width = len(label) * GLYPH_WIDTH + PADDING
    value_width = len(value) * GLYPH_WIDTH + PADDING
    svg = render_template(
        "campaigns/badge.svg",
        campaign=found,
        label=label,
        value=value,
        label_width=label_width,
        value_width=value_width,
        bar_width=value_width * found.percent_of_target // 100,
    )
    return _cached(Response(svg, mimetype="image/svg+xml"), etag)
