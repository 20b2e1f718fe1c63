"""Campaign update emails go only to pledgers who asked: the choice on both pledge forms (unticked
unless they tick it), the link in every update email that stops them, and the pledger's own page."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from app import links
from app.extensions import db
from app.models import AuditEntry, Pledge, PledgeStatus
from app.reporting import impact
from tests.factories import PASSWORD, CampaignFactory, OrganisationFactory, UserFactory, make_pledge
from tests.helpers import PageClient, sign_in

CHOICE = "Email me the campaign’s news and updates (about once a month)"


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]+)"', html)
    assert match, f"no {name} on the page"
    return match[1]


def _checkbox(html: str) -> str:
    match = re.search(r'<input[^>]*name="wants_updates"[^>]*>', html)
    assert match, "no wants_updates checkbox"
    return match[0]


def _individual(client: FlaskClient, slug: str, **extra: str) -> Pledge:
    html = client.get(f"/campaigns/{slug}/pledge").get_data(as_text=True)
    data = {
        "csrf_token": _hidden(html, "csrf_token"),
        "submission_token": _hidden(html, "submission_token"),
        "amount": "25",
        "frequency": "one_off",
        "conditional": "yes",
        "name": "Pat Pledger",
        "email": "Pat@Example.org",
        "visibility": "public",
        "consent": "y",
        **extra,
    }
    assert client.post(f"/campaigns/{slug}/pledge", data=data).status_code == 302
    return db.session.scalars(select(Pledge).order_by(Pledge.id.desc())).first()  # type: ignore[return-value]


def test_the_individual_form_asks_plainly_unticked_and_stores_the_answer(page: PageClient) -> None:
    campaign = CampaignFactory()
    html = page.get(f"/campaigns/{campaign.slug}/pledge").get_data(as_text=True)
    assert CHOICE in html and "Receipts and reminders about your pledge are sent whatever you choose" in html
    assert "checked" not in _checkbox(html)

    assert _individual(page.client, campaign.slug).wants_updates is False
    assert _individual(page.client, campaign.slug, wants_updates="y").wants_updates is True


def test_the_council_form_asks_too_and_stores_the_answer(client: FlaskClient) -> None:
    campaign = CampaignFactory(min_councils=3)
    council = OrganisationFactory(name="Borsetshire County Council")
    contact = UserFactory(email="jo@borsetshire.example", organisation=council)
    assert sign_in(client, contact.email, PASSWORD).status_code == 302
    url = f"/campaigns/{campaign.slug}/pledge/council"
    html = PageClient(client).get(url).get_data(as_text=True)
    assert CHOICE in html and "We would send them to you, at jo@borsetshire.example" in html
    assert "checked" not in _checkbox(html)

    made = []
    for extra in ({}, {"wants_updates": "y"}):
        html = client.get(url).get_data(as_text=True)
        data = {
            "csrf_token": _hidden(html, "csrf_token"),
            "submission_token": _hidden(html, "submission_token"),
            "council": str(council.id),
            "amount": "2500",
            "years": "1",
            "conditional": "yes",
            "po_number": "PO-1",
            "billing_contact": "Sam Payables",
            "billing_email": "ap@borsetshire.example",
            "billing_address": "County Hall",
            "visibility": "public",
            **extra,
        }
        assert client.post(url, data=data).status_code == 302
        made.append(db.session.scalars(select(Pledge).order_by(Pledge.id.desc())).first())
    assert [p.wants_updates for p in made if p] == [False, True]


def test_the_link_in_an_update_email_stops_them_for_every_pledge_of_that_address_there(page: PageClient) -> None:
    campaign = CampaignFactory(title="Pipeline")
    first = make_pledge(campaign, email="ada@example.org", wants_updates=True)
    second = make_pledge(campaign, email="ada@example.org", wants_updates=True, pounds="40")
    other = make_pledge(campaign, email="bob@example.org", wants_updates=True)
    elsewhere = make_pledge(CampaignFactory(), email="ada@example.org", wants_updates=True)
    token = links.stop_updates_token(second.id)  # names one pledge; it stops the whole address's
    url = f"/stop-updates/{token}"

    html = page.get(url).get_data(as_text=True)
    assert "Stop emails about this campaign’s news" in html and "ada@example.org" in html
    assert "we will still send receipts and reminders" in html
    # Nothing changes on a GET (a mail scanner following the link stops nothing).
    assert first.wants_updates and second.wants_updates

    page.client.post(url, data={"wants_updates": "no"})  # no CSRF token: refused
    db.session.expire_all()
    assert first.wants_updates

    response = page.post(url, {"csrf_token": _hidden(html, "csrf_token"), "wants_updates": "no"})
    done = page.get(response.location).get_data(as_text=True)
    assert "You will not get any more update emails about Pipeline" in done
    assert "Email me the updates again" in done
    db.session.expire_all()
    assert (first.wants_updates, second.wants_updates, other.wants_updates, elsewhere.wants_updates) == (
        False,
        False,
        True,
        True,
    )
    assert impact.update_recipients(campaign) == [("bob@example.org", "Pat Pledger", other.id)]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "pledge.updates_stopped")).one()
    assert entry.detail["pledges"] == [first.reference, second.reference]

    # And back again, from the same page.
    page.post(url, {"csrf_token": _hidden(done, "csrf_token"), "wants_updates": "yes"})
    db.session.expire_all()
    assert first.wants_updates and second.wants_updates


def test_an_altered_or_made_up_stop_link_is_not_found(page: PageClient) -> None:
    campaign = CampaignFactory()
    pledge = make_pledge(campaign, email="ada@example.org", wants_updates=True)
    token = links.stop_updates_token(pledge.id)
    forged = links.stop_updates_token(pledge.id + 1)  # genuine, but no such pledge
    for bad in (token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"), "x" + token, forged, "nonsense"):
        page.get(f"/stop-updates/{bad}", status=404)
    assert links.stop_updates_from(token) == links.StopUpdates(pledge_id=pledge.id)
    assert "ada" not in token, "the link carries no address"


def test_a_stop_link_from_an_email_sent_before_links_named_pledges_still_works(page: PageClient) -> None:
    """Update emails already in inboxes named the campaign and the address; they must keep working."""
    from itsdangerous import URLSafeSerializer

    campaign = CampaignFactory(title="Pipeline")
    pledge = make_pledge(campaign, email="ada@example.org", wants_updates=True)
    old = URLSafeSerializer(page.client.application.config["SECRET_KEY"], salt="pledgeline.stop-updates").dumps(
        [campaign.id, "ada@example.org"]
    )
    html = page.get(f"/stop-updates/{old}").get_data(as_text=True)
    page.post(f"/stop-updates/{old}", {"csrf_token": _hidden(html, "csrf_token"), "wants_updates": "no"})
    db.session.expire_all()
    assert not pledge.wants_updates


def test_the_pledgers_own_pages_show_the_choice_and_change_it(page: PageClient) -> None:
    campaign = CampaignFactory(title="Pipeline")
    pledge = make_pledge(campaign, email="ada@example.org")
    make_pledge(campaign, email="ada@example.org", status=PledgeStatus.CANCELLED)

    confirmation = page.get(f"/pledges/{links.pledge_token(pledge.id)}").get_data(as_text=True)
    assert re.search(r"Campaign news by email\s*</dt>\s*<dd[^>]*>\s*No\s*</dd>", confirmation)
    # The choice for the whole address is changed from the emailed link, never from this page.
    assert "#campaign-news" not in confirmation and "/my-pledges/" not in confirmation.replace('"/my-pledges"', "")

    token = links.my_pledges_token(pledge.id)
    mine = page.get(f"/my-pledges/{token}").get_data(as_text=True)
    assert "You do not get its news and updates by email" in mine
    assert mine.count(f'/campaigns/{campaign.slug}/updates"') == 1
    response = page.post(
        f"/my-pledges/{token}/campaigns/{campaign.slug}/updates",
        {"csrf_token": _hidden(mine, "csrf_token"), "wants_updates": "yes"},
    )
    assert response.location.endswith("#campaign-news")
    mine = page.get(response.location).get_data(as_text=True)
    assert "We will email you Pipeline’s news and updates at ada@example.org" in mine
    assert "You get its news and updates by email" in mine
    db.session.expire_all()
    assert pledge.wants_updates

    # Only for a campaign the address has pledged to, and only with the pledger's link.
    stranger = CampaignFactory(slug="stranger")
    page.post(
        f"/my-pledges/{token}/campaigns/{stranger.slug}/updates",
        {"csrf_token": _hidden(mine, "csrf_token"), "wants_updates": "yes"},
        status=404,
    )
    page.post(
        f"/my-pledges/not-a-token/campaigns/{campaign.slug}/updates",
        {"csrf_token": _hidden(mine, "csrf_token"), "wants_updates": "no"},
        status=404,
    )
