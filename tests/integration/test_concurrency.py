"""Many people at once (plan E): totals stay equal to the ledger and a form pressed 100 times
makes one pledge. Meaningful on PostgreSQL (row locks, real parallel transactions); on SQLite the
same tests check that one-writer-at-a-time gives the same answers."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from sqlalchemy import func, select

from app.database import write_transaction
from app.extensions import db
from app.ledger import totals
from app.models import Campaign, Frequency, PaymentMethod, Pledge, PledgerKind, PledgeStatus, Visibility
from app.money import Money
from app.payments import settle
from app.pledging import pledges
from tests.factories import CampaignFactory, OrganisationFactory
from tests.views.test_pledge_form import _valid


def test_two_hundred_pledges_at_once_keep_totals_to_the_penny(app: Flask) -> None:
    campaign = CampaignFactory()
    councils = [OrganisationFactory() for _ in range(5)]
    campaign_id, council_ids = campaign.id, [c.id for c in councils]
    db.session.commit()

    def pledge(n: int) -> None:
        # What a pledge request does: one writing transaction.
        with app.app_context(), write_transaction():
            target = db.session.get_one(Campaign, campaign_id)
            council = n % 10 == 0
            made = pledges.create_pledge(
                target,
                pledges.PledgeRequest(
                    kind=PledgerKind.COUNCIL if council else PledgerKind.INDIVIDUAL,
                    name=f"Pledger {n}",
                    email=f"p{n}@example.org",
                    amount=Money(100 + n * 7),
                    frequency=Frequency.MONTHLY if n % 3 == 0 else Frequency.ONE_OFF,
                    instalment_count=4 if n % 3 == 0 else None,
                    method=PaymentMethod.INVOICE if council else PaymentMethod.CARD,
                    conditional=n % 2 == 0,
                    visibility=Visibility.PUBLIC,
                    submission_token=f"concurrent-{n}",
                    organisation=db.session.get(type(councils[0]), council_ids[(n // 10) % 5]) if council else None,
                ),
            )
            pledges.change_status(made, PledgeStatus.COMMITTED, reason="test")
            if n % 4 == 1:
                settle.mark_succeeded(settle.open_card_payment(made.instalments[0]))
            db.session.commit()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(pledge, range(200)))

    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 200
    assert totals.verify() == []
    stored = db.session.get_one(Campaign, campaign_id)
    assert stored.pledge_count == 200 and stored.council_count == 5


def test_a_form_submitted_a_hundred_times_at_once_makes_one_pledge(app: Flask) -> None:
    campaign = CampaignFactory()
    slug = campaign.slug
    db.session.commit()
    client = app.test_client()
    html = client.get(f"/campaigns/{slug}/pledge").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    token = re.search(r'name="submission_token" type="hidden" value="([^"]+)"', html)
    assert csrf and token
    data = {"csrf_token": csrf[1], "submission_token": token[1]} | _valid()
    cookie = client.get_cookie("pledgeline_session")
    assert cookie is not None

    def submit(_: int) -> int:
        other = app.test_client()
        other.set_cookie("pledgeline_session", cookie.value)
        return other.post(f"/campaigns/{slug}/pledge", data=data).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(submit, range(100)))

    assert set(statuses) == {302}
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 1
