"""The pledge form: what a pledger sees, and that bad input is refused with nothing written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import links
from app.extensions import db
from app.models import Frequency, FundingModel, Instalment, Pledge, PledgeEvent, PledgeStatus, utcnow
from tests.factories import CampaignFactory
from tests.helpers import PageClient


def _form(client: FlaskClient, slug: str) -> dict[str, str]:
    html = client.get(f"/campaigns/{slug}/pledge").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    submission = re.search(r'name="submission_token" type="hidden" value="([^"]+)"', html)
    assert token and submission
    return {"csrf_token": token[1], "submission_token": submission[1]}


def _valid(**overrides: Any) -> dict[str, Any]:
    data = {
        "amount": "25",
        "frequency": "one_off",
        "instalments": "",
        "conditional": "yes",
        "name": "Pat Pledger",
        "email": "pat@example.org",
        "visibility": "public",
        "message": "",
        "consent": "y",
    }
    data.update(overrides)
    return data


def _counts() -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        db.session.scalar(select(func.count()).select_from(model)) for model in (Pledge, Instalment, PledgeEvent)
    )


def test_a_valid_pledge_is_saved_as_pending_and_goes_to_card_details(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    data = _form(client, campaign.slug) | _valid(amount="£2,500.50", frequency="monthly", instalments="6")

    response = client.post(f"/campaigns/{campaign.slug}/pledge", data=data)

    assert response.status_code == 302 and "/card" in response.headers["Location"]
    pledge = db.session.scalar(select(Pledge))
    assert pledge is not None
    assert (pledge.amount_pence, pledge.frequency, len(pledge.instalments)) == (250050, Frequency.MONTHLY, 6)
    assert pledge.is_conditional and pledge.status == PledgeStatus.PENDING
    assert pledge.commitment_pence == 250050 * 6
    db.session.refresh(campaign)
    assert campaign.pledged_pence == 0  # nothing counts until the card is saved


def test_until_cancelled_counts_the_funding_period(client: FlaskClient) -> None:
    campaign = CampaignFactory()  # funding period April 2027 – March 2028
    client.post(
        f"/campaigns/{campaign.slug}/pledge",
        data=_form(client, campaign.slug) | _valid(amount="50", frequency="monthly"),
    )
    pledge = db.session.scalar(select(Pledge))
    assert pledge is not None and pledge.instalment_count is None
    assert pledge.commitment_pence == 50_00 * 12


def test_the_form_page_is_clear(page: PageClient) -> None:
    campaign = CampaignFactory()
    html = page.get(f"/campaigns/{campaign.slug}/pledge").get_data(as_text=True)
    assert "Only if the campaign succeeds" in html
    assert "We never see or store your card number" in html


def test_keep_what_you_raise_campaigns_do_not_offer_conditional_pledges(client: FlaskClient) -> None:
    campaign = CampaignFactory(funding_model=FundingModel.KEEP_WHAT_YOU_RAISE)
    html = client.get(f"/campaigns/{campaign.slug}/pledge").get_data(as_text=True)
    assert "Only if the campaign succeeds" not in html
    client.post(f"/campaigns/{campaign.slug}/pledge", data=_form(client, campaign.slug) | _valid())
    pledge = db.session.scalar(select(Pledge))
    assert pledge is not None and not pledge.is_conditional


BAD_INPUTS = [
    ("empty amount", {"amount": ""}, "Enter how much you would like to give"),
    ("zero", {"amount": "0"}, "The smallest pledge is £1.00"),
    ("negative", {"amount": "-10"}, "Enter an amount greater than zero"),
    ("1p under the minimum", {"amount": "0.99"}, "The smallest pledge is £1.00"),
    ("over the maximum", {"amount": "100000.01"}, "The largest pledge we take online is £100,000.00"),
    ("fractional pence", {"amount": "10.005"}, "no fractions of a penny"),
    ("letters", {"amount": "ten pounds"}, "Enter the amount in pounds"),
    ("10 kB of text", {"name": "x" * 10_000}, "Name must be 200 characters or fewer"),
    ("HTML in the amount", {"amount": "<script>alert(1)</script>"}, "Enter the amount in pounds"),
    ("NUL in the name", {"name": "Pat\x00Pledger"}, "Remove the unusual characters"),
    ("bad email", {"email": "not-an-email"}, "Enter an email address in the correct format"),
    ("unknown frequency", {"frequency": "weekly"}, "Not a valid choice"),
    (
        "too many instalments",
        {"frequency": "monthly", "instalments": "500"},
        "Enter a number of payments between 2 and 120",
    ),
    (
        "instalments not a number",
        {"frequency": "monthly", "instalments": "twelve"},
        "Enter the number of payments as a whole number",
    ),
    ("no consent for a charge later", {"consent": ""}, "Confirm that we may charge your card later"),
    ("message too long", {"message": "m" * 501}, "Message must be 500 characters or fewer"),
]


@pytest.mark.parametrize(("case", "changes", "message"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_a_clear_error_and_writes_nothing(
    client: FlaskClient, case: str, changes: dict[str, str], message: str
) -> None:
    campaign = CampaignFactory()
    before = _counts()

    response = client.post(f"/campaigns/{campaign.slug}/pledge", data=_form(client, campaign.slug) | _valid(**changes))

    assert response.status_code == 400, case
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert message in html, f"{case}: expected {message!r}"
    assert "<script>alert(1)</script>" not in html  # what was typed is escaped when shown back
    assert _counts() == before


def test_a_missing_csrf_token_is_refused_and_writes_nothing(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    data = _form(client, campaign.slug) | _valid()
    del data["csrf_token"]
    response = client.post(f"/campaigns/{campaign.slug}/pledge", data=data)
    assert response.status_code == 400
    assert _counts() == (0, 0, 0)


def test_an_unexpected_field_is_ignored(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    data = _form(client, campaign.slug) | _valid() | {"status": "fulfilled", "amount_pence": "1"}
    client.post(f"/campaigns/{campaign.slug}/pledge", data=data)
    pledge = db.session.scalar(select(Pledge))
    assert pledge is not None and pledge.status == PledgeStatus.PENDING and pledge.amount_pence == 2500


def test_submitting_the_same_form_twice_makes_one_pledge(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    data = _form(client, campaign.slug) | _valid()
    first = client.post(f"/campaigns/{campaign.slug}/pledge", data=data)
    second = client.post(f"/campaigns/{campaign.slug}/pledge", data=data)
    # Both lead to the same pledge's card page (the signed links may differ in their timestamp
    # when the two posts straddle a second).
    pages = [response.headers["Location"] for response in (first, second)]
    assert all(page.startswith("/pledges/") and page.endswith("/card") for page in pages)
    ids = {links.pledge_id_from(page.removeprefix("/pledges/").removesuffix("/card")) for page in pages}
    assert len(ids) == 1 and None not in ids
    assert _counts()[0] == 1


def test_a_closed_campaign_takes_no_pledges(client: FlaskClient) -> None:
    campaign = CampaignFactory(closes_at=utcnow())
    response = client.get(f"/campaigns/{campaign.slug}/pledge")
    assert response.status_code == 410
    assert "not taking pledges" in response.get_data(as_text=True)


def test_pledge_pages_need_the_signed_link(client: FlaskClient) -> None:
    assert client.get("/pledges/1/card").status_code == 404
    assert client.get("/pledges/MQ.forged.signature").status_code == 404
    assert client.get("/my-pledges/not-a-token").status_code == 404
