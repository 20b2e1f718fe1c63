"""Impact reports for treasurers and admins: download the general copy, or make a signed,
expiring link for a funder who has no account."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from app import audit, links
from app.blueprints import admin as bp
from app.extensions import db
from app.models import Role
from app.reporting import reports
from app.reporting.forms import ReportLinkForm
from app.reporting.impact_views import _campaign_or_404
from app.reporting.transparency import pdf_response
from app.security import roles_required


@bp.get("/campaigns/<slug>/report.pdf")
@roles_required(Role.ADMIN, Role.TREASURER)
def report(slug: str) -> Response:
    campaign = _campaign_or_404(slug)
    try:
        period = reports.period_for(campaign, request.args.get("period"))
    except reports.ReportError:
        abort(404)
    document, _ = reports.report_pdf(campaign, period)
    return pdf_response(document, reports.filename(campaign, period))


@bp.route("/campaigns/<slug>/report-link", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.TREASURER)
def report_link(slug: str) -> tuple[str, int]:
    campaign = _campaign_or_404(slug)
    form = ReportLinkForm()
    url = None
    period = reports.default_period(campaign)
    if form.validate_on_submit():
        try:
            period = reports.period_for(campaign, form.period.data)
            token = reports.link_token(campaign, period, form.days.data)
        except reports.ReportError as error:
            form.period.errors = [str(error)]
        else:
            url = links.external_url("public.report_link", token=token)
            audit.record(
                "report.link_created",
                actor=current_user,
                target=campaign,
                summary=f"Impact report link for {period.label}, valid {form.days.data} days",
                detail={"period": period.label, "days": form.days.data},
                ip_address=request.remote_addr,
            )
            db.session.commit()
    status = 400 if form.is_submitted() and form.errors else 200
    return render_template(
        "reporting/report_link.html", campaign=campaign, form=form, url=url, period=period, days=form.days.data
    ), status
