"""People's rights: the privacy notice, their data to download, and erasure that keeps the money's records."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import audit
from app.extensions import db
from app.models import AuditEntry, EmailMessage, Pledge, Role
from app.privacy import personal_data
from tests.factories import PASSWORD, CampaignFactory, UserFactory, make_pledge
from tests.helpers import sign_in
from tests.treasurer.conftest import Ledger


def _everything_stored() -> str:
    """Every row of every table, as text: where a name or address could still be written."""
    return "\n".join(
        repr(tuple(row)) for table in db.metadata.sorted_tables for row in db.session.execute(select(table)).all()
    )


def _email(pledge: Pledge, to: str, subject: str, body: str) -> EmailMessage:
    return EmailMessage(kind="pledge_confirmation", to_address=to, subject=subject, body=body, pledge_id=pledge.id)


def _figures(client: FlaskClient, slug: str) -> tuple[int, int, int, int]:
    api = client.get(f"/api/v1/campaigns/{slug}").get_json()
    totals = client.get(f"/campaigns/{slug}/ledger.json").get_json()["totals"]
    return api["pledged_pence"], api["collected_pence"], totals["pledged_pence"], totals["collected_pence"]


def test_the_privacy_notice_names_the_operator_and_every_page_links_to_it(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "OPERATOR_NAME": "Example Trust",
        "PRIVACY_EMAIL": "dpo@trust.example",
        "ICO_REGISTRATION": "ZA123456",
    }.items():
        monkeypatch.setitem(app.config, name, value)
    html = client.get("/privacy").get_data(as_text=True)
    assert "Example Trust runs Pledgeline" in html and "dpo@trust.example" in html and "ZA123456" in html
    for url in ("/campaigns", "/account/sign-in", "/terms", "/contact"):
        page = client.get(url).get_data(as_text=True)
        assert all(f'href="/{name}"' in page for name in ("privacy", "terms", "contact")), url


def test_a_person_downloads_everything_held_about_them_and_nothing_about_anyone_else(client: FlaskClient) -> None:
    user = UserFactory(email="ada@example.org", name="Ada Pledger", role=Role.PLEDGER)
    db.session.commit()
    campaign = CampaignFactory(title="Shared lead")
    mine = make_pledge(campaign, pounds="30", name="Ada Pledger", email="ada@example.org", message="Good luck")
    make_pledge(campaign, pounds="99", name="Someone Else", email="else@example.org")
    db.session.add(_email(mine, "ada@example.org", "Thank you for your pledge", "Dear Ada Pledger"))
    db.session.commit()
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    response = client.get("/account/my-data.json")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == "ada@example.org"
    assert [(p["reference"], p["amount_pence"], p["message"]) for p in data["pledges"]] == [
        (f"PL-{mine.id:06d}", 3000, "Good luck")
    ]
    assert [m["subject"] for m in data["emails_sent_to_you"]] == ["Thank you for your pledge"]
    assert "Someone Else" not in response.get_data(as_text=True)
    assert 'href="/account/my-data.json"' in client.get("/account/").get_data(as_text=True)


def test_erasure_removes_the_person_everywhere_and_leaves_every_figure_unchanged(
    client: FlaskClient, ledger: Ledger
) -> None:
    slug = ledger.campaign.slug
    bea = db.session.scalars(select(Pledge).where(Pledge.email == "bea@example.org")).one()
    db.session.add(_email(bea, "bea@example.org", "Your bank transfer arrived", "Dear Bea Bank"))
    db.session.commit()
    before = _figures(client, slug)
    before_lines = client.get(f"/campaigns/{slug}/ledger.json").get_json()["totals"]["line_count"]
    assert "Bea Bank" in _everything_stored() and "bea@example.org" in _everything_stored()

    report = personal_data.erase("bea@example.org")
    db.session.commit()

    assert report.pledges == 1 and report.emails == 1
    stored = _everything_stored()
    assert "Bea Bank" not in stored and "bea@example.org" not in stored
    # The money is all still there: the same totals in the API and the ledger, the same lines.
    assert _figures(client, slug) == before
    assert client.get(f"/campaigns/{slug}/ledger.json").get_json()["totals"]["line_count"] == before_lines
    # And the erasure is on the record, without saying who it was.
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "personal_data.erased")).one()
    assert "bea" not in entry.summary.lower() and entry.detail["pledges"] == [bea.id]


def test_an_erased_account_can_no_longer_sign_in_and_what_it_did_stays_on_record(
    client: FlaskClient, ledger: Ledger, runner
) -> None:  # type: ignore[no-untyped-def]
    user = UserFactory(email="nora@north.example", name="Nora Northcott", organisation=ledger.councils[0])

    audit.record("test.note", actor=user, summary="Changed the billing address")
    db.session.commit()

    result = runner.invoke(args=["personal-data", "erase", "--email", "nora@north.example", "--yes"])
    assert result.exit_code == 0, result.output
    assert "1 account" in result.output
    db.session.expire_all()
    assert "Nora Northcott" not in _everything_stored()
    assert sign_in(client, "nora@north.example", PASSWORD).status_code != 302
    # What the account did stays in the audit log, by account number only.
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.actor_id == user.id)).first() is not None
