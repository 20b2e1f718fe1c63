"""A pledger's own pages, reached by the signed link we email: see, cancel, and what others cannot."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from app import links
from app.extensions import db
from app.ledger import totals
from app.models import EmailMessage, Frequency, InstalmentStatus, PledgeStatus
from tests.factories import CampaignFactory, make_pledge
from tests.helpers import PageClient


def test_the_link_shows_only_that_persons_pledges(page: PageClient) -> None:
    campaign = CampaignFactory()
    mine = make_pledge(
        campaign,
        pounds="12",
        frequency=Frequency.MONTHLY,
        instalments=3,
        email="me@example.org",
        paid_instalments=1,
        status=PledgeStatus.ACTIVE,
    )
    theirs = make_pledge(campaign, pounds="99", email="someone-else@example.org")

    html = page.get(f"/my-pledges/{links.my_pledges_token(mine.id)}").get_data(as_text=True)

    assert mine.reference in html and "£12.00" in html
    assert theirs.reference not in html and "£99.00" not in html


def test_cancelling_a_monthly_pledge_stops_future_payments(page: PageClient) -> None:
    client = page.client
    campaign = CampaignFactory()
    pledge = make_pledge(
        campaign,
        pounds="10",
        frequency=Frequency.MONTHLY,
        instalments=6,
        email="me@example.org",
        paid_instalments=2,
        status=PledgeStatus.ACTIVE,
    )
    token = links.my_pledges_token(pledge.id)
    confirm = page.get(f"/my-pledges/{token}/{pledge.id}/cancel").get_data(as_text=True)
    assert "Are you sure you want to cancel" in confirm
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', confirm)
    assert csrf

    response = client.post(f"/my-pledges/{token}/{pledge.id}/cancel", data={"csrf_token": csrf[1]})

    assert response.status_code == 302
    db.session.refresh(pledge)
    assert pledge.status == PledgeStatus.CANCELLED
    statuses = [i.status for i in pledge.instalments]
    assert statuses == [InstalmentStatus.PAID] * 2 + [InstalmentStatus.CANCELLED] * 4
    db.session.refresh(campaign)
    assert campaign.pledged_pence == 2000  # what was actually paid still counts
    assert totals.verify() == []
    mail = db.session.scalar(select(EmailMessage).where(EmailMessage.kind == "cancellation"))
    assert mail is not None and pledge.reference in mail.subject
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No further payments will be taken" in followed


def test_someone_elses_link_cannot_cancel_my_pledge(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    pledge = make_pledge(campaign, email="me@example.org")
    attackers = make_pledge(campaign, email="attacker@example.org")
    token = links.my_pledges_token(attackers.id)
    assert client.get(f"/my-pledges/{token}/{pledge.id}/cancel").status_code == 404
    assert client.post(f"/my-pledges/{token}/{pledge.id}/cancel", data={}).status_code in (400, 404)
    db.session.refresh(pledge)
    assert pledge.status == PledgeStatus.COMMITTED


def test_asking_for_a_link_does_not_reveal_who_has_pledged(page: PageClient) -> None:
    client = page.client
    campaign = CampaignFactory()
    make_pledge(campaign, email="me@example.org")
    html = page.get("/my-pledges").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert csrf

    known = client.post("/my-pledges", data={"csrf_token": csrf[1], "email": "me@example.org"})
    unknown = client.post("/my-pledges", data={"csrf_token": csrf[1], "email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 200
    assert "If me@example.org has made any pledges" in known.get_data(as_text=True)
    mails = db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "my_pledges_link")).all()
    assert [m.to_address for m in mails] == ["me@example.org"]
    assert "/my-pledges/" in mails[0].body and mails[0].body.count("http://127.0.0.1:5000/") == 1
