"""The match-offer forms: a sponsor's own at /sponsor/offers/new and a treasurer's on a sponsor's
behalf. Bad input gets a clear message, a 400 and nothing written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Campaign, MatchEligibility, MatchOffer, MatchStatus, Role, User
from tests.factories import PASSWORD, CampaignFactory, SponsorFactory, UserFactory, make_offer
from tests.helpers import PageClient, sign_in

CSRF_REFUSAL = "The form had expired or was sent from somewhere else"


def _token(client: FlaskClient, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, f"no form on {url}"
    return match[1]


def _signed_in(client: FlaskClient, role: Role, **user: Any) -> FlaskClient:
    person = UserFactory(role=role, **user)
    assert sign_in(client, person.email, PASSWORD).status_code == 302
    return client


def _written() -> tuple[int, int, int]:
    db.session.expire_all()
    versions = sum(db.session.scalars(select(Campaign.totals_version)))
    return (
        db.session.scalar(select(func.count()).select_from(MatchOffer)) or 0,
        db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        versions,
    )


@pytest.fixture
def world() -> dict[str, Any]:
    campaign = CampaignFactory(slug="pipeline", title="Pipeline community manager", target_pence=48_000_00)
    sponsor = SponsorFactory(name="Northgate Civic Fund", slug="northgate")
    return {"campaign": campaign, "sponsor": sponsor}


# -- the sponsor's own form ------------------------------------------------------------------------


def _sponsor_data(**changes: str) -> dict[str, str]:
    data = {"campaign": "pipeline", "ratio": "1", "cap": "5,000", "eligibility": "both", "conditional": "yes"}
    data.update(changes)
    return data


def test_a_sponsor_makes_an_offer_and_sees_it_with_what_it_has_matched(
    client: FlaskClient, world: dict[str, Any]
) -> None:
    page = PageClient(_signed_in(client, Role.SPONSOR, organisation=world["sponsor"]))
    form = page.get("/sponsor/offers/new?campaign=pipeline")
    html = form.get_data(as_text=True)
    assert '<option selected value="pipeline">' in html or 'value="pipeline" selected' in html
    assert "No earmarking." in html
    assert "Northgate Civic Fund can provide at most £12,000.00 (25% of the target)" in html

    data = {"csrf_token": _token(client, "/sponsor/offers/new")} | _sponsor_data(
        ratio="£1 for every £2", cap="£5,000.50", eligibility="councils", conditional="no"
    )
    response = client.post("/sponsor/offers/new", data=data)

    assert response.status_code == 302 and response.location.endswith("/sponsor/")
    offer = db.session.scalars(select(MatchOffer)).one()
    assert (offer.ratio_bp, offer.cap_pence, offer.eligibility, offer.conditional) == (
        5_000,
        5_000_50,
        MatchEligibility.COUNCILS,
        False,
    )
    assert offer.sponsor_id == world["sponsor"].id and offer.status == MatchStatus.ACTIVE
    index = page.get("/sponsor/").get_data(as_text=True)
    assert "is now live and listed on the campaign page" in index
    assert "50p for every £1" in index and "£5,000.50" in index and "Councils&#39; pledges" in index


BAD_INPUTS = [
    ("empty ratio", {"ratio": ""}, "Enter how much is added for every £1 pledged"),
    ("empty cap", {"cap": ""}, "Enter the most the offer will add in total"),
    ("zero cap", {"cap": "0"}, "Enter a cap greater than zero"),
    ("negative cap", {"cap": "-500"}, "Enter a cap greater than zero"),
    (
        "over the share limit",
        {"cap": "12,000.01"},
        "Northgate Civic Fund can provide at most £12,000.00 (25% of the target)",
    ),
    ("fractional pence", {"cap": "100.005"}, "no fractions of a penny"),
    ("letters in the cap", {"cap": "lots"}, "Enter the cap in pounds"),
    ("letters in the ratio", {"ratio": "generous"}, "Enter the ratio as an amount for every £1 pledged"),
    ("10 kB in the cap", {"cap": "9" * 10_000}, "Enter the cap in pounds"),
    ("10 kB in the ratio", {"ratio": "1" * 10_000}, "Enter the ratio as an amount for every £1 pledged"),
    ("HTML in the ratio", {"ratio": "<script>alert(1)</script>"}, "Enter the ratio as an amount for every £1"),
    ("ratio of zero", {"ratio": "0"}, "Enter a ratio greater than zero"),
    ("absurd ratio", {"ratio": "1000"}, "A sponsor can add at most £10 for every £1 pledged"),
    ("negative ratio", {"ratio": "-1"}, "Enter a ratio greater than zero"),
    ("unknown campaign", {"campaign": "no-such-campaign"}, "Choose a campaign from the list"),
    ("no campaign", {"campaign": ""}, "Choose the campaign to match"),
    ("unknown eligibility", {"eligibility": "pensioners"}, "Not a valid choice"),
    ("unknown condition", {"conditional": "maybe"}, "Not a valid choice"),
]


@pytest.mark.parametrize(("case", "changes", "message"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_on_the_sponsors_form_is_refused_clearly_and_nothing_is_written(
    client: FlaskClient, world: dict[str, Any], case: str, changes: dict[str, str], message: str
) -> None:
    _signed_in(client, Role.SPONSOR, organisation=world["sponsor"])
    token = _token(client, "/sponsor/offers/new")
    before = _written()

    response = client.post("/sponsor/offers/new", data={"csrf_token": token} | _sponsor_data(**changes))

    assert response.status_code == 400, case
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert message in html, f"{case}: expected {message!r}"
    assert "<script>alert(1)</script>" not in html
    assert _written() == before


def test_a_closed_campaign_is_not_offered_and_cannot_be_posted_to(client: FlaskClient, world: dict[str, Any]) -> None:
    CampaignFactory(slug="finished", status="succeeded")
    _signed_in(client, Role.SPONSOR, organisation=world["sponsor"])
    assert 'value="finished"' not in client.get("/sponsor/offers/new").get_data(as_text=True)
    token = _token(client, "/sponsor/offers/new")
    before = _written()
    response = client.post("/sponsor/offers/new", data={"csrf_token": token} | _sponsor_data(campaign="finished"))
    assert response.status_code == 400
    assert "Choose a campaign from the list" in response.get_data(as_text=True)
    assert _written() == before


def test_a_post_without_a_csrf_token_is_refused_and_nothing_is_written(
    client: FlaskClient, world: dict[str, Any]
) -> None:
    _signed_in(client, Role.SPONSOR, organisation=world["sponsor"])
    before = _written()
    response = client.post("/sponsor/offers/new", data=_sponsor_data())
    assert response.status_code == 400 and CSRF_REFUSAL in response.get_data(as_text=True)

    treasurer = _signed_in(client.application.test_client(), Role.TREASURER)
    response = treasurer.post("/treasurer/campaigns/pipeline/offers/new", data=_sponsor_data(sponsor="northgate"))
    assert response.status_code == 400 and CSRF_REFUSAL in response.get_data(as_text=True)
    assert _written() == before


def test_two_offers_over_the_limit_between_them_the_second_is_refused(
    client: FlaskClient, world: dict[str, Any]
) -> None:
    _signed_in(client, Role.SPONSOR, organisation=world["sponsor"])
    first = client.post(
        "/sponsor/offers/new", data={"csrf_token": _token(client, "/sponsor/offers/new")} | _sponsor_data(cap="8000")
    )
    assert first.status_code == 302
    before = _written()
    second = client.post(
        "/sponsor/offers/new", data={"csrf_token": _token(client, "/sponsor/offers/new")} | _sponsor_data(cap="4000.01")
    )
    assert second.status_code == 400
    assert "already come to £8,000.00, so enter a cap of £4,000.00 or less" in second.get_data(as_text=True)
    assert _written() == before


def test_a_sponsor_account_without_a_sponsor_organisation_cannot_make_offers(
    client: FlaskClient, world: dict[str, Any]
) -> None:
    _signed_in(client, Role.SPONSOR)
    assert client.get("/sponsor/offers/new").status_code == 403
    assert "not linked to a sponsor organisation" in client.get("/sponsor/").get_data(as_text=True)


# -- a treasurer on a sponsor's behalf -------------------------------------------------------------


def _treasurer_data(**changes: str) -> dict[str, str]:
    data = {"sponsor": "northgate", "ratio": "1", "cap": "5000", "eligibility": "both", "conditional": "yes"}
    data.update(changes)
    return data


@pytest.mark.parametrize("role", [Role.TREASURER, Role.ADMIN])
def test_a_treasurer_records_an_offer_for_a_sponsor(client: FlaskClient, world: dict[str, Any], role: Role) -> None:
    SponsorFactory(name="Another Sponsor", slug="another")
    page = PageClient(_signed_in(client, role))
    html = page.get("/treasurer/campaigns/pipeline/offers/new").get_data(as_text=True)
    assert "Northgate Civic Fund" in html and "Another Sponsor" in html

    url = "/treasurer/campaigns/pipeline/offers/new"
    response = client.post(url, data={"csrf_token": _token(client, url)} | _treasurer_data(ratio="2", cap="750"))

    assert response.status_code == 302 and response.location.endswith("/treasurer/campaigns/pipeline/offers")
    offer = db.session.scalars(select(MatchOffer)).one()
    assert (offer.sponsor_id, offer.ratio_bp, offer.cap_pence) == (world["sponsor"].id, 20_000, 750_00)
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "match_offer.created")).one()
    actor = db.session.get_one(User, audit.actor_id)
    assert actor.role == role and offer.created_by_id == actor.id  # recorded as the treasurer's doing
    listing = page.get("/treasurer/campaigns/pipeline/offers").get_data(as_text=True)
    assert "£2 for every £1" in listing and "£750.00" in listing


TREASURER_BAD_INPUTS = [
    ("unknown sponsor", {"sponsor": "nobody"}, "Choose a sponsor from the list"),
    ("no sponsor", {"sponsor": ""}, "Choose the sponsor making the offer"),
    ("a council is not a sponsor", {"sponsor": "a-council"}, "Choose a sponsor from the list"),
    ("over the share limit", {"cap": "12000.01"}, "Northgate Civic Fund can provide at most £12,000.00"),
    ("zero cap", {"cap": "0.00"}, "Enter a cap greater than zero"),
    ("ratio 0", {"ratio": "0"}, "Enter a ratio greater than zero"),
    ("absurd ratio", {"ratio": "10.01"}, "at most £10 for every £1"),
    ("fractional pence", {"cap": "1.001"}, "no fractions of a penny"),
    ("HTML", {"cap": "<b>5000</b>"}, "Enter the cap in pounds"),
    ("10 kB", {"ratio": "x" * 10_000}, "Enter the ratio as an amount for every £1 pledged"),
]


@pytest.mark.parametrize(("case", "changes", "message"), TREASURER_BAD_INPUTS, ids=[c[0] for c in TREASURER_BAD_INPUTS])
def test_bad_input_on_the_treasurers_form_is_refused_clearly_and_nothing_is_written(
    client: FlaskClient, world: dict[str, Any], case: str, changes: dict[str, str], message: str
) -> None:
    from tests.factories import OrganisationFactory

    OrganisationFactory(slug="a-council")
    _signed_in(client, Role.TREASURER)
    url = "/treasurer/campaigns/pipeline/offers/new"
    token = _token(client, url)
    before = _written()

    response = client.post(url, data={"csrf_token": token} | _treasurer_data(**changes))

    assert response.status_code == 400, case
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and message in html, f"{case}: expected {message!r}"
    assert _written() == before


def test_an_unknown_campaign_is_not_found_and_a_closed_one_takes_no_offers(
    client: FlaskClient, world: dict[str, Any]
) -> None:
    CampaignFactory(slug="draft-one", status="draft")
    _signed_in(client, Role.TREASURER)
    assert client.get("/treasurer/campaigns/no-such/offers/new").status_code == 404
    assert client.get("/treasurer/campaigns/no-such/offers").status_code == 404
    page = client.get("/treasurer/campaigns/draft-one/offers/new").get_data(as_text=True)
    assert "This campaign is not open, so it cannot take match offers." in page
    before = _written()
    token = _token(client, "/treasurer/campaigns/pipeline/offers/new")
    response = client.post("/treasurer/campaigns/draft-one/offers/new", data={"csrf_token": token} | _treasurer_data())
    assert response.status_code == 400
    assert _written() == before
    assert db.session.scalar(select(func.count()).select_from(MatchOffer)) == 0
    make_offer(world["campaign"], world["sponsor"])  # the open one still does
