"""An admin creates, edits, previews, publishes and cancels campaigns; every change is explained and audited."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.campaigns import admin as admin_rules
from app.extensions import db
from app.models import AuditEntry, Campaign, CampaignNotice, CampaignStatus, EmailMessage, Role, User, utcnow
from app.templating import LONDON
from tests.factories import PASSWORD, CampaignFactory, UserFactory, make_pledge
from tests.helpers import PageClient, sign_in


@pytest.fixture
def admin(page: PageClient) -> User:
    user = UserFactory(role=Role.ADMIN, email="ada@example.org", name="Ada Admin")
    assert sign_in(page.client, user.email, PASSWORD).status_code == 302
    return user


def _token(client: FlaskClient, url: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(url).get_data(as_text=True))
    assert match
    return match[1]


def _day(day: date) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def _form(**changes: object) -> dict[str, object]:
    closes = (utcnow() + timedelta(days=60)).astimezone(LONDON).date()
    fields: dict[str, object] = {
        "title": "Pipeline community manager 2027/28",
        "slug": "pipeline-2027-28",
        "summary": "Fund a community manager for a year.",
        "body": "Why it matters.",
        "target": "45,000",
        "min_councils": "10",
        "funding_model": "all_or_nothing",
        "closes_on": _day(closes),
        "funding_period": f"{closes.year + 1}-{(closes.year + 2) % 100:02d}",
        "annual_cost": "45000",
        "max_sponsor_share": "25",
    }
    fields.update(changes)
    return fields


def _audit(action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_an_admin_creates_a_draft_previews_it_and_publishes_it(page: PageClient, admin: User) -> None:
    client = page.client
    token = _token(client, "/admin/campaigns/new")

    created = client.post("/admin/campaigns/new", data={**_form(), "csrf_token": token})

    assert created.status_code == 302 and created.location.endswith("/admin/campaigns/pipeline-2027-28")
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.status == CampaignStatus.DRAFT
    assert (campaign.target_pence, campaign.min_councils, campaign.max_sponsor_share_bp) == (45_000_00, 10, 2500)
    assert campaign.funding_starts_on.month == 4 and campaign.funding_ends_on.month == 3
    assert [e.actor_id for e in _audit("campaign.created")] == [admin.id]
    # Nobody else sees a draft.
    assert client.get("/campaigns/pipeline-2027-28").status_code == 404
    preview = page.get("/admin/campaigns/pipeline-2027-28/preview").get_data(as_text=True)
    assert "This is how the campaign page will look once it is published" in preview
    assert "Pipeline community manager 2027/28" in preview
    assert "£45,000" in page.get("/admin/campaigns").get_data(as_text=True)

    admin_page = page.get("/admin/campaigns/pipeline-2027-28").get_data(as_text=True)
    assert "Publish the campaign" in admin_page and "Created the draft campaign" in admin_page
    published = client.post(
        "/admin/campaigns/pipeline-2027-28/publish",
        data={"csrf_token": _token(client, "/admin/campaigns/pipeline-2027-28")},
    )
    assert published.status_code == 302
    assert "is live: anyone can see it and pledge" in page.get(published.location).get_data(as_text=True)
    db.session.refresh(campaign)
    assert campaign.status == CampaignStatus.LIVE
    assert len(_audit("campaign.published")) == 1
    visitor = client.application.test_client()
    assert "Pipeline community manager 2027/28" in visitor.get("/campaigns/pipeline-2027-28").get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target": "0"}, "The target must be more than £0"),
        ({"target": "lots"}, "Enter the target in pounds, like 45,000 or 45000.00"),
        (
            {"closes_on": _day(date(2020, 1, 31))},
            "The deadline must be in the future: 31 January 2020 has already passed",
        ),
        ({"closes_on": ["31", "2", "2027"]}, "Enter the deadline as a real date, like 31 3 2027"),
        ({"funding_period": "2020-21"}, "The funding period must not be over before the deadline"),
        ({"funding_period": "2027-29"}, "2027-29 is not a financial year: try 2027-28"),
        ({"slug": "Pipeline 2027!"}, "The web address can only have lower-case letters"),
        ({"title": ""}, "Enter the campaign&#39;s title"),
        ({"max_sponsor_share": "150"}, "as a percentage from 1 to 100"),
        ({"min_councils": "-1"}, "Enter the minimum number of councils as a whole number"),
    ],
)
def test_bad_details_are_explained_and_what_was_typed_is_kept(
    page: PageClient, admin: User, changes: dict[str, object], message: str
) -> None:
    client = page.client
    response = client.post(
        "/admin/campaigns/new", data={**_form(**changes), "csrf_token": _token(client, "/admin/campaigns/new")}
    )

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and message in html
    assert 'value="Fund a community manager for a year."' in html or "Fund a community manager for a year." in html
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
    assert _audit("campaign.created") == []


def test_a_slug_already_taken_is_refused(page: PageClient, admin: User) -> None:
    CampaignFactory(slug="pipeline-2027-28")
    client = page.client
    response = client.post(
        "/admin/campaigns/new", data={**_form(), "csrf_token": _token(client, "/admin/campaigns/new")}
    )
    assert response.status_code == 400
    assert "There is already a campaign at /campaigns/pipeline-2027-28" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_changing_a_live_campaigns_target_and_deadline_puts_a_notice_on_its_page_and_emails_pledgers(
    page: PageClient, admin: User
) -> None:
    campaign = CampaignFactory(slug="live-one", target_pence=48_000_00)
    make_pledge(campaign, pounds="30", email="pat@example.org")
    make_pledge(campaign, pounds="50", email="sam@example.org")
    anonymous = page.client.application.test_client()
    before = anonymous.get("/campaigns/live-one").get_data(as_text=True)  # now in the page cache
    assert "Changes to this campaign" not in before
    old_close = campaign.closes_at
    new_day = (old_close + timedelta(days=30)).astimezone(LONDON).date()
    client = page.client
    edit_url = "/admin/campaigns/live-one/edit"
    form = page.get(edit_url).get_data(as_text=True)
    assert 'value="£48,000.00"' in form and "everyone who has pledged is emailed" in form

    response = client.post(
        edit_url,
        data={
            **_form(slug="live-one", target="50,000", closes_on=_day(new_day), funding_period="2027-28"),
            "csrf_token": _token(client, edit_url),
        },
    )

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get_one(Campaign, campaign.id).target_pence == 50_000_00
    notices = db.session.scalars(select(CampaignNotice).order_by(CampaignNotice.id)).all()
    assert [n.kind.value for n in notices] == ["target", "deadline"]
    shown = anonymous.get("/campaigns/live-one").get_data(as_text=True)
    assert "Changes to this campaign" in shown
    assert "The target changed from £48,000.00 to £50,000.00." in shown
    assert f"to {new_day:%-d %B %Y}" in shown
    mail = db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "campaign_changed")).all()
    assert sorted(m.to_address for m in mail) == ["pat@example.org"] * 2 + ["sam@example.org"] * 2
    assert any("The target changed from £48,000.00 to £50,000.00." in m.body for m in mail)
    [entry] = _audit("campaign.updated")
    assert entry.actor_id == admin.id and set(entry.detail) >= {"target_pence", "closes_at", "title"}


def test_saving_a_live_campaign_unchanged_tells_nobody(page: PageClient, admin: User) -> None:
    campaign = CampaignFactory(slug="same")
    make_pledge(campaign, pounds="30")
    client = page.client
    url = "/admin/campaigns/same/edit"
    values = admin_rules.form_values(campaign)
    response = client.post(
        url, data={**values, "closes_on": _day(values["closes_on"]), "csrf_token": _token(client, url)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CampaignNotice)) == 0
    assert (
        db.session.scalar(select(func.count()).select_from(EmailMessage).where(EmailMessage.kind == "campaign_changed"))
        == 0
    )
    assert _audit("campaign.updated") == []


def test_a_published_campaigns_address_cannot_change(page: PageClient, admin: User) -> None:
    CampaignFactory(slug="fixed")
    client = page.client
    url = "/admin/campaigns/fixed/edit"
    response = client.post(url, data={**_form(slug="moved"), "csrf_token": _token(client, url)})
    assert response.status_code == 400
    assert "The web address cannot change once the campaign is published" in response.get_data(as_text=True)


def test_cancelling_a_draft_needs_a_reason_and_keeps_its_details_in_the_audit_log(
    page: PageClient, admin: User
) -> None:
    CampaignFactory(slug="draft-one", status=CampaignStatus.DRAFT)
    live = CampaignFactory(slug="live-two")
    client = page.client
    url = "/admin/campaigns/draft-one/cancel"
    empty = client.post(url, data={"csrf_token": _token(client, url), "reason": ""})
    assert empty.status_code == 400 and "Enter the reason for cancelling the draft" in empty.get_data(as_text=True)

    done = client.post(url, data={"csrf_token": _token(client, url), "reason": "Merged into another campaign"})

    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.scalars(select(Campaign.slug)).all() == ["live-two"]
    [entry] = _audit("campaign.cancelled")
    assert entry.detail["slug"] == "draft-one" and entry.detail["reason"] == "Merged into another campaign"
    refused = client.post(
        "/admin/campaigns/live-two/cancel",
        data={"csrf_token": _token(client, "/admin/campaigns/new"), "reason": "x"},
    )
    assert refused.status_code == 400 and "Only a draft can be cancelled" in refused.get_data(as_text=True)
    assert db.session.get(Campaign, live.id) is not None


def test_publishing_a_draft_whose_deadline_passed_is_refused(page: PageClient, admin: User) -> None:
    CampaignFactory(
        slug="stale",
        status=CampaignStatus.DRAFT,
        opens_at=utcnow() - timedelta(days=40),
        closes_at=utcnow() - timedelta(days=1),
    )
    client = page.client
    response = client.post(
        "/admin/campaigns/stale/publish", data={"csrf_token": _token(client, "/admin/campaigns/stale")}
    )
    assert response.status_code == 302
    assert "was not published" in page.get(response.location).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalars(select(Campaign.status)).one() == CampaignStatus.DRAFT
