"""Stripe unreachable mid-pledge: nothing lost, the pledger told, and the retry charges once.

"Unreachable" is real: the localstripe process is stopped, so the app's HTTP calls are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.ledger import totals
from app.models import Payment, PaymentStatus, Pledge, PledgeStatus
from tests.factories import CampaignFactory
from tests.stripe_server import LocalStripe, pointed_at, save_card, unreachable
from tests.views.test_pledge_form import _form, _valid

pytestmark = pytest.mark.stripe


@pytest.fixture
def flaky_stripe(app: Flask) -> Iterator[LocalStripe]:
    """A localstripe of this test's own, which the test stops and starts."""
    server = LocalStripe()
    server.start()
    with pointed_at(app, server):
        yield server
    server.stop()


def _start_pledge(client: FlaskClient, slug: str, n: int) -> str:
    data = _form(client, slug) | _valid(conditional="no", email=f"pledger{n}@example.org", amount=str(10 + n))
    response = client.post(f"/campaigns/{slug}/pledge", data=data)
    assert response.status_code == 302
    return response.headers["Location"]  # the card page


def _setup_intent_on(html: str) -> str:
    match = re.search(r'data-client-secret="(seti_[A-Za-z0-9]+)_secret_', html)
    assert match, "no SetupIntent on the card page"
    return match[1]


def _card_token(client: FlaskClient, card_url: str) -> str:
    html = client.get(card_url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert token
    return token[1]


def _payments() -> int:
    return int(
        db.session.scalar(select(func.count()).select_from(Payment).where(Payment.status == PaymentStatus.SUCCEEDED))
        or 0
    )


def test_twenty_pledges_survive_an_outage_and_are_charged_exactly_once_after(
    client: FlaskClient, flaky_stripe: LocalStripe
) -> None:
    campaign = CampaignFactory()
    card_urls = [_start_pledge(client, campaign.slug, n) for n in range(20)]

    flaky_stripe.stop()
    for url in card_urls:
        response = client.get(url)
        assert response.status_code == 503
        html = response.get_data(as_text=True)
        assert "could not reach our card payment provider" in html
        assert "Nothing has been charged" in html and "Try again" in html

    db.session.rollback()
    assert (
        db.session.scalar(select(func.count()).select_from(Pledge).where(Pledge.status == PledgeStatus.PENDING)) == 20
    )

    flaky_stripe.start()
    stripe_client = flaky_stripe.client()
    for url in card_urls:
        html = client.get(url).get_data(as_text=True)
        setup_intent = _setup_intent_on(html)
        save_card(stripe_client, setup_intent)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        assert token
        response = client.post(url, data={"csrf_token": token[1], "setup_intent": setup_intent})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        # A second press of the button charges nothing more.
        client.post(url, data={"csrf_token": token[1], "setup_intent": setup_intent})

    db.session.rollback()
    assert _payments() == 20
    assert len(list(stripe_client.v1.payment_intents.list().auto_paging_iter())) == 20
    db.session.refresh(campaign)
    assert campaign.collected_pence == sum(1000 + n * 100 for n in range(20))
    assert totals.verify() == []


def test_stripe_going_down_after_the_card_is_saved_keeps_the_pledge_and_retries_once(
    app: Flask, client: FlaskClient, flaky_stripe: LocalStripe
) -> None:
    campaign = CampaignFactory()
    card_url = _start_pledge(client, campaign.slug, 1)
    html = client.get(card_url).get_data(as_text=True)
    setup_intent = _setup_intent_on(html)
    save_card(flaky_stripe.client(), setup_intent)
    token = _card_token(client, card_url)

    # This time Stripe keeps its records but stops answering us: the app's address for it now
    # refuses connections, exactly what the SDK meets when Stripe is unreachable.
    with unreachable(app):
        response = client.post(card_url, data={"csrf_token": token, "setup_intent": setup_intent})
    assert response.status_code == 503
    retry_form = response.get_data(as_text=True)
    assert "Nothing has been charged" in retry_form
    assert f'value="{setup_intent}"' in retry_form  # the "Try again" button posts the same card again
    db.session.rollback()
    assert db.session.scalar(select(Pledge.status)) == PledgeStatus.PENDING

    for _ in range(3):  # "Try again", pressed impatiently
        client.post(card_url, data={"csrf_token": token, "setup_intent": setup_intent})

    db.session.rollback()
    assert _payments() == 1
    assert len(list(flaky_stripe.client().v1.payment_intents.list().auto_paging_iter())) == 1
    assert totals.verify() == []
