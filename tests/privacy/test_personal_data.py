"""People's rights: the privacy notice, their data to download, and erasure that keeps the money's records."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import audit
from app.extensions import db
from app.models import AuditEntry, EmailMessage, Pledge, Role, User
from app.privacy import personal_data
from tests.factories import PASSWORD, CampaignFactory, UserFactory, make_pledge
from tests.helpers import csrf_token, sign_in
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


def _exports(app: Flask, slug: str) -> str:
    """Every CSV export a treasurer can download for the campaign, as one text."""
    treasurer = app.test_client()
    if not db.session.scalar(select(User).where(User.email == "tessa@example.org")):
        UserFactory(email="tessa@example.org", name="Tessa Treasurer", role=Role.TREASURER)
        db.session.commit()
    assert sign_in(treasurer, "tessa@example.org", PASSWORD).status_code == 302
    texts = []
    for kind in ("pledges", "payments", "invoices"):
        response = treasurer.get(f"/treasurer/campaigns/{slug}/export", query_string={"kind": kind})
        assert response.status_code == 200 and response.mimetype == "text/csv"
        texts.append(response.get_data(as_text=True))
    return "\n".join(texts)


def test_erasure_removes_the_person_everywhere_and_leaves_every_figure_unchanged(
    app: Flask, client: FlaskClient, ledger: Ledger
) -> None:
    slug = ledger.campaign.slug
    assert "Bea Bank" in _exports(app, slug) and "bea@example.org" in _exports(app, slug)
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
    exported = _exports(app, slug)
    assert "Bea Bank" not in exported and "bea@example.org" not in exported
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


def test_a_person_erases_their_own_data_and_is_signed_out(client: FlaskClient, ledger: Ledger) -> None:
    colin = db.session.scalars(select(Pledge).where(Pledge.email == "colin@example.org")).one()
    UserFactory(email="colin@example.org", name="Colin Committed")
    db.session.commit()
    before = _figures(client, ledger.campaign.slug)
    assert sign_in(client, "colin@example.org", PASSWORD).status_code == 302
    assert 'href="/account/erase"' in client.get("/account/").get_data(as_text=True)

    # Without ticking the box, nothing happens.
    token = csrf_token(client, "/account/erase")
    refused = client.post("/account/erase", data={"csrf_token": token})
    assert refused.status_code == 400 and "Confirm that you understand" in refused.get_data(as_text=True)
    assert db.session.get_one(Pledge, colin.id).email == "colin@example.org"

    done = client.post("/account/erase", data={"csrf_token": token, "confirm": "y"})
    assert done.status_code == 302 and done.location.endswith("/erased")
    db.session.expire_all()
    assert "Colin Committed" not in _everything_stored() and "colin@example.org" not in _everything_stored()
    assert client.get("/account/").status_code == 302  # signed out
    assert _figures(client, ledger.campaign.slug) == before


def test_staff_accounts_are_not_erased_by_themselves(client: FlaskClient) -> None:
    UserFactory(email="tess@example.org", name="Tess Treasurer", role=Role.TREASURER)
    db.session.commit()
    assert sign_in(client, "tess@example.org", PASSWORD).status_code == 302
    assert "<form" not in client.get("/account/erase").get_data(as_text=True).split('id="main-content"')[1]
    token = csrf_token(client, "/account/")
    response = client.post("/account/erase", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code == 400 and "erased by another admin" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "tess@example.org")) is not None


def test_retention_pseudonymises_campaigns_six_years_after_their_financial_year(client: FlaskClient, runner) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    old = CampaignFactory(slug="old-campaign", funding_starts_on=date(2018, 4, 1), funding_ends_on=date(2019, 3, 31))
    recent = CampaignFactory(slug="recent", funding_starts_on=date(2020, 4, 1), funding_ends_on=date(2021, 3, 31))
    make_pledge(old, pounds="20", paid_instalments=1, name="Olive Old", email="olive@example.org")
    make_pledge(recent, pounds="20", paid_instalments=1, name="Rhys Recent", email="rhys@example.org")
    db.session.commit()
    # 2019-03-31 ends the financial year 2018-19: kept to 31 March 2025. 2021-03-31: to 31 March 2027.
    assert personal_data.retention_ends(date(2019, 3, 31)) == date(2025, 3, 31)
    assert personal_data.retention_ends(date(2019, 4, 1)) == date(2026, 3, 31)
    before = _figures(client, "old-campaign")

    for _ in range(2):  # a second run finds nothing left to do
        result = runner.invoke(args=["personal-data", "retention"])
        assert result.exit_code == 0, result.output
    db.session.expire_all()
    stored = _everything_stored()
    assert "Olive Old" not in stored and "olive@example.org" not in stored
    assert "Rhys Recent" in stored and "rhys@example.org" in stored
    assert _figures(client, "old-campaign") == before
    assert db.session.scalar(select(func.count()).where(AuditEntry.action == "personal_data.retention")) == 1
