"""Template filters and globals: money, London time and the GOV.UK Frontend macros."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from app.links import external_url
from app.money import format_pence
from app.pledging.pledges import accepting_pledges

LONDON = ZoneInfo("Europe/London")


def london(value: datetime | None) -> datetime | None:
    return value.astimezone(LONDON) if value is not None else None


def format_datetime(value: datetime | None) -> str:
    """A moment in UK time, like "28 November 2026, 5:30pm"."""
    local = london(value)
    if local is None:
        return ""
    hour = local.strftime("%I").lstrip("0")
    return f"{local.day} {local:%B %Y}, {hour}:{local:%M}{local.strftime('%p').lower()}"


def format_date(value: date | datetime | None) -> str:
    """A date like "28 November 2026" (a datetime is shown as its UK date)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value.day} {value:%B %Y}"


FREQUENCY_SUFFIX = {"monthly": " a month", "annually": " a year"}


def every(frequency: object) -> str:
    """The words that follow an amount to say how often: "£10" + " a month"; "" for one-off.

    Takes a `Frequency`, its value ("monthly") or its label ("Monthly").
    """
    return FREQUENCY_SUFFIX.get(str(getattr(frequency, "value", frequency)).lower(), "")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """A count with its noun: "1 pledge", "1,157 pledges"; plural(n, "person", "people") for irregulars."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


def init_app(app: Flask) -> None:
    assert app.jinja_loader is not None  # noqa: S101 - Flask always sets one
    app.jinja_loader = ChoiceLoader(
        [
            app.jinja_loader,
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    WTFormsHelpers(app)
    app.jinja_env.filters["money"] = format_pence
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["every"] = every
    app.jinja_env.filters["plural"] = plural
    app.jinja_env.globals["demo_mode"] = app.config.get("DEMO_MODE", False)
    # The campaign page offers the pledge form by the same rule the form itself enforces.
    app.jinja_env.globals["accepting_pledges"] = accepting_pledges
    # Absolute links, for what is copied to other sites (the embed snippets).
    app.jinja_env.globals["external_url"] = external_url
    # Wherever offers are shown: the campaign page, the sponsor's and the treasurer's pages.
    from app.matching import match_funding

    app.jinja_env.filters["ratio"] = match_funding.format_ratio
    app.jinja_env.filters["eligibility"] = match_funding.describe_eligibility
    app.jinja_env.filters["percent_bp"] = match_funding.percent
