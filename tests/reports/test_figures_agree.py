"""One set of figures everywhere: the impact report's headline figures, read back from the PDF's
text, are the treasurer's dashboard overview and the public transparency page, figure by figure.
Each surface is read as a person would see it (the PDF's text, the pages' HTML), not from the
shared code that builds them, so a surface that drifted would be caught.

The last test is issue 6's "done when": in the demo, the sponsor signs in and downloads its report,
and every headline figure in it matches the treasurer's dashboard and the transparency page."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import demo
from app.extensions import db
from app.matching import match_funding
from app.models import Campaign, MatchOffer, Role
from app.money import format_pence
from app.reporting import reports
from app.treasury import dashboard
from tests.factories import PASSWORD, UserFactory
from tests.helpers import PageClient, sign_in
from tests.reports.conftest import Seeded, pdf_text

FIGURES = ("target", "pledged", "collected", "matched", "councils", "individuals", "runway")
MONEY = r"(£[\d,]+\.\d{2})"


def _pdf_figures(document: bytes) -> dict[str, str]:
    """The headline table as the PDF's text has it: "Target £48,000.00 what the role costs ..."."""
    text = pdf_text(document)
    assert "Headline figures" in text, "no headline figures in the report"
    headline = text.split("Headline figures", 1)[1]
    match = re.match(
        rf"\s*Target {MONEY} .*?Pledged {MONEY} .*?Collected {MONEY} .*?Matched {MONEY} "
        r".*?Councils ([\d,]+) .*?Individuals ([\d,]+) .*?Runway (\d+\.\d months|Not set)",
        headline,
    )
    assert match, f"the headline figures are not as expected: {headline[:400]}"
    return dict(zip(FIGURES, match.groups(), strict=True))


def _figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert match, f"no {name} figure on the page"
    return match[1].strip()


def _transparency_figures(html: str) -> dict[str, str]:
    return {name: _figure(html, name) for name in FIGURES}


def _dashboard_figures(html: str) -> dict[str, str]:
    """The treasurer's overview page: its figures, the individuals' row of "By who pledged", and the
    runway covered by money collected."""
    by_kind = html.split('id="by-kind"', 1)[1].split("</table>", 1)[0]
    individuals = re.search(r">Individuals</th>\s*<td[^>]*>([\d,]+)</td>", by_kind)
    assert individuals, "no individuals row in the dashboard's breakdown by who pledged"
    councils = re.match(r"[\d,]+", _figure(html, "councils"))
    assert councils
    return {
        "target": _figure(html, "target"),
        "pledged": _figure(html, "pledged"),
        "collected": _figure(html, "collected"),
        "matched": _figure(html, "matched"),
        "councils": councils[0],
        "individuals": individuals[1],
        "runway": _figure(html, "runway-collected"),
    }


def _overview_figures(campaign: Campaign) -> dict[str, str]:
    """dashboard.overview's own numbers, formatted as the pages format them."""
    view = dashboard.overview(campaign)
    individuals = next(row.count for row in view.by_kind if row.label == "Individuals")
    return {
        "target": format_pence(view.target_pence, campaign.currency),
        "pledged": format_pence(view.pledged_pence, campaign.currency),
        "collected": format_pence(view.collected_pence, campaign.currency),
        "matched": format_pence(view.matched_pence, campaign.currency),
        "councils": f"{view.council_count:,}",
        "individuals": f"{individuals:,}",
        "runway": f"{view.runway_collected} months" if view.runway_collected is not None else "Not set",
    }


def _signed_in(app: Flask, email: str, password: str) -> PageClient:
    client = app.test_client()
    assert sign_in(client, email, password).status_code == 302, f"{email} could not sign in"
    return PageClient(client)


def test_the_reports_figures_are_the_dashboard_overviews_and_the_transparency_pages(
    seeded: Seeded, app: Flask, client: FlaskClient
) -> None:
    campaign = seeded.campaign
    overview = _overview_figures(campaign)
    assert overview["councils"] == "3" and overview["individuals"] == "2" and overview["matched"] != "£0.00"

    period = reports.default_period(campaign)
    for sponsor in (None, seeded.mine):  # the general copy and a sponsor's copy
        assert _pdf_figures(reports.render_report(campaign, period, sponsor)) == overview

    treasurer = UserFactory(role=Role.TREASURER)
    dashboard_page = _signed_in(app, treasurer.email, PASSWORD).get(f"/treasurer/campaigns/{campaign.slug}")
    assert _dashboard_figures(dashboard_page.get_data(as_text=True)) == overview
    transparency = PageClient(client).get(f"/campaigns/{campaign.slug}/transparency")
    assert _transparency_figures(transparency.get_data(as_text=True)) == overview


def test_in_the_demo_the_sponsor_downloads_a_report_whose_every_figure_matches_the_dashboard_and_the_public_page(
    app: Flask, client: FlaskClient
) -> None:
    demo.seed()
    db.session.commit()
    accounts = {role: (email, password) for role, email, password in demo.DEMO_ACCOUNTS}
    campaign = db.session.scalars(select(Campaign).where(Campaign.slug == demo.CAMPAIGN_SLUG)).one()

    # The sponsor signs in and downloads its own report from its portal.
    sponsor = _signed_in(app, *accounts["sponsor"])
    portal = sponsor.get("/sponsor/").get_data(as_text=True)
    link = re.search(rf'href="(/sponsor/reports/{campaign.slug}\.pdf)" download>([^<]+)</a>', portal)
    assert link, "no report to download on the sponsor's portal"
    response = sponsor.get(link[1])
    assert response.mimetype == "application/pdf" and "attachment" in response.headers["Content-Disposition"]
    report = response.get_data()
    from_report = _pdf_figures(report)

    # The treasurer's dashboard and the public transparency page, as each shows them.
    treasurer = _signed_in(app, *accounts["treasurer"])
    from_dashboard = _dashboard_figures(treasurer.get(f"/treasurer/campaigns/{campaign.slug}").get_data(as_text=True))
    from_public = _transparency_figures(
        PageClient(client).get(f"/campaigns/{campaign.slug}/transparency").get_data(as_text=True)
    )

    assert from_report == from_dashboard == from_public
    # The demo's figures are real ones, not zeros that would agree by accident.
    assert from_report["target"] == "£48,000.00" and from_report["councils"] == "7"
    assert from_report["pledged"] != "£0.00" and from_report["collected"] != "£0.00"
    assert int(from_report["individuals"]) >= 140
    assert from_report == _overview_figures(campaign)

    # Its own copy: what its offer matched, and it is named as the reader.
    text = pdf_text(report)
    offer = db.session.scalars(select(MatchOffer).where(MatchOffer.campaign_id == campaign.id)).one()
    assert f"Prepared for {demo.SPONSOR_NAME}" in text
    assert (
        f"{demo.SPONSOR_NAME}'s match funding has added {format_pence(match_funding.matched_pence(offer), 'GBP')}"
        in text
    )
