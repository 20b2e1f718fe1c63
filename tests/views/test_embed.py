"""Showing a campaign on other sites: the framable card, the SVG badge, and an API any site can read."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Campaign, CampaignStatus
from tests.factories import PASSWORD, CampaignFactory, UserFactory, make_pledge
from tests.helpers import sign_in

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def campaign() -> Campaign:
    found = CampaignFactory(title="Shared lead <for> R&D", slug="shared-lead", target_pence=40_000_00, min_councils=3)
    make_pledge(found, pounds="10000")
    db.session.commit()
    return found  # type: ignore[no-any-return]


def _frame_ancestors(response) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r"frame-ancestors ([^;]+)", response.headers["Content-Security-Policy"])
    assert match, response.headers["Content-Security-Policy"]
    return match[1].strip()


def test_the_card_may_be_framed_by_any_site_and_shows_the_campaigns_figures(
    client: FlaskClient, campaign: Campaign
) -> None:
    response = client.get("/embed/campaigns/shared-lead")
    assert response.status_code == 200
    assert _frame_ancestors(response) == "*"
    assert "X-Frame-Options" not in response.headers
    html = response.get_data(as_text=True)
    # The same figures as the page: £10,000 of £40,000, 25%, councils against the minimum.
    assert "£10,000" in html and "£40,000 target" in html and "25% of the target" in html
    assert "0 of 3" in html
    assert "Shared lead &lt;for&gt; R&amp;D" in html
    # Nothing in a frame that could be pressed on someone's behalf, and no script at all.
    assert "<form" not in html and "<script" not in html
    # Links leave the frame, and say so to screen-reader users.
    pledge = re.search(r'<a [^>]*href="/campaigns/shared-lead/pledge"[^>]*>', html)
    assert pledge and 'target="_blank"' in pledge[0] and 'rel="noopener"' in pledge[0]
    assert html.count("(opens in a new tab)") == 2


def test_the_card_and_badge_answer_not_modified_until_the_figures_move(client: FlaskClient, campaign: Campaign) -> None:
    for url in ("/embed/campaigns/shared-lead", "/campaigns/shared-lead/badge.svg"):
        first = client.get(url)
        assert first.headers["Cache-Control"] == "public, max-age=60"
        etag = first.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    make_pledge(campaign, pounds="50")
    for url in ("/embed/campaigns/shared-lead", "/campaigns/shared-lead/badge.svg"):
        changed = client.get(url, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and "£10,050" in changed.get_data(as_text=True)


def test_the_badge_is_an_svg_image_that_says_the_progress(client: FlaskClient, campaign: Campaign) -> None:
    response = client.get("/campaigns/shared-lead/badge.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ElementTree.fromstring(response.get_data())  # noqa: S314 - our own output; well-formed, title escaped
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["Pledged", "£10,000 of £40,000 (25%)"]
    assert root.findtext(f"{SVG}title") == "Shared lead <for> R&D: pledged £10,000 of £40,000 (25%)"
    assert root.get("role") == "img"
    # The bar under the figure is a quarter of the figure's width.
    value, bar = list(root.iter(f"{SVG}rect"))[1:]
    assert int(bar.get("width")) == int(value.get("width")) * 25 // 100


@pytest.mark.parametrize("url", ["/embed/campaigns/{slug}", "/campaigns/{slug}/badge.svg"])
def test_unknown_and_draft_campaigns_have_no_card_or_badge(client: FlaskClient, url: str) -> None:
    CampaignFactory(slug="not-yet", status=CampaignStatus.DRAFT)
    for slug in ("no-such-campaign", "not-yet"):
        response = client.get(url.format(slug=slug))
        assert response.status_code == 404
        assert response.headers.get("X-Frame-Options") == "DENY"


def test_every_other_page_still_refuses_to_be_framed(client: FlaskClient, campaign: Campaign) -> None:
    urls = [
        "/campaigns/shared-lead",
        "/campaigns/shared-lead",  # the second answer comes from the cache, outside Flask
        "/campaigns/shared-lead/transparency",
        "/campaigns/shared-lead/badge.svg",
        "/campaigns/shared-lead/ledger.csv",
        "/campaigns",
        "/account/sign-in",
        "/api/v1/campaigns/shared-lead",
        "/my-pledges",
    ]
    for url in urls:
        response = client.get(url)
        response.get_data()
        assert response.status_code == 200, url
        assert response.headers.get("X-Frame-Options") == "DENY", url
        assert _frame_ancestors(response) == "'none'", url


def test_a_signed_in_visitor_gets_a_framable_card_too(client: FlaskClient, campaign: Campaign) -> None:
    user = UserFactory(email="officer@example.org")
    db.session.commit()
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    response = client.get("/embed/campaigns/shared-lead")
    assert response.status_code == 200 and _frame_ancestors(response) == "*"
    assert "X-Frame-Options" not in response.headers
    assert client.get("/account/").headers.get("X-Frame-Options") == "DENY"


def test_the_api_can_be_read_from_any_site_and_revalidated(client: FlaskClient, campaign: Campaign) -> None:
    for url in ("/api/v1/campaigns", "/api/v1/campaigns/shared-lead"):
        first = client.get(url, headers={"Origin": "https://www.anyshire.gov.uk"})
        assert first.status_code == 200
        assert first.headers["Access-Control-Allow-Origin"] == "*"
        assert "ETag" in first.headers["Access-Control-Expose-Headers"]
        assert first.headers["Cache-Control"] == "public, max-age=10"
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.headers["Access-Control-Allow-Origin"] == "*"
    # The list's ETag moves when a campaign's figures do.
    before = client.get("/api/v1/campaigns").headers["ETag"]
    make_pledge(campaign, pounds="5")
    assert client.get("/api/v1/campaigns", headers={"If-None-Match": before}).status_code == 200
    # An error from the API is readable too, so a script can tell "not found" from "blocked".
    missing = client.get("/api/v1/campaigns/no-such-campaign")
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"


def test_the_campaign_page_offers_copy_paste_snippets_with_full_addresses(
    client: FlaskClient, campaign: Campaign
) -> None:
    html = client.get("/campaigns/shared-lead").get_data(as_text=True)
    assert "Show this campaign on your website" in html
    assert re.search(r"&lt;iframe src=&#34;https?://[^&]+/embed/campaigns/shared-lead&#34;", html) or re.search(
        r'&lt;iframe src="https?://[^"]+/embed/campaigns/shared-lead"', html
    )
    assert re.search(r"/campaigns/shared-lead/badge\.svg", html)
    assert '<label class="govuk-label govuk-label--s" for="embed-card-code">' in html
