"""A treasurer closes a campaign early or extends its deadline: confirmed, reasoned, audited."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, CampaignStatus, PledgeStatus, Role, utcnow
from app.templating import LONDON
from tests.factories import PASSWORD, CampaignFactory, UserFactory, make_pledge
from tests.helpers import PageClient, sign_in


def _treasurer(client: FlaskClient) -> None:
    user = UserFactory(role=Role.TREASURER, email="tessa@example.org")
    assert sign_in(client, user.email, PASSWORD).status_code == 302


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match
    return match[1]


def test_closing_early_needs_a_reason_then_releases_and_audits(page: PageClient) -> None:
    client = page.client
    _treasurer(client)
    campaign = CampaignFactory(target_pence=100_000_00)
    pledge = make_pledge(campaign, pounds="30", conditional=True)

    html = page.get(f"/treasurer/campaigns/{campaign.slug}/close").get_data(as_text=True)
    assert "If you close it now, it fails" in html
    empty = client.post(f"/treasurer/campaigns/{campaign.slug}/close", data={"csrf_token": _token(html), "reason": ""})
    assert empty.status_code == 400
    assert "Enter the reason for closing the campaign early" in empty.get_data(as_text=True)
    db.session.refresh(campaign)
    assert campaign.status == CampaignStatus.LIVE

    done = client.post(
        f"/treasurer/campaigns/{campaign.slug}/close",
        data={"csrf_token": _token(html), "reason": "The role was funded another way"},
    )

    assert done.status_code == 302
    db.session.rollback()
    db.session.refresh(campaign)
    db.session.refresh(pledge)
    assert campaign.status == CampaignStatus.FAILED and pledge.status == PledgeStatus.RELEASED
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "campaign.closed"))
    assert entry is not None and "The role was funded another way" in entry.summary
    assert entry.actor_id is not None
    # Double submit: the second press finds it closed and changes nothing.
    again = client.post(
        f"/treasurer/campaigns/{campaign.slug}/close",
        data={"csrf_token": _token(html), "reason": "The role was funded another way"},
    )
    assert again.status_code == 400 and "Only a live campaign can be closed" in again.get_data(as_text=True)
    assert len(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.closed")).all()) == 1


def test_extending_moves_the_deadline_and_conditional_charges_with_it(page: PageClient) -> None:
    client = page.client
    _treasurer(client)
    campaign = CampaignFactory()
    pledge = make_pledge(campaign, pounds="30", conditional=True)
    old_due = pledge.instalments[0].due_on
    new_day = (campaign.closes_at + timedelta(days=14)).astimezone(LONDON).date()
    html = page.get(f"/treasurer/campaigns/{campaign.slug}/extend").get_data(as_text=True)

    response = client.post(
        f"/treasurer/campaigns/{campaign.slug}/extend",
        data={
            "csrf_token": _token(html),
            "reason": "Three councils asked for more time",
            "closes_on": [str(new_day.day), str(new_day.month), str(new_day.year)],
        },
    )

    assert response.status_code == 302, re.findall(
        r"govuk-error-message[^>]*>(.*?)</p>", response.get_data(as_text=True), re.S
    )
    db.session.rollback()
    db.session.refresh(campaign)
    assert campaign.closes_at.astimezone(LONDON).date() == new_day
    db.session.refresh(pledge)
    assert pledge.instalments[0].due_on > old_due
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "campaign.extended"))
    assert entry is not None and "Three councils asked for more time" in entry.summary


def test_a_deadline_cannot_move_earlier_or_into_the_past(page: PageClient) -> None:
    client = page.client
    _treasurer(client)
    campaign = CampaignFactory()
    html = page.get(f"/treasurer/campaigns/{campaign.slug}/extend").get_data(as_text=True)
    before = campaign.closes_at
    earlier = (utcnow() - timedelta(days=3)).date()
    for day in (earlier, None):
        fields = [str(day.day), str(day.month), str(day.year)] if day else ["31", "2", "2027"]
        response = client.post(
            f"/treasurer/campaigns/{campaign.slug}/extend",
            data={"csrf_token": _token(html), "reason": "Because", "closes_on": fields},
        )
        assert response.status_code == 400
        text = response.get_data(as_text=True)
        assert "The new deadline must be later" in text or "Enter the new closing date as a real date" in text
    db.session.refresh(campaign)
    assert campaign.closes_at == before


def test_a_post_missing_the_date_boxes_gets_the_form_back(page: PageClient) -> None:
    client = page.client
    _treasurer(client)
    campaign = CampaignFactory()
    html = page.get(f"/treasurer/campaigns/{campaign.slug}/extend").get_data(as_text=True)
    response = client.post(
        f"/treasurer/campaigns/{campaign.slug}/extend", data={"csrf_token": _token(html), "reason": "Because"}
    )
    assert response.status_code == 400
    assert "Enter the new closing date as a real date" in response.get_data(as_text=True)
