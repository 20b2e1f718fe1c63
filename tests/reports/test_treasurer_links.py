"""A treasurer finds the impact report and the signed-link page from the campaign's own page, and
links are shown only to those the route lets in."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask_login import login_user, logout_user

from app.accounts import auth
from app.models import Role
from app.security import may_use
from tests.factories import ACTORS, PASSWORD, CampaignFactory, UserFactory, make_route_world
from tests.helpers import PageClient, load_access_table, sign_in
from tests.reports.conftest import Seeded, pdf_text


@pytest.mark.parametrize("role", [Role.TREASURER, Role.ADMIN])
def test_the_treasurers_campaign_page_links_to_the_report_and_the_link_page(
    seeded: Seeded, app: Flask, role: Role
) -> None:
    user = UserFactory(role=role)
    client = app.test_client()
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    page = PageClient(client)
    html = page.get("/treasurer/campaigns/pipeline").get_data(as_text=True)

    report = re.search(r'<a class="govuk-link" href="([^"]+)" download data-link="impact-report">([^<]+)</a>', html)
    share = re.search(r'<a class="govuk-link" href="([^"]+)" data-link="impact-report-link">([^<]+)</a>', html)
    assert report and share, "no links to the impact report"
    assert report[2] == "Download the impact report (PDF)"
    assert share[2] == "Share the impact report with a funder by link"
    assert 'href="/campaigns/pipeline/transparency"' in html

    response = page.get(report[1])
    assert response.mimetype == "application/pdf"
    assert "Impact report" in pdf_text(response.get_data())
    assert '<h1 class="govuk-heading-l">Share the impact report</h1>' in page.get(share[1]).get_data(as_text=True)


def test_a_role_without_the_report_route_sees_no_link_to_it(app: Flask) -> None:
    CampaignFactory(slug="pipeline")
    for role in (Role.SPONSOR, Role.PLEDGER):
        with app.test_request_context():
            user = UserFactory(role=role)
            auth.start_session(user, remember=False)
            login_user(user)
            assert not may_use("admin.report") and not may_use("admin.report_link")
            assert not may_use("treasurer.campaign_overview")
            logout_user()
    with app.test_request_context():
        assert not may_use("admin.report") and may_use("public.transparency")
        assert not may_use("no.such_endpoint")


def test_may_use_agrees_with_the_access_table_for_every_route_and_actor(app: Flask) -> None:
    """Whoever the table lets through (a page, or a 404 for a missing thing) may be shown the link;
    whoever it sends to sign in or refuses (403) may not. Links are GETs: a POST's refusal can
    depend on what it names (an officer posting another council's pledge), which no link shows."""
    users, _ = make_route_world()
    disagreements = []
    for key, row in load_access_table()["routes"].items():
        method, endpoint = key.split(" (", 1)[0].split(" ", 1)
        if method != "GET":
            continue
        for actor in ACTORS:
            with app.test_request_context():
                if actor != "anonymous":
                    auth.start_session(users[actor], remember=False)
                    login_user(users[actor])
                expected = row[actor] in ("ok", "404")
                if may_use(endpoint) != expected:
                    disagreements.append(f"{key}: {actor} is {row[actor]!r} but may_use says {not expected}")
                logout_user()  # the test's app context (and its `g`) outlives each request context
    assert not disagreements, "\n".join(disagreements)
