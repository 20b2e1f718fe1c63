"""A council officer's download of their own council's payments, for its Transparency Code data."""

from __future__ import annotations

from datetime import date

from flask import render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

from app.blueprints import councils as bp
from app.money import financial_year_label, parse_financial_year
from app.opendata import spending
from app.security import council_officers_only


def _year() -> tuple[str, tuple[date, date] | None, str | None]:
    """The financial year asked for (`?year=2026-27`): its text, its dates (None for every
    year) and an error message for a year that is not one."""
    text = request.args.get("year", "").strip()
    if not text:
        return "", None, None
    try:
        return text, parse_financial_year(text), None
    except ValueError as error:
        message = str(error)
        if message.startswith("Enter the funding period"):
            message = "Enter a financial year like 2026-27, or leave it empty for every year"
        return text, None, message


@bp.get("/council/spending")
@council_officers_only()
def spending_page() -> ResponseReturnValue:
    council = current_user.organisation
    text, year, error = _year()
    lines = [] if error else list(spending.spends(council.id, *(year or (None, None))))
    page = render_template(
        "opendata/council_spending.html",
        council=council,
        year_text=text,
        year_label=financial_year_label(year[0]) if year else None,
        error=error,
        lines=lines,
        total_pence=sum(line.amount_pence for line in lines),
    )
    return (page, 400) if error else page


@bp.get("/council/spending.csv")
@council_officers_only()
def spending_csv() -> ResponseReturnValue:
    council = current_user.organisation
    _text, year, error = _year()
    if error:
        return spending_page()
    body = spending.csv_body(council, *(year or (None, None)))
    name = f"{council.slug}-pledgeline-payments{'-' + financial_year_label(year[0]) if year else ''}.csv"
    response = Response(stream_with_context(body), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
