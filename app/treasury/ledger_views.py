"""The ledger, read by a treasurer: every pledge of a campaign, one pledge's history, and councils'
statements by financial year."""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import Any

from flask import abort, current_app, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.blueprints import treasurer as bp
from app.extensions import db
from app.ledger import statements
from app.models import Organisation, Pledge, Role, parse_reference
from app.pledging import schedule
from app.security import roles_required
from app.treasury import dashboard
from app.treasury.dashboard_views import campaign_or_404
from app.treasury.filters import PledgeFilterForm

CURSOR_ARGS = ("after", "before")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def short_time(moment: datetime) -> tuple[str, str]:
    """A moment as a short UK date and time for a crowded table: ("28 Nov 2026", "6:22pm")."""
    local = moment.astimezone(dashboard.LONDON)
    hour = local.hour % 12 or 12
    return (
        f"{local.day} {MONTHS[local.month - 1]} {local.year}",
        f"{hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}",
    )


def _page_url(endpoint: str, cursor: str, position: dashboard.Cursor, **values: str) -> str:
    """The same page with the same filters, starting after (or ending before) `position`."""
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in CURSOR_ARGS}
    args.update(values)
    args[cursor] = position.encode()
    return url_for(endpoint, **args)


@bp.get("/campaigns/<slug>/pledges")
@roles_required(Role.TREASURER, Role.ADMIN)
def pledges(slug: str) -> str:
    campaign = campaign_or_404(slug)
    form = PledgeFilterForm(formdata=request.args)
    form.validate()
    filters = form.filters()
    kind = dashboard.cursor_kind(filters.sort)
    table = dashboard.pledge_table(
        campaign,
        filters,
        after=dashboard.decode_cursor(request.args.get("after"), kind),
        before=dashboard.decode_cursor(request.args.get("before"), kind),
    )
    page = table.page
    # A reference that belongs to another campaign: say where it is rather than "no pledges".
    elsewhere = None
    reference = parse_reference(filters.search) if filters.search else None
    if reference is not None and not page.rows:
        elsewhere = db.session.get(Pledge, reference)
    return render_template(
        "treasury/pledges.html",
        campaign=campaign,
        form=form,
        table=table,
        elsewhere=elsewhere,
        filtered=bool(form.active()),
        short_time=short_time,
        next_url=_page_url("treasurer.pledges", "after", page.next, slug=slug) if page.next else None,
        previous_url=_page_url("treasurer.pledges", "before", page.previous, slug=slug) if page.previous else None,
    )


@bp.get("/pledges/<int:pledge_id>")
@roles_required(Role.TREASURER, Role.ADMIN)
def pledge(pledge_id: int) -> str:
    record = dashboard.pledge_record(pledge_id)
    if record is None:
        abort(404)
    statement_year = None
    if record.pledge.organisation is not None and record.pledge.instalments:
        statement_year = statements.year_slug(schedule.financial_year_of(record.pledge.instalments[0].due_on))
    # The actions on a pledge (refunds, cancelling, resending) live on their own page, when installed.
    actions_url = (
        url_for("treasurer.pledge_actions", pledge_id=pledge_id)
        if "treasurer.pledge_actions" in current_app.view_functions
        else None
    )
    return render_template(
        "treasury/pledge.html",
        actions_url=actions_url,
        record=record,
        pledge=record.pledge,
        campaign=record.pledge.campaign,
        statement_year=statement_year,
        financial_year=schedule.financial_year_label,
    )


# -- Statements --------------------------------------------------------------------------------


def _organisation_or_404(slug: str) -> Organisation:
    organisation = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        abort(404)
    return organisation


def _statement(organisation_slug: str) -> statements.Statement:
    organisation = _organisation_or_404(organisation_slug)
    text = request.args.get("year")
    if text:
        year = statements.parse_year(text)
        if year is None:
            abort(404)
    else:
        year = schedule.financial_year_of(dashboard.london_today())
    return statements.statement(organisation, year)


@bp.get("/statements")
@roles_required(Role.TREASURER, Role.ADMIN)
def statements_index() -> str:
    return render_template(
        "treasury/statements.html",
        organisations=statements.organisations_with_pledges(),
        this_year=statements.year_slug(schedule.financial_year_of(dashboard.london_today())),
    )


@bp.get("/statements/<organisation_slug>")
@roles_required(Role.TREASURER, Role.ADMIN)
def statement(organisation_slug: str) -> str:
    return render_template("treasury/statement.html", statement=_statement(organisation_slug), statements=statements)


@bp.get("/statements/<organisation_slug>.pdf")
@roles_required(Role.TREASURER, Role.ADMIN)
def statement_pdf(organisation_slug: str) -> Response:
    from app.reporting import pdf  # WeasyPrint is heavy: loaded when a PDF is first asked for

    found = _statement(organisation_slug)
    config = current_app.config
    body = pdf.render_pdf(
        "pdf/statement.html",
        statement=found,
        issuer_lines=[line for line in str(config.get("INVOICE_ISSUER_ADDRESS", "")).splitlines() if line.strip()],
        contact_email=parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")[1],
        generated_on=dashboard.london_today(),
    )
    response = Response(body, mimetype="application/pdf")
    filename = f"statement-{found.organisation.slug}-{found.slug}.pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
