"""CSV exports of a campaign's pledges, payments and invoices, streamed as they are read."""

from __future__ import annotations

from flask import render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

from app import audit
from app.blueprints import treasurer as bp
from app.database import write_transaction
from app.extensions import db
from app.models import Role
from app.security import roles_required
from app.treasury import exports
from app.treasury.dashboard_views import campaign_or_404
from app.treasury.filters import ExportForm


@bp.get("/campaigns/<slug>/export")
@roles_required(Role.TREASURER, Role.ADMIN)
def export(slug: str) -> ResponseReturnValue:
    """The export form; sent (by GET, with a choice), the CSV file itself."""
    campaign = campaign_or_404(slug)
    asked = "kind" in request.args
    form = ExportForm(formdata=request.args if asked else None)
    if not asked or not form.validate():
        return render_template("treasury/dashboard_export.html", campaign=campaign, form=form), (400 if asked else 200)

    chosen = exports.EXPORTS[form.kind.data]
    first, last = form.date_from.date, form.date_to.date
    filename = exports.filename(chosen, campaign, first, last)
    # Read now: the audit commit below expires the campaign, and the body is streamed after this
    # view returns, when the campaign is no longer bound to a session.
    campaign_id = campaign.id
    # Personal data is leaving the system: record who took what, before the first byte goes.
    with write_transaction():
        audit.record(
            "export.downloaded",
            actor=current_user,
            target=campaign,
            summary=f"{chosen.label} of {campaign.title} exported as CSV ({filename})",
            detail={
                "export": chosen.name,
                "from": first.isoformat() if first else None,
                "to": last.isoformat() if last else None,
            },
            ip_address=request.remote_addr,
        )
        db.session.commit()
    body = exports.stream(exports.rows(chosen, campaign_id, first, last))
    response = Response(stream_with_context(body), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
