"""The public ledger: every contribution counted in a campaign's figures, in CSV and JSON."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient

from app.extensions import db
from app.models import CampaignStatus, Frequency, Payment, PledgeStatus, Visibility
from app.money import Money
from app.payments import settle
from app.pledging import pledges
from tests.factories import CampaignFactory, make_pledge
from tests.treasurer.conftest import Ledger


def _csv(client: FlaskClient, slug: str) -> list[dict[str, str]]:
    response = client.get(f"/campaigns/{slug}/ledger.csv")
    assert response.status_code == 200, response.status
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _api(client: FlaskClient, slug: str) -> dict[str, int]:
    response = client.get(f"/api/v1/campaigns/{slug}")
    assert response.status_code == 200
    return response.get_json()


def test_ledger_totals_equal_the_api_to_the_penny(client: FlaskClient, ledger: Ledger) -> None:
    slug = ledger.campaign.slug
    api = _api(client, slug)
    rows = _csv(client, slug)
    assert sum(int(r["pledged_pence"]) for r in rows) == api["pledged_pence"]
    assert sum(int(r["collected_pence"]) for r in rows) == api["collected_pence"]
    # Pounds and pence say the same thing on every line.
    assert all(round(float(r["pledged_pounds"]) * 100) == int(r["pledged_pence"]) for r in rows)

    document = client.get(f"/campaigns/{slug}/ledger.json").get_json()
    assert document["totals"]["pledged_pence"] == api["pledged_pence"]
    assert document["totals"]["collected_pence"] == api["collected_pence"]
    assert document["totals"]["line_count"] == len(rows) == len(document["lines"])
    assert sum(line["collected_pence"] for line in document["lines"]) == api["collected_pence"]

    # Refunds are negative lines: the full refund (£80) and the partial one (£12.50).
    refunds = sorted(int(r["collected_pence"]) for r in rows if r["line"] == "refund")
    assert refunds == [-8000, -1250]
    # Money paid on a cancelled pledge still counts as pledged (its payment line carries it).
    cancelled = [r for r in rows if r["pledge_status"] == "cancelled" and r["line"] == "payment"]
    assert cancelled and all(int(r["pledged_pence"]) == int(r["collected_pence"]) > 0 for r in cancelled)
    # Lines are in date order.
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)


def test_ledger_names_organisations_and_hides_individuals_who_asked(client: FlaskClient, ledger: Ledger) -> None:
    campaign = ledger.campaign
    hidden = make_pledge(campaign, pounds="45", name="Harriet Hidden", email="harriet@example.org")
    hidden.visibility = Visibility.NAME_HIDDEN
    db.session.commit()
    rows = _csv(client, campaign.slug)
    body = client.get(f"/campaigns/{campaign.slug}/ledger.csv").get_data(as_text=True)
    names = {r["pledger"] for r in rows}
    assert {"North Shire Council", "South Shire Council", "Civic Tech Trust", "Colin Committed"} <= names
    assert "Harriet Hidden" not in body
    assert [r["pledged_pence"] for r in rows if r["pledger"] == "Anonymous supporter"] == ["4500"]
    # Nobody's email address is published.
    assert "@" not in body
    # A name a spreadsheet would run is text.
    assert '\'=HYPERLINK("http://evil.example")' in names
    # Pending, failed and released pledges count for nothing, so they are not lines.
    assert not {"Penny Pending", "Fred Failed", "Rita Released"} & names
    # A declined card payment is not money received: no line for it beyond the pledge itself.
    assert [r["line"] for r in rows if r["pledger"] == "Dee Declined"] == ["pledge"]


def test_unknown_and_draft_campaigns_are_not_found_in_every_format(client: FlaskClient) -> None:
    draft = CampaignFactory(slug="not-yet")
    make_pledge(draft, pounds="10", name="Early Bird")
    draft.status = CampaignStatus.DRAFT  # taken back to draft: nothing of it is public
    db.session.commit()
    for slug in ("no-such-campaign", "not-yet"):
        assert client.get(f"/campaigns/{slug}/ledger.csv").status_code == 404
        response = client.get(f"/campaigns/{slug}/ledger.json")
        assert response.status_code == 404
        assert response.get_json()["error"] == "Page not found"
        assert client.get(f"/open-data/360giving.json?campaign={slug}").status_code == 404


def test_a_campaign_with_nothing_yet_has_an_empty_ledger(client: FlaskClient) -> None:
    campaign = CampaignFactory(slug="quiet")
    db.session.commit()
    assert _csv(client, "quiet") == []
    document = client.get("/campaigns/quiet/ledger.json").get_json()
    assert document["lines"] == []
    assert document["totals"] == {"line_count": 0, "pledged_pence": 0, "collected_pence": 0}
    assert document["campaign"]["slug"] == campaign.slug


def test_refund_on_a_cancelled_pledge_takes_it_out_of_pledged_too(client: FlaskClient) -> None:
    campaign = CampaignFactory(slug="refunds")
    pledge = make_pledge(
        campaign,
        pounds="30",
        frequency=Frequency.MONTHLY,
        instalments=3,
        paid_instalments=1,
        status=PledgeStatus.ACTIVE,
        name="Una Undone",
    )
    payment = db.session.scalars(db.select(Payment).where(Payment.pledge_id == pledge.id)).one()
    pledges.change_status(pledge, PledgeStatus.CANCELLED, reason="test: stopped")
    settle.record_refund(payment, Money.parse("10"))
    db.session.commit()
    api = _api(client, "refunds")
    rows = _csv(client, "refunds")
    assert [(r["line"], r["pledged_pence"], r["collected_pence"]) for r in rows] == [
        ("payment", "3000", "3000"),
        ("refund", "-1000", "-1000"),
    ]
    assert api["pledged_pence"] == api["collected_pence"] == 2000
