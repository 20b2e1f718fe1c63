"""Impact figures, stories, outgoings and updates: recorded by admins and treasurers through the
forms, shown on the campaign page (escaped), and an update emailed once to each live pledger who
asked for the campaign's news."""

from __future__ import annotations

import re
from datetime import date

from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import links
from app.extensions import db
from app.models import (
    AuditEntry,
    CampaignUpdate,
    EmailMessage,
    EmailStatus,
    ImpactEntry,
    ImpactMetric,
    ImpactStory,
    Outgoing,
    Pledge,
    PledgeStatus,
    Role,
    UpdateEmailing,
)
from app.reporting import impact
from tests.factories import PASSWORD, CampaignFactory, ImpactEntryFactory, UserFactory, make_pledge
from tests.helpers import PageClient, csrf_token, sign_in


def _signed_in(client: FlaskClient, role: Role) -> PageClient:
    user = UserFactory(role=role)
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    return PageClient(client)


def _post(page: PageClient, url: str, form: dict[str, object]) -> None:
    """Post a form that succeeds, then see the page it leads to (which shows its message)."""
    response = page.post(url, form)
    page.get(response.location)


def _count(model: type) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_treasurer_records_figures_a_story_and_an_outgoing_and_the_campaign_page_shows_them(
    client: FlaskClient,
) -> None:
    campaign = CampaignFactory(slug="pipeline")
    page = _signed_in(client, Role.TREASURER)
    base = "/admin/campaigns/pipeline"
    token = csrf_token(client, f"{base}/impact/figures/new")

    _post(
        page,
        f"{base}/impact/figures/new",
        {"csrf_token": token, "metric": "events_run", "value": "4", "recorded_on": ["30", "6", "2027"]},
    )
    _post(
        page,
        f"{base}/impact/figures/new",
        {"csrf_token": token, "metric": "events_run", "value": "2", "recorded_on": ["31", "7", "2027"]},
    )
    _post(
        page,
        f"{base}/impact/figures/new",
        {"csrf_token": token, "metric": "members", "value": "120", "recorded_on": ["30", "6", "2027"]},
    )
    _post(
        page,
        f"{base}/impact/figures/new",
        {"csrf_token": token, "metric": "members", "value": "150", "recorded_on": ["31", "7", "2027"]},
    )
    _post(
        page,
        f"{base}/impact/stories/new",
        {
            "csrf_token": token,
            "title": "Six councils <b>share</b> forms",
            "text": "They met in Leeds.\r\n\r\n<script>alert(1)</script> & more",
            "link": "https://pipeline.example/story",
            "published_on": ["1", "8", "2027"],
        },
    )
    _post(
        page,
        f"{base}/outgoings/new",
        {
            "csrf_token": token,
            "category": "salary",
            "amount": "3,950.50",
            "description": "Salary, April",
            "spent_on": ["30", "4", "2027"],
        },
    )

    assert _count(ImpactEntry) == 4 and _count(ImpactStory) == 1 and _count(Outgoing) == 1
    outgoing = db.session.scalars(select(Outgoing)).one()
    assert outgoing.amount_pence == 395050 and outgoing.campaign_id == campaign.id
    assert _count(AuditEntry) == 6

    html = PageClient(client).get("/campaigns/pipeline").get_data(as_text=True)
    assert 'data-figure="impact-events_run">6<' in html  # added up
    assert 'data-figure="impact-members">150<' in html  # the latest head count, not a sum
    assert "Six councils &lt;b&gt;share&lt;/b&gt; forms" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html and "<script>alert(1)" not in html
    assert '<p class="govuk-body">They met in Leeds.</p>' in html  # paragraphs kept
    assert 'href="https://pipeline.example/story"' in html


def test_bad_input_is_refused_and_nothing_is_written(client: FlaskClient) -> None:
    CampaignFactory(slug="pipeline")
    page = _signed_in(client, Role.ADMIN)
    base = "/admin/campaigns/pipeline"
    token = csrf_token(client, f"{base}/impact/figures/new")
    day = ["30", "6", "2027"]
    bad = [
        ("impact/figures/new", {"metric": "events_run", "value": "-1", "recorded_on": day}, "Enter a whole number"),
        ("impact/figures/new", {"metric": "bribes", "value": "1", "recorded_on": day}, "Choose what the figure"),
        (
            "impact/figures/new",
            {"metric": "events_run", "value": "1", "recorded_on": ["31", "2", "2027"]},
            "like 30 6 2027",
        ),
        ("impact/figures/new", {"metric": "events_run", "value": "1"}, "like 30 6 2027"),
        (
            "impact/stories/new",
            {"title": "T", "text": "x", "link": "javascript:alert(1)", "published_on": day},
            "https://",
        ),
        (
            "impact/stories/new",
            {"title": "T", "text": "x", "link": "file:///etc/passwd", "published_on": day},
            "https://",
        ),
        ("impact/stories/new", {"title": "", "text": "x", "published_on": day}, "Enter a title"),
        ("outgoings/new", {"category": "salary", "amount": "0", "description": "x", "spent_on": day}, "more than zero"),
        ("outgoings/new", {"category": "salary", "amount": "-5", "description": "x", "spent_on": day}, ""),
        (
            "outgoings/new",
            {"category": "yachts", "amount": "5", "description": "x", "spent_on": day},
            "Choose a category",
        ),
        ("outgoings/new", {"category": "salary", "amount": "5" * 30, "description": "x", "spent_on": day}, ""),
        ("updates/new", {"title": "", "body": ""}, "Enter a title"),
    ]
    for path, form, message in bad:
        response = page.post(f"{base}/{path}", {"csrf_token": token, **form}, status=400)
        assert message in response.get_data(as_text=True), (path, form)
    assert _count(ImpactEntry) == _count(ImpactStory) == _count(Outgoing) == _count(CampaignUpdate) == 0


def test_an_update_is_emailed_once_to_each_live_pledger_who_asked_however_often_it_is_sent(
    client: FlaskClient,
) -> None:
    campaign = CampaignFactory(slug="pipeline", title="Pipeline")
    make_pledge(campaign, email="ada@example.org", name="Ada", wants_updates=True)
    make_pledge(campaign, email="ADA@example.org", name="Ada again")  # one address, one email
    make_pledge(
        campaign,
        email="bob@example.org",
        name="Bob",
        status=PledgeStatus.FULFILLED,
        paid_instalments=1,
        wants_updates=True,
    )
    make_pledge(campaign, email="quiet@example.org", name="Quiet")  # live, but did not ask
    make_pledge(campaign, email="pending@example.org", status=PledgeStatus.PENDING, wants_updates=True)
    make_pledge(campaign, email="gone@example.org", status=PledgeStatus.CANCELLED, wants_updates=True)
    make_pledge(CampaignFactory(), email="elsewhere@example.org", wants_updates=True)
    page = _signed_in(client, Role.ADMIN)
    token = csrf_token(client, "/admin/campaigns/pipeline/updates/new")

    _post(
        page,
        "/admin/campaigns/pipeline/updates/new",
        {"csrf_token": token, "title": "Our first event", "body": "Forty people came.\n\nThank you."},
    )
    update = db.session.scalars(select(CampaignUpdate)).one()
    assert "Our first event" in PageClient(client).get("/campaigns/pipeline").get_data(as_text=True)
    confirm = page.get(f"/admin/updates/{update.id}/email").get_data(as_text=True)
    # The admin sees how many agreed to hear, out of everyone with a live pledge.
    assert 'data-figure="pledgers">3<' in confirm and 'data-figure="agreed">2<' in confirm
    assert "The other 1 pledger did not, so they will not get it." in confirm
    for _ in range(3):
        _post(page, f"/admin/updates/{update.id}/email", {"csrf_token": token})

    messages = db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "update")).all()
    assert sorted(m.to_address for m in messages) == ["ada@example.org", "bob@example.org"]
    assert all("Forty people came." in m.body and m.subject == "Pipeline: Our first event" for m in messages)
    # Each email carries its own address's link to stop them.
    for message in messages:
        stop = re.search(r"To stop these emails, use this link: (\S+)", message.body)
        assert stop, message.body
        named = links.stop_updates_from(stop[1].rsplit("/", 1)[1])
        assert named is not None and named.pledge_id is not None
        assert db.session.get_one(Pledge, named.pledge_id).email == message.to_address
    emailing = db.session.scalars(select(UpdateEmailing)).one()
    assert emailing.recipient_count == 2
    assert {m.status for m in messages} == {EmailStatus.SENT}  # delivered after the commit
    # The service refuses a second time too, whoever calls it.
    assert impact.email_update(update, None) is None
    assert db.session.scalar(select(func.count()).select_from(EmailMessage)) == 2


def test_an_update_nobody_asked_for_is_not_sent_and_can_be_sent_once_someone_does(client: FlaskClient) -> None:
    campaign = CampaignFactory(slug="pipeline", title="Pipeline")
    make_pledge(campaign, email="quiet@example.org")
    update = impact.publish_update(campaign, "Nothing yet", "Still waiting.", None)
    db.session.commit()
    page = _signed_in(client, Role.ADMIN)
    html = page.get(f"/admin/updates/{update.id}/email").get_data(as_text=True)
    assert "Nobody with a live pledge has agreed" in html and 'action="/admin/updates/' not in html
    token = csrf_token(client, "/admin/campaigns/pipeline/updates/new")
    response = page.post(f"/admin/updates/{update.id}/email", {"csrf_token": token})
    assert "Nothing was sent" in page.get(response.location).get_data(as_text=True)
    assert impact.emailing_of(update) is None  # its one emailing is not spent on nobody

    make_pledge(campaign, email="keen@example.org", wants_updates=True)
    _post(page, f"/admin/updates/{update.id}/email", {"csrf_token": token})
    assert [m.to_address for m in db.session.scalars(select(EmailMessage))] == ["keen@example.org"]


def test_a_treasurer_cannot_publish_or_email_updates(client: FlaskClient) -> None:
    CampaignFactory(slug="pipeline")
    page = _signed_in(client, Role.TREASURER)
    page.get("/admin/campaigns/pipeline/updates/new", status=403)
    html = page.get("/admin/campaigns/pipeline/impact").get_data(as_text=True)
    assert "Publish an update" not in html


def test_members_is_the_latest_count_and_the_rest_add_up_within_a_period() -> None:
    campaign = CampaignFactory()
    ImpactEntryFactory(campaign=campaign, metric=ImpactMetric.COUNCILS_ENGAGED, value=5, recorded_on=date(2027, 3, 31))
    ImpactEntryFactory(campaign=campaign, metric=ImpactMetric.COUNCILS_ENGAGED, value=7)
    ImpactEntryFactory(campaign=campaign, metric=ImpactMetric.MEMBERS, value=90)

    totals = {t.metric: t.value for t in impact.metric_totals(campaign, date(2027, 4, 1), date(2028, 3, 31))}
    assert totals == {ImpactMetric.COUNCILS_ENGAGED: 7, ImpactMetric.MEMBERS: 90}
    everything = {t.metric: t.value for t in impact.metric_totals(campaign)}
    assert everything[ImpactMetric.COUNCILS_ENGAGED] == 12
