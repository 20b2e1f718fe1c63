"""The treasurer's overview of one campaign: its figures, the money funnel, runway and charts."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import select

from app.blueprints import treasurer as bp
from app.extensions import db
from app.ledger import statements
from app.models import Campaign, Role
from app.security import roles_required
from app.treasury import dashboard


def campaign_or_404(slug: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        abort(404)
    return campaign


@bp.get("/campaigns/<slug>")
@roles_required(Role.TREASURER, Role.ADMIN)
def campaign_overview(slug: str) -> str:
    dashboard.read_one_snapshot()
    campaign = campaign_or_404(slug)
    year = statements.parse_year(request.args.get("year"))
    view = dashboard.overview(campaign)
    charts = dashboard.build_charts(campaign, view, year)
    return render_template(
        "treasury/dashboard.html",
        campaign=campaign,
        view=view,
        charts=charts,
        year_slug=statements.year_slug,
        year_label=statements.year_label,
    )
