"""Impact reports: a campaign's figures, charts and impact for a period, as a PDF.

Everything in a report is aggregated first — the dashboard's GROUP BY figures, the charts' daily
totals, impact and outgoings by category — so its size and the time WeasyPrint takes do not grow
with the number of pledges: there are no per-pledge rows in it.

A rendered report is kept under `instance/reports/`, named by a hash of (campaign, period,
sponsor, data version, day, template version). A second download reads the file; any change to
the figures, offers, impact, outgoings or updates changes the data version, so the next download
renders a fresh one. Nothing is kept in process memory, so any web instance (or the CLI) sharing
the instance folder can serve the same file.

A sponsor's copy adds its own offers and what they matched; it never names another sponsor's
figures. A general copy (for a funder, by signed link, or from the CLI) has no sponsor section.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app, render_template

from app import links
from app.campaigns import listing
from app.ledger import totals
from app.matching import match_funding
from app.models import Campaign, MatchOffer, MatchStatus, Organisation
from app.pledging import schedule
from app.reporting import charts, impact, pdf
from app.treasury import dashboard

# Bump when the report's template or content changes, so cached copies are not served.
TEMPLATE_VERSION = "2"  # 2: tagged PDF
REPORT_FONT = "Pledgeline Sans"
LINK_DAYS_DEFAULT = 30
LINK_DAYS_MAX = 90
_PERIOD = re.compile(r"^\s*(\d{4})\s*[-/]\s*(\d{2})\s*$")


class ReportError(ValueError):
    """A report that cannot be made as asked (an unknown period, say)."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    label: str  # "2027/28"

    @property
    def slug(self) -> str:
        return self.label.replace("/", "-")


def parse_period(text: str) -> Period:
    """A financial year written "2027-28" or "2027/28": 1 April 2027 to 31 March 2028."""
    match = _PERIOD.match(text or "")
    if not match:
        raise ReportError("Give the period as a financial year, like 2027-28")
    first = int(match[1])
    if int(match[2]) != (first + 1) % 100 or not 2000 <= first <= 2100:
        raise ReportError(f"{text.strip()} is not a financial year: try {first}-{(first + 1) % 100:02d}")
    return Period(date(first, 4, 1), date(first + 1, 3, 31), f"{first}/{(first + 1) % 100:02d}")


def default_period(campaign: Campaign) -> Period:
    """The campaign's funding period (usually one financial year)."""
    start, end = campaign.funding_starts_on, campaign.funding_ends_on
    if schedule.financial_year_of(start) == schedule.financial_year_of(end):
        return Period(start, end, schedule.financial_year_label(start))
    return Period(start, end, f"{schedule.financial_year_label(start)}–{schedule.financial_year_label(end)}")


def period_for(campaign: Campaign, text: str | None) -> Period:
    return parse_period(text) if text else default_period(campaign)


# --- What a report shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    target_pence: int
    pledged_pence: int
    collected_pence: int
    matched_pence: int
    councils: int
    individuals: int  # live pledges made by individuals
    runway: dashboard.Runway | None  # months of the role's cost covered by money collected


def headline(view: dashboard.Overview) -> Headline:
    individuals = next((row.count for row in view.by_kind if row.key == "individual"), 0)
    return Headline(
        target_pence=view.target_pence,
        pledged_pence=view.pledged_pence,
        collected_pence=view.collected_pence,
        matched_pence=view.matched_pence,
        councils=view.council_count,
        individuals=individuals,
        runway=view.runway_collected,
    )


@dataclass(frozen=True)
class SponsorShare:
    """A sponsor's own offers on the campaign, and what they unlocked."""

    sponsor: Organisation
    offers: list[tuple[MatchOffer, int]]
    matched_pence: int  # what its active offers have matched
    unlocked_pence: int  # the eligible pledges its offers matched against
    share_of_raised_bp: int  # its match as a share of pledged + matched, in basis points


def sponsor_share(campaign: Campaign, sponsor: Organisation) -> SponsorShare:
    offers = [(o, m) for o, m in match_funding.offers_for_sponsor(sponsor) if o.campaign_id == campaign.id]
    active = [o for o, _ in offers if o.status == MatchStatus.ACTIVE]
    matched = sum(m for o, m in offers if o.status == MatchStatus.ACTIVE)
    eligible = max(
        (
            totals.eligible_pence(o.eligibility, campaign.pledged_council_pence, campaign.pledged_individual_pence)
            for o in active
        ),
        default=0,
    )
    raised = campaign.pledged_pence + campaign.matched_pence
    return SponsorShare(sponsor, offers, matched, eligible, matched * 10_000 // raised if raised else 0)


def spending_chart(campaign: Campaign, spending: list[impact.CategoryTotal]) -> charts.BarChart | None:
    if not spending:
        return None
    total = sum(c.pence for c in spending)
    return charts.bar_chart(
        "chart-spending",
        title="Spent by category",
        description=f"{campaign.money(total)} spent: "
        + "; ".join(f"{c.label} {campaign.money(c.pence)}" for c in spending)
        + ".",
        categories=[c.label.split(" (")[0] for c in spending],
        series=[charts.Series("Spent", "collected", [c.pence for c in spending])],
        currency=campaign.currency,
    )


def report_context(campaign: Campaign, period: Period, sponsor: Organisation | None = None) -> dict[str, Any]:
    """Everything the report template shows: a fixed number of aggregate queries."""
    today = dashboard.london_today()
    view = dashboard.overview(campaign, today)
    spending = impact.outgoings_by_category(campaign, period.start, period.end)
    return {
        "campaign": campaign,
        "period": period,
        "today": today,
        "figures": headline(view),
        "charts": dashboard.build_charts(campaign, view, today=today),
        "councils": listing.wall_of_councils(campaign),
        "metrics": impact.metric_totals(campaign, period.start, period.end),
        "stories": impact.stories(campaign, period.start, period.end, limit=6),
        "spending": spending,
        "spending_total": sum(c.pence for c in spending),
        "spending_chart": spending_chart(campaign, spending),
        "share": sponsor_share(campaign, sponsor) if sponsor is not None else None,
        "font": REPORT_FONT,
    }


# --- Rendering and the cache --------------------------------------------------------------------


def cache_key(campaign: Campaign, period: Period, sponsor: Organisation | None) -> str:
    parts = [
        str(campaign.id),
        period.label,
        str(sponsor.id if sponsor is not None else 0),
        impact.data_version(campaign),
        dashboard.london_today().isoformat(),  # "as at" and the charts' right-hand end
        TEMPLATE_VERSION,
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def _cache_path(campaign: Campaign, period: Period, sponsor: Organisation | None, key: str) -> Path:
    """instance/reports/<campaign id>/<period>-<sponsor id or 0>-<key>.pdf: one live file per copy."""
    root = Path(current_app.config.get("REPORT_CACHE_DIR") or Path(current_app.instance_path) / "reports")
    return root / str(campaign.id) / f"{_copy_prefix(period, sponsor)}{key}.pdf"


def _copy_prefix(period: Period, sponsor: Organisation | None) -> str:
    return f"{period.slug}-{sponsor.id if sponsor is not None else 0}-"


def html_to_tagged_pdf(html: str, *, fetcher: pdf.StaticOnlyFetcher | None = None) -> bytes:
    """`pdf.html_to_pdf`, with the same static-only fetcher, but writing a tagged PDF (headings,
    paragraphs, tables and reading order marked up for screen readers)."""
    from weasyprint import HTML  # loaded when a PDF is made, not with the web worker

    fetcher = fetcher or pdf.StaticOnlyFetcher(current_app.static_folder or "app/static")
    document = HTML(string=html, base_url=pdf.STATIC_BASE_URL, url_fetcher=fetcher).write_pdf(pdf_tags=True)
    assert document is not None  # noqa: S101 - write_pdf returns bytes when given no target
    return document


def render_report(campaign: Campaign, period: Period, sponsor: Organisation | None = None) -> bytes:
    """The report's PDF (no cache)."""
    return html_to_tagged_pdf(render_template("pdf/impact.html", **report_context(campaign, period, sponsor)))


def report_pdf(
    campaign: Campaign,
    period: Period,
    sponsor: Organisation | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> tuple[bytes, bool]:
    """The report, from the cache if this exact data has been rendered before: (pdf, was_cached)."""
    say = progress or (lambda step: None)
    say("Checking for a copy of this report")
    path = _cache_path(campaign, period, sponsor, cache_key(campaign, period, sponsor))
    try:
        return path.read_bytes(), True
    except FileNotFoundError:
        pass
    say("Adding up the figures")
    context = report_context(campaign, period, sponsor)
    say("Laying out the PDF")
    document = html_to_tagged_pdf(render_template("pdf/impact.html", **context))
    say("Saving a copy for next time")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside its final name and renamed: a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(handle, "wb") as file:
        file.write(document)
    os.replace(temporary, path)
    # Older copies of the same report (data since changed) are never served again.
    for stale in path.parent.glob(f"{_copy_prefix(period, sponsor)}*.pdf"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return document, False


def filename(campaign: Campaign, period: Period, sponsor: Organisation | None = None) -> str:
    who = f"-{sponsor.slug}" if sponsor is not None else ""
    return f"{campaign.slug}-impact-{period.slug}{who}.pdf"


# --- Signed links for funders without an account ------------------------------------------------


def link_token(campaign: Campaign, period: Period, days: int) -> str:
    """A token for the general (no sponsor) report, good for `days` days."""
    if not 1 <= days <= LINK_DAYS_MAX:
        raise ReportError(f"A link can last from 1 to {LINK_DAYS_MAX} days")
    return links.make(links.IMPACT_REPORT, {"c": campaign.id, "p": period.slug, "d": days})


def from_link_token(token: str, now: float | None = None) -> tuple[int, Period] | None:
    """(campaign id, period) for a valid, unexpired token; None for anything altered or expired."""
    found = links.read_with_age(links.IMPACT_REPORT, token, now)
    if found is None or not isinstance(found[0], dict):
        return None
    payload, age = found
    campaign_id, period_text, days = links.as_id(payload.get("c")), payload.get("p"), payload.get("d")
    if campaign_id is None or not isinstance(period_text, str) or not isinstance(days, int) or age > days * 86400:
        return None
    try:
        return campaign_id, parse_period(period_text)
    except ReportError:
        return None
