"""The campaign page and API are served from a cache, and never show anything stale.

Each test first fetches the page and the API (so a copy is cached), then changes something the
way the service does, and checks the very next request shows it. The first test proves the
copies really are reused, so the others would fail if the cache kept an old one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask, request, request_started, template_rendered
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app import create_app, database
from app.campaigns import lifecycle, listing
from app.campaigns import page_cache as cache
from app.extensions import db
from app.matching import match_funding
from app.models import Campaign, CampaignStatus, ImpactMetric, Payment, PledgerKind, PledgeStatus, Role, utcnow
from app.money import Money
from app.payments import settle
from app.reporting import impact
from tests.factories import (
    PASSWORD,
    CampaignFactory,
    ImpactStoryFactory,
    OrganisationFactory,
    SponsorFactory,
    UserFactory,
    make_offer,
    make_pledge,
)
from tests.helpers import check_html, csrf_token, sign_in


@contextmanager
def renders(app: Flask) -> Iterator[list[str]]:
    """The names of the templates rendered inside the block."""
    names: list[str] = []

    def record(sender: Flask, template: Any, context: dict[str, Any], **extra: Any) -> None:
        names.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, f"no {name} figure on the page"
    return match[1].strip()


def nonce_in_header(response: Any) -> str:
    match = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
    assert match
    return match[1]


def nonces_in_page(html: str) -> set[str]:
    return set(re.findall(r'nonce="([^"]+)"', html))


class Visitor:
    """An anonymous visitor reading one campaign's page and its API."""

    def __init__(self, client: FlaskClient, campaign: Campaign) -> None:
        self.client = client
        self.slug = campaign.slug

    def page(self) -> str:
        response = self.client.get(f"/campaigns/{self.slug}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        check_html(html)
        return html

    def api(self) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/campaigns/{self.slug}")
        assert response.status_code == 200
        data: dict[str, Any] = response.get_json()
        return data

    def both(self) -> tuple[str, dict[str, Any]]:
        """Fetch both (caching them); a test then changes something and fetches again."""
        return self.page(), self.api()


@pytest.fixture
def campaign() -> Campaign:
    return CampaignFactory(target_pence=10_000_00, min_councils=2)


@pytest.fixture
def visitor(client: FlaskClient, campaign: Campaign) -> Visitor:
    return Visitor(client, campaign)


def test_a_second_visit_reuses_the_rendered_page_and_json(app: Flask, visitor: Visitor, campaign: Campaign) -> None:
    make_pledge(campaign, pounds="30")
    with renders(app) as first:
        visitor.both()
    with renders(app) as second:
        html, data = visitor.both()
    assert "campaigns/campaign.html" in first
    assert second == [], "the second visit rendered the page again"
    assert figure(html, "pledged") == "£30.00" and data["pledged_pence"] == 3000


def test_the_api_answers_a_repeat_request_with_not_modified_until_something_changes(
    client: FlaskClient, campaign: Campaign
) -> None:
    url = f"/api/v1/campaigns/{campaign.slug}"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=10"
    assert first.headers["Access-Control-Allow-Origin"] == "*"

    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""

    make_pledge(campaign, pounds="12")
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["pledged_pence"] == 1200


def test_a_new_pledge_shows_at_once(visitor: Visitor, campaign: Campaign) -> None:
    make_pledge(campaign, pounds="25", name="First Pledger")
    visitor.both()

    make_pledge(campaign, pounds="40", name="Second Pledger", message="Count me in")

    html, data = visitor.both()
    assert figure(html, "pledged") == "£65.00" and figure(html, "pledges") == "2"
    assert "Second Pledger" in html and "Count me in" in html
    assert data["pledged_pence"] == 6500 and data["pledge_count"] == 2


def test_a_council_joining_shows_on_the_wall_and_in_the_count_at_once(visitor: Visitor, campaign: Campaign) -> None:
    visitor.both()

    make_pledge(campaign, pounds="2,000", kind=PledgerKind.COUNCIL, organisation=OrganisationFactory(name="Leeds"))

    html, data = visitor.both()
    assert "Leeds" in html and "Needs 2 councils — 1 so far (1 more needed)" in html
    assert data["council_count"] == 1


def test_a_payment_shows_at_once(visitor: Visitor, campaign: Campaign) -> None:
    pledge = make_pledge(campaign, pounds="50")
    html, data = visitor.both()
    assert figure(html, "collected") == "£0.00" and data["collected_pence"] == 0

    settle.mark_succeeded(settle.open_card_payment(pledge.instalments[0]))
    db.session.commit()

    html, data = visitor.both()
    assert figure(html, "collected") == "£50.00" and data["collected_pence"] == 5000


def test_a_refund_shows_at_once(visitor: Visitor, campaign: Campaign) -> None:
    pledge = make_pledge(campaign, pounds="50", paid_instalments=1, status=PledgeStatus.FULFILLED)
    html, data = visitor.both()
    assert figure(html, "collected") == "£50.00" and data["collected_pence"] == 5000

    payment = db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id)).one()
    settle.record_refund(payment, Money.parse("20"))
    db.session.commit()

    html, data = visitor.both()
    assert figure(html, "collected") == "£30.00" and data["collected_pence"] == 3000


def test_closing_a_failed_campaign_releases_its_pledges_and_shows_at_once(visitor: Visitor, campaign: Campaign) -> None:
    make_pledge(campaign, pounds="100", conditional=True)
    make_pledge(campaign, pounds="60")
    offer = make_offer(campaign, ratio="1", cap="500", conditional=True)
    # Past the deadline but not yet closed: the page says pledging is over, totals still count.
    campaign.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    html, data = visitor.both()
    assert figure(html, "pledged") == "£160.00" and data["status"] == "live"
    assert figure(html, "matched") == "£160.00"

    lifecycle.close_due()

    db.session.refresh(offer)
    assert offer.status.value == "released"
    html, data = visitor.both()
    assert data["status"] == "failed" and data["pledged_pence"] == 6000 and data["matched_pence"] == 0
    assert figure(html, "pledged") == "£60.00" and figure(html, "matched") == "£0.00"
    assert "Did not succeed" in html and "Released: the campaign did not succeed" in html


def test_a_match_offer_made_and_withdrawn_shows_at_once(visitor: Visitor, campaign: Campaign) -> None:
    make_pledge(campaign, pounds="100")
    html, data = visitor.both()
    assert "No sponsor has offered match funding" in html and data["matched_pence"] == 0

    sponsor = SponsorFactory(name="Helpful Sponsor Ltd")
    offer = make_offer(campaign, sponsor, ratio="0.5", cap="1000", eligibility="individuals")

    html, data = visitor.both()
    assert "Helpful Sponsor Ltd" in html and figure(html, "matched") == "£50.00"
    assert data["matched_pence"] == 5000

    # An offer that has matched something cannot be withdrawn; one for councils only has not.
    other = make_offer(campaign, SponsorFactory(name="Council Friends"), ratio="1", cap="100", eligibility="councils")
    html, _ = visitor.both()
    assert "Council Friends" in html and "Paid only if the campaign succeeds" in html
    match_funding.withdraw_offer(other, UserFactory(role=Role.ADMIN), "Changed our plans")
    db.session.commit()

    html, data = visitor.both()
    assert "Withdrawn before it matched anything" in html
    assert offer.status.value == "active" and data["matched_pence"] == 5000


def test_a_new_story_update_or_impact_figure_shows_at_once(visitor: Visitor, campaign: Campaign) -> None:
    html = visitor.page()
    assert "What the role has achieved" not in html

    ImpactStoryFactory(campaign=campaign, title="Six councils shared their forms")
    html = visitor.page()
    assert "Six councils shared their forms" in html

    impact.record_entry(campaign, date(2027, 6, 30), ImpactMetric.EVENTS_RUN, 4, None)
    db.session.commit()
    html = visitor.page()
    assert figure(html, f"impact-{ImpactMetric.EVENTS_RUN.value}") == "4"

    impact.publish_update(campaign, "We are halfway", "Thank you, everyone.", None)
    db.session.commit()
    html = visitor.page()
    assert "We are halfway" in html


def test_an_edit_to_the_campaign_itself_shows_at_once(visitor: Visitor, campaign: Campaign) -> None:
    visitor.both()

    campaign.title = "A better title"
    campaign.closes_at = campaign.closes_at + timedelta(days=30)
    db.session.commit()

    html, data = visitor.both()
    assert "A better title" in html and data["title"] == "A better title"
    assert data["closes_at"] == campaign.closes_at.isoformat()


def test_the_days_left_and_the_pledge_button_follow_the_clock(client: FlaskClient) -> None:
    campaign = CampaignFactory(closes_at=utcnow() + timedelta(seconds=1.5))
    visitor = Visitor(client, campaign)
    html = visitor.page()
    assert figure(html, "days-left") == "1" and "Make a pledge" in html

    time.sleep(1.6)

    # The deadline passed; nobody has closed the campaign yet.
    html = visitor.page()
    assert figure(html, "days-left") == "0" and "Make a pledge" not in html


def test_the_nonce_in_the_page_is_the_one_in_its_own_header_and_new_each_time(visitor: Visitor) -> None:
    seen = set()
    for _ in range(3):
        response = visitor.client.get(f"/campaigns/{visitor.slug}")
        header = nonce_in_header(response)
        assert nonces_in_page(response.get_data(as_text=True)) == {header}
        seen.add(header)
    assert len(seen) == 3, "a nonce was used twice"


def test_signed_in_users_get_their_own_header_and_never_share_it(
    app: Flask, client: FlaskClient, campaign: Campaign
) -> None:
    treasurer = UserFactory(email="treasurer@example.org", role=Role.TREASURER)
    anonymous = app.test_client()
    assert "Sign in" in Visitor(anonymous, campaign).page()

    sign_in(client, treasurer.email, PASSWORD)
    mine = client.get(f"/campaigns/{campaign.slug}")
    html = mine.get_data(as_text=True)
    assert "Treasurer" in html and "Your account" in html
    assert mine.headers["Cache-Control"] == "no-store"
    assert nonces_in_page(html) == {nonce_in_header(mine)}

    # The next anonymous visitor still gets the anonymous page, from the cache.
    with renders(app) as rendered:
        html = Visitor(anonymous, campaign).page()
    assert rendered == []
    assert "Your account" not in html and "Sign in" in html


def test_a_remembered_device_is_signed_in_without_its_session_cookie(
    app: Flask, client: FlaskClient, campaign: Campaign
) -> None:
    Visitor(app.test_client(), campaign).page()  # the anonymous page is cached
    user = UserFactory(email="kept@example.org")
    token = csrf_token(client, "/account/sign-in")
    client.post(
        "/account/sign-in", data={"email": user.email, "password": PASSWORD, "remember": "y", "csrf_token": token}
    )
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("pledgeline_session")
    assert client.get_cookie("pledgeline_session") is None

    response = client.get(f"/campaigns/{campaign.slug}")
    assert "Your account" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_a_flashed_message_is_shown_to_its_visitor_only(app: Flask, client: FlaskClient, campaign: Campaign) -> None:
    visitor = Visitor(client, campaign)
    visitor.page()
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Your pledge was cancelled")]

    assert "Your pledge was cancelled" in visitor.page()
    assert "Your pledge was cancelled" not in visitor.page()
    assert "Your pledge was cancelled" not in Visitor(app.test_client(), campaign).page()


def test_a_campaign_taken_out_of_public_view_stops_being_served(visitor: Visitor, campaign: Campaign) -> None:
    visitor.both()
    campaign.status = CampaignStatus.DRAFT
    db.session.commit()
    assert visitor.client.get(f"/campaigns/{visitor.slug}").status_code == 404
    assert visitor.client.get(f"/api/v1/campaigns/{visitor.slug}").status_code == 404


@contextmanager
def flask_requests(app: Flask) -> Iterator[list[str]]:
    """The paths of the requests Flask itself handled inside the block."""
    paths: list[str] = []

    def record(sender: Flask, **extra: Any) -> None:
        paths.append(request.path)

    request_started.connect(record, app)
    try:
        yield paths
    finally:
        request_started.disconnect(record, app)


def without_nonce(text: str) -> str:
    return re.sub(r"nonce(=\"|-)[A-Za-z0-9_-]+", "nonce", text)


def test_a_cookieless_repeat_visit_is_answered_before_flask_exactly_as_flask_would(
    app: Flask, client: FlaskClient, campaign: Campaign
) -> None:
    make_pledge(campaign, pounds="30")
    page_url, api_url = f"/campaigns/{campaign.slug}", f"/api/v1/campaigns/{campaign.slug}"
    client.get(page_url), client.get(api_url)  # rendered and cached by Flask
    # A visitor whose session cookie (from the sign-in form) sends every request through Flask.
    with_session = app.test_client()
    with_session.get("/account/sign-in")
    assert with_session.get_cookie("pledgeline_session") is not None

    with flask_requests(app) as handled:
        fast_page, fast_api, fast_head = client.get(page_url), client.get(api_url), client.head(page_url)
        not_modified = client.get(api_url, headers={"If-None-Match": fast_api.headers["ETag"]})
    assert handled == [], "a cached copy for a cookie-less visitor went through Flask"
    with flask_requests(app) as handled:
        slow_page, slow_api = with_session.get(page_url), with_session.get(api_url)
    assert handled == [page_url, api_url]

    for fast, slow in ((fast_page, slow_page), (fast_api, slow_api), (fast_head, slow_page)):
        assert fast.status_code == slow.status_code == 200
        fast_headers = {k: without_nonce(v) for k, v in fast.headers.items() if k != "Vary"}
        slow_headers = {k: without_nonce(v) for k, v in slow.headers.items() if k != "Vary"}
        assert fast_headers == slow_headers
    assert without_nonce(fast_page.get_data(as_text=True)) == without_nonce(slow_page.get_data(as_text=True))
    assert nonces_in_page(fast_page.get_data(as_text=True)) == {nonce_in_header(fast_page)}
    assert fast_api.get_data() == slow_api.get_data()
    assert fast_head.get_data() == b""
    assert not_modified.status_code == 304
    assert fast_page.headers["Vary"] == "Cookie"


def test_a_campaign_not_cached_or_not_found_goes_to_flask(app: Flask, client: FlaskClient) -> None:
    campaign = CampaignFactory()
    with flask_requests(app) as handled:
        assert client.get("/campaigns/no-such-campaign").status_code == 404
        assert client.get("/api/v1/campaigns/no-such-campaign").get_json()["error"] == "Page not found"
        assert client.get(f"/campaigns/{campaign.slug}").status_code == 200
    assert handled == [
        "/campaigns/no-such-campaign",
        "/api/v1/campaigns/no-such-campaign",
        f"/campaigns/{campaign.slug}",
    ]


def test_the_version_check_survives_its_connection_going_away(
    visitor: Visitor, campaign: Campaign, is_postgres: bool
) -> None:
    """The stamp is read on a connection kept outside the pool and never pinged; a server
    restart (PostgreSQL) or a closed connection costs one retry, not an error page."""
    visitor.both()
    if is_postgres:
        db.session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        db.session.commit()
    else:
        reader = database._READERS[id(db.engine)]
        for connection in list(reader._open):
            connection.close()
    make_pledge(campaign, pounds="8")

    stamp = listing.stamp(campaign.slug)
    assert stamp is not None and stamp.totals_version == fresh_version(campaign)
    html, data = visitor.both()
    assert figure(html, "pledged") == "£8.00" and data["pledged_pence"] == 800


def fresh_version(campaign: Campaign) -> int:
    db.session.refresh(campaign)
    return campaign.totals_version


def test_the_cached_copies_are_shared_through_redis_when_it_is_set(
    app: Flask, database_url: str, campaign: Campaign
) -> None:
    """Two app instances with one Redis: the second serves what the first rendered, and a change
    still shows at once on both."""
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    make_pledge(campaign, pounds="15")
    with other_instances(database_url, 2, REDIS_URL=url) as (first, second):
        # Built here, in the test app's context: the campaign object belongs to its session.
        one, two = Visitor(first.test_client(), campaign), Visitor(second.test_client(), campaign)
        with first.app_context():
            one.both()
        with second.app_context(), renders(second) as rendered:
            html, data = two.both()
        assert rendered == [] and figure(html, "pledged") == "£15.00" and data["pledged_pence"] == 1500

        make_pledge(campaign, pounds="5")
        with second.app_context():
            html, data = two.both()
        assert figure(html, "pledged") == "£20.00" and data["pledged_pence"] == 2000


def test_redis_being_down_only_means_rendering_again(
    database_url: str, campaign: Campaign, caplog: pytest.LogCaptureFixture
) -> None:
    with other_instances(database_url, 1, REDIS_URL="redis://127.0.0.1:1/0") as (down,):
        visitor = Visitor(down.test_client(), campaign)
        with down.app_context():
            html, data = visitor.both()
            assert figure(html, "target") == "£10,000.00" and data["target_pence"] == 10_000_00
            assert len(cache.store().memory) == 2
    # Two reads and two stores missed Redis; after the first failure it was left alone.
    assert len([r for r in caplog.records if "Redis failed" in r.getMessage()]) == 1


@contextmanager
def other_instances(database_url: str, count: int, **config: Any) -> Iterator[tuple[Flask, ...]]:
    """More app instances on the test database, as several gunicorn instances would be."""
    apps = tuple(create_app({"SQLALCHEMY_DATABASE_URI": database_url, **config}) for _ in range(count))
    try:
        yield apps
    finally:
        for instance in apps:
            with instance.app_context():
                db.session.remove()
                db.engine.dispose()
