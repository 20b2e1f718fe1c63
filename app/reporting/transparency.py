"""What a campaign achieved and where its money went, for anyone to see: the transparency page
and the impact section of the campaign page."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, abort, render_template

from app.blueprints import public as bp
from app.campaigns import listing
from app.extensions import db
from app.models import Campaign, ImpactStory
from app.opendata import giving
from app.reporting import impact, reports
from app.security import public
from app.treasury import dashboard


@dataclass(frozen=True)
class PageImpact:
    metrics: list[impact.MetricTotal]
    stories: list[ImpactStory]


def page_impact(campaign: Campaign) -> PageImpact:
    """The impact section of the campaign page: two small queries, whatever the number of pledges."""
    return PageImpact(impact.metric_totals(campaign), impact.stories(campaign, limit=3))


bp.add_app_template_global(page_impact, "campaign_impact")


@bp.get("/campaigns/<slug>/transparency")
@public
def transparency(slug: str) -> str:
    found = listing.get_public(slug)
    if found is None:
        abort(404)
    today = dashboard.london_today()
    view = dashboard.overview(found, today)
    spending = impact.outgoings_by_category(found)
    return render_template(
        "reporting/transparency.html",
        campaign=found,
        figures=reports.headline(view),
        charts=dashboard.build_charts(found, view, today=today),
        spending=spending,
        spending_total=sum(c.pence for c in spending),
        spending_chart=reports.spending_chart(found, spending),
        outgoings=impact.recent_outgoings(found),
        metrics=impact.metric_totals(found),
        has_grants=bool(giving.contributions([found.id])),
    )


@bp.get("/reports/<token>")
@public
def report_link(token: str) -> Response:
    """A general impact report through the signed, expiring link a treasurer made for a funder;
    an altered or expired link is "not found"."""
    found = reports.from_link_token(token)
    if found is None:
        abort(404)
    campaign_id, period = found
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not campaign.is_public:
        abort(404)
    document, _ = reports.report_pdf(campaign, period)
    return pdf_response(document, reports.filename(campaign, period))


def pdf_response(document: bytes, name: str) -> Response:
    response = Response(document, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
