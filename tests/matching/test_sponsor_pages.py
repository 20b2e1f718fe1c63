"""What sponsors and visitors see: a sponsor only its own offers (and no pledger's details), and
every offer on the campaign page for anyone to check."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, MatchOffer, MatchStatus, PledgerKind, Role, Visibility
from tests.factories import PASSWORD, CampaignFactory, SponsorFactory, UserFactory, make_offer, make_pledge
from tests.helpers import PageClient, sign_in


def _sponsor_client(client: FlaskClient, sponsor) -> PageClient:  # type: ignore[no-untyped-def]
    user = UserFactory(role=Role.SPONSOR, organisation=sponsor)
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    return PageClient(client)


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match
    return match[1]


def test_a_sponsor_sees_its_own_offers_and_nobody_elses_nor_any_pledgers_details(client: FlaskClient) -> None:
    campaign = CampaignFactory(title="Pipeline community manager")
    mine, theirs = SponsorFactory(name="Northgate Civic Fund"), SponsorFactory(name="Rival Holdings")
    make_offer(campaign, mine, ratio="1", cap="1234.56", eligibility="individuals")
    make_offer(campaign, theirs, ratio="3", cap="9876.54", eligibility="councils")
    make_pledge(campaign, pounds="40", name="Priya Secretpledger", email="priya@example.org", message="Go team")
    make_pledge(campaign, kind=PledgerKind.COUNCIL, pounds="100", visibility=Visibility.ANONYMOUS)

    html = _sponsor_client(client, mine).get("/sponsor/").get_data(as_text=True)

    assert "Northgate Civic Fund" in html and "£1,234.56" in html
    assert "£40.00" in html  # what its offer has matched
    for secret in ("Rival Holdings", "£9,876.54", "£3 for every £1", "Priya", "priya@example.org", "Go team"):
        assert secret not in html, secret


def test_another_sponsors_offer_cannot_be_reached_or_withdrawn(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    mine, theirs = SponsorFactory(), SponsorFactory(name="Rival Holdings")
    their_offer = make_offer(campaign, theirs, cap="500")
    page = _sponsor_client(client, mine)
    token = _token(
        page.get("/sponsor/").get_data(as_text=True) + client.get("/sponsor/offers/new").get_data(as_text=True)
    )

    for method in ("GET", "POST"):
        response = client.open(
            f"/sponsor/offers/{their_offer.id}/withdraw",
            method=method,
            data={"csrf_token": token, "reason": "mine now"},
        )
        assert response.status_code == 404, method
        assert "Rival Holdings" not in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(MatchOffer, their_offer.id).status == MatchStatus.ACTIVE


def test_a_sponsor_cannot_make_an_offer_in_another_sponsors_name(client: FlaskClient) -> None:
    campaign = CampaignFactory(slug="pipeline")
    mine, theirs = SponsorFactory(), SponsorFactory(slug="rival")
    _sponsor_client(client, mine)
    token = _token(client.get("/sponsor/offers/new").get_data(as_text=True))

    response = client.post(
        "/sponsor/offers/new",
        data={"csrf_token": token, "campaign": campaign.slug, "sponsor": "rival", "ratio": "1", "cap": "100",
              "eligibility": "both", "conditional": "yes"},
    )  # fmt: skip

    assert response.status_code == 302
    offer = db.session.scalars(select(MatchOffer)).one()
    assert offer.sponsor_id == mine.id != theirs.id


def test_a_sponsor_withdraws_an_offer_before_it_matches_anything_but_not_after(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    sponsor = SponsorFactory()
    unused = make_offer(campaign, sponsor, cap="100", eligibility="councils")
    used = make_offer(campaign, sponsor, cap="100", eligibility="individuals")
    make_pledge(campaign, pounds="10")
    page = _sponsor_client(client, sponsor)

    index = page.get("/sponsor/").get_data(as_text=True)
    assert f"/sponsor/offers/{unused.id}/withdraw" in index
    assert f"/sponsor/offers/{used.id}/withdraw" not in index

    form = page.get(f"/sponsor/offers/{unused.id}/withdraw").get_data(as_text=True)
    empty = page.post(f"/sponsor/offers/{unused.id}/withdraw", {"csrf_token": _token(form), "reason": " "}, status=400)
    assert "Enter the reason for withdrawing the offer" in empty.get_data(as_text=True)
    page.post(f"/sponsor/offers/{unused.id}/withdraw", {"csrf_token": _token(form), "reason": "Budget cut"})
    db.session.expire_all()
    assert db.session.get_one(MatchOffer, unused.id).status == MatchStatus.WITHDRAWN

    refused = page.post(
        f"/sponsor/offers/{used.id}/withdraw", {"csrf_token": _token(form), "reason": "Budget cut"}, status=400
    )
    assert "already matched £10.00 of pledges, so it cannot be withdrawn" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(MatchOffer, used.id).status == MatchStatus.ACTIVE
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("match_offer.withdrawn") == 1


def test_the_campaign_page_lists_every_sponsor_and_its_offer(page: PageClient) -> None:
    campaign = CampaignFactory()
    make_offer(campaign, SponsorFactory(name="Northgate Civic Fund"), ratio="1", cap="5000", eligibility="councils")
    make_offer(campaign, SponsorFactory(name="Eastfield Trust"), ratio="0.5", cap="250", eligibility="individuals",
               conditional=False)  # fmt: skip
    withdrawn = make_offer(campaign, SponsorFactory(name="Gone Ltd"), cap="10")
    from app.matching import match_funding

    match_funding.withdraw_offer(withdrawn, None, "changed plans")
    db.session.commit()
    make_pledge(campaign, kind=PledgerKind.COUNCIL, pounds="300")
    make_pledge(campaign, pounds="45.01")

    html = page.get(f"/campaigns/{campaign.slug}").get_data(as_text=True)
    section = html[html.index('id="sponsors-heading"') : html.index('id="about-heading"')]

    assert "Northgate Civic Fund" in section and "£1 for every £1 of councils&#39; pledges" in section
    assert "Paid only if the campaign succeeds." in section and "£5,000" in section
    assert "Eastfield Trust" in section and "50p for every £1 of individuals&#39; pledges" in section
    assert "Paid whatever happens." in section and "£250" in section
    assert "Gone Ltd" in section and "Withdrawn before it matched anything." in section
    assert re.findall(r'data-figure="offer-matched">([^<]+)<', section) == ["£300.00", "£22.50", "£0.00"]
    assert "no sponsor may provide more than 25% of the target" in section
    assert 'data-figure="matched">£322.50<' in html  # matched shown apart from pledged
    assert 'data-figure="pledged">£345.01<' in html


def test_the_api_shows_matched_money_separately(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    make_offer(campaign, ratio="2", cap="50")
    make_pledge(campaign, pounds="20")
    data = client.get(f"/api/v1/campaigns/{campaign.slug}").get_json()
    assert (data["pledged_pence"], data["matched_pence"]) == (20_00, 40_00)
