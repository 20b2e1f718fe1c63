"""The open data API: other programs rely on its shape (DESIGN.md, "Interfaces")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select, text

from app.extensions import db
from app.models import CampaignStatus, Frequency, Payment, PledgerKind, PledgeStatus
from app.money import Money
from app.payments import settle
from tests.factories import CampaignFactory, OrganisationFactory, make_pledge

INTERFACE_KEYS = {
    "slug",
    "title",
    "status",
    "currency",
    "target_pence",
    "pledged_pence",
    "collected_pence",
    "matched_pence",
    "pledge_count",
    "council_count",
    "min_councils",
    "closes_at",
}
COUNTED = sorted(INTERFACE_KEYS - {"slug", "title", "status", "currency", "closes_at"})


def _stored(slug: str) -> dict[str, Any]:
    """The campaign's row as the database holds it, read with plain SQL."""
    row = (
        db.session.execute(
            text(
                "SELECT slug, title, status, currency, target_pence, pledged_pence, collected_pence, matched_pence,"
                " pledge_count, council_count, min_councils, closes_at FROM campaign WHERE slug = :slug"
            ),
            {"slug": slug},
        )
        .mappings()
        .one()
    )
    stored = dict(row)
    closes_at = stored["closes_at"]
    if isinstance(closes_at, str):  # SQLite hands back text
        closes_at = datetime.fromisoformat(closes_at)
    stored["closes_at"] = closes_at.replace(tzinfo=UTC)  # stored as naive UTC
    return stored


def _assert_matches_database(item: dict[str, Any]) -> None:
    assert set(item) >= INTERFACE_KEYS, f"missing keys: {sorted(INTERFACE_KEYS - set(item))}"
    stored = _stored(item["slug"])
    for key in COUNTED:
        assert type(item[key]) is int, f"{key} should be a whole number of pence or a count"
        assert item[key] == stored[key], f"{item['slug']} {key}: API {item[key]}, database {stored[key]}"
    for key in ("title", "status", "currency"):
        assert item[key] == stored[key]
    closes_at = datetime.fromisoformat(item["closes_at"])
    assert closes_at.tzinfo is not None, "closes_at must say its time zone"
    assert closes_at == stored["closes_at"]


def _busy_campaign() -> str:
    """A campaign with every kind of pledge and payment; its totals are worked out by hand below."""
    campaign = CampaignFactory(slug="busy", title="Busy campaign", min_councils=4)
    leeds = OrganisationFactory(name="Leeds City Council")
    bristol = OrganisationFactory(name="Bristol City Council")
    make_pledge(campaign, pounds="2,000", kind=PledgerKind.COUNCIL, organisation=leeds, conditional=True)
    make_pledge(campaign, pounds="500", kind=PledgerKind.COUNCIL, organisation=leeds)
    make_pledge(campaign, pounds="1,000", kind=PledgerKind.COUNCIL, organisation=bristol, frequency=Frequency.ANNUALLY)
    one_off = make_pledge(campaign, pounds="50", paid_instalments=1, status=PledgeStatus.FULFILLED)
    make_pledge(campaign, pounds="10", frequency=Frequency.MONTHLY, instalments=12, paid_instalments=2,
                status=PledgeStatus.ACTIVE)  # fmt: skip
    make_pledge(campaign, pounds="20", frequency=Frequency.MONTHLY, instalments=12, paid_instalments=1,
                status=PledgeStatus.CANCELLED)  # fmt: skip
    make_pledge(campaign, pounds="70", status=PledgeStatus.PENDING)
    payment = db.session.scalars(select(Payment).where(Payment.pledge_id == one_off.id)).one()
    settle.record_refund(payment, Money(300))
    db.session.commit()
    return campaign.slug


def test_a_campaign_shows_exactly_the_totals_in_the_database(client: FlaskClient) -> None:
    slug = _busy_campaign()

    response = client.get(f"/api/v1/campaigns/{slug}")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    item = response.get_json()
    _assert_matches_database(item)
    # And those totals are the right ones, worked out by hand:
    assert item["pledged_pence"] == 2_000_00 + 500_00 + 1_000_00 + 50_00 + 12 * 10_00 + 20_00
    assert item["collected_pence"] == (50_00 - 3_00) + 2 * 10_00 + 20_00
    assert item["matched_pence"] == 0
    assert item["pledge_count"] == 5
    assert item["council_count"] == 2
    assert item["min_councils"] == 4
    assert item["target_pence"] == 48_000_00
    assert item["currency"] == "GBP"
    assert item["status"] == "live"


def test_the_list_shows_every_public_campaign_with_its_database_totals_and_no_drafts(client: FlaskClient) -> None:
    busy = _busy_campaign()
    succeeded = CampaignFactory(status=CampaignStatus.SUCCEEDED).slug
    closed = CampaignFactory(status=CampaignStatus.CLOSED).slug
    draft = CampaignFactory(status=CampaignStatus.DRAFT, title="Secret draft").slug

    response = client.get("/api/v1/campaigns")

    assert response.status_code == 200
    items = response.get_json()["campaigns"]
    assert {item["slug"] for item in items} == {busy, succeeded, closed}
    assert "Secret draft" not in response.get_data(as_text=True)
    for item in items:
        _assert_matches_database(item)
        assert client.get(f"/api/v1/campaigns/{item['slug']}").get_json() == item
    assert client.get(f"/api/v1/campaigns/{draft}").status_code == 404


def test_a_new_pledge_shows_in_the_api_at_once(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    before = client.get(f"/api/v1/campaigns/{campaign.slug}").get_json()

    make_pledge(campaign, pounds="123.45")

    after = client.get(f"/api/v1/campaigns/{campaign.slug}").get_json()
    assert after["pledged_pence"] == before["pledged_pence"] + 123_45
    assert after["pledge_count"] == before["pledge_count"] + 1
    _assert_matches_database(after)


def test_an_unknown_campaign_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/campaigns/no-such-campaign")

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "Page not found"


def test_no_campaigns_is_an_empty_list(client: FlaskClient) -> None:
    CampaignFactory(status=CampaignStatus.DRAFT)

    assert client.get("/api/v1/campaigns").get_json() == {"campaigns": []}
