"""The audit log: who did what, when, to what. Read-only, newest first, filterable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import render_template, request, url_for

from app.blueprints import treasurer as bp
from app.models import AuditEntry, Campaign, Invoice, MatchOffer, Organisation, Payment, Pledge, Role, User
from app.security import roles_required
from app.treasury import dashboard
from app.treasury.filters import AuditFilterForm


def _target(entry: AuditEntry, found: dict[tuple[str, int], Any]) -> tuple[str, str | None]:
    """Words for what an entry was done to, and a link to it where there is a page for it."""
    if not entry.target_type or entry.target_id is None:
        return "", None
    thing = found.get((entry.target_type, entry.target_id))
    if isinstance(thing, Pledge):
        return f"Pledge {thing.reference}", url_for("treasurer.pledge", pledge_id=thing.id)
    if isinstance(thing, Payment):
        return f"Payment #{thing.id} for PL-{thing.pledge_id:06d}", url_for(
            "treasurer.pledge", pledge_id=thing.pledge_id
        )
    if isinstance(thing, Invoice):
        return f"Invoice {thing.display_number}", url_for("councils.invoice_pdf", invoice_id=thing.id)
    if isinstance(thing, Campaign):
        return f"Campaign {thing.title}", url_for("treasurer.campaign_overview", slug=thing.slug)
    if isinstance(thing, MatchOffer):
        return f"Match offer #{thing.id}", url_for("treasurer.match_offers", slug=thing.campaign.slug)
    if isinstance(thing, Organisation):
        return thing.name, url_for("treasurer.statement", organisation_slug=thing.slug)
    if isinstance(thing, User):
        return f"Account {thing.email}", None
    return f"{entry.target_type.replace('_', ' ').capitalize()} #{entry.target_id}", None


@bp.get("/audit")
@roles_required(Role.TREASURER, Role.ADMIN)
def audit_log() -> str:
    form = AuditFilterForm(formdata=request.args, actions=dashboard.audit_actions())
    form.validate()
    log = dashboard.audit_log(
        form.filters(),
        after=dashboard.decode_cursor(request.args.get("after"), datetime),
        before=dashboard.decode_cursor(request.args.get("before"), datetime),
    )
    found = dashboard.targets(log.page.rows)
    page = log.page
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("after", "before")}
    return render_template(
        "treasury/audit.html",
        form=form,
        log=log,
        targets={entry.id: _target(entry, found) for entry in page.rows},
        filtered=any(v.strip() for v in args.values()),
        next_url=url_for("treasurer.audit_log", **args, after=page.next.encode()) if page.next else None,
        previous_url=url_for("treasurer.audit_log", **args, before=page.previous.encode()) if page.previous else None,
    )
