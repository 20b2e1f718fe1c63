"""The 360Giving package: valid against the real schema, and each grant is money an organisation paid."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from app import demo
from app.campaigns import listing
from app.extensions import db
from app.invoicing import invoices
from app.models import InvoiceKind, Organisation, Payment, Pledge
from app.money import Money
from app.opendata import giving
from app.payments import settle
from app.treasury.dashboard import london_today
from tests.factories import CampaignFactory, OrganisationFactory, make_council_pledge, make_pledge
from tests.opendata import schema
from tests.treasurer.conftest import Ledger


def _package(client: FlaskClient, slug: str | None = None) -> dict:  # type: ignore[type-arg]
    response = client.get("/open-data/360giving.json", query_string={"campaign": slug} if slug else {})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert schema.errors(data) == []
    return data  # type: ignore[no-any-return]


def _pay_in_full(pledge: Pledge, reference: str) -> None:
    invoice = invoices.live_invoice(pledge.instalments[0].id, InvoiceKind.INVOICE)
    assert invoice is not None
    invoices.record_bank_transfer(invoice, Money(pledge.instalments[0].amount_pence), london_today(), reference, None)
    db.session.commit()


def test_each_grant_is_what_the_organisation_paid_net_of_refunds(client: FlaskClient, ledger: Ledger) -> None:
    data = _package(client, ledger.campaign.slug)
    by_funder = {g["fundingOrganization"][0]["name"]: g for g in data["grants"]}
    # North paid £1,000 and £500 on two invoices; South paid its £2,000 invoice. East and West
    # pledged but have paid nothing, and the sponsor's pledge is unpaid: a promise is not a grant.
    assert {name: g["amountAwarded"] for name, g in by_funder.items()} == {
        "North Shire Council": 1500,
        "South Shire Council": 2000,
    }
    assert all(g["currency"] == "GBP" and g["recipientOrganization"][0]["name"] for g in data["grants"])
    assert len({g["id"] for g in data["grants"]}) == len(data["grants"])
    # Individuals are never in the package: not their names, not their addresses.
    body = json.dumps(data)
    assert "Colin Committed" not in body and "Rory Refund" not in body and "@" not in body
    # The same grants keep the same ids when the file is published again.
    assert [g["id"] for g in _package(client, ledger.campaign.slug)["grants"]] == [g["id"] for g in data["grants"]]


def test_a_council_on_the_register_carries_360givings_identifier_and_its_area(client: FlaskClient) -> None:
    campaign = CampaignFactory(title="Shared standards lead", slug="shared-standards")
    adur = OrganisationFactory(
        name="Adur District Council",
        short_name="Adur",
        register_code="ADU",
        nation="England",
        gss_code="E07000223",
    )
    _pay_in_full(
        make_council_pledge(campaign, council=adur, pounds="2500.50", conditional=False, po_number="PO-ADUR"), "ADUR 1"
    )
    unlisted = OrganisationFactory(name="Testshire Council")
    _pay_in_full(
        make_council_pledge(campaign, council=unlisted, pounds="700", conditional=False, po_number="PO-TEST"), "TEST 1"
    )
    # A council whose payment was all given back granted nothing.
    refunded = OrganisationFactory(name="Changed Its Mind Council")
    given_back = make_council_pledge(campaign, council=refunded, pounds="300", conditional=False, po_number="PO-BACK")
    _pay_in_full(given_back, "BACK 1")
    settle.record_refund(
        db.session.scalars(db.select(Payment).where(Payment.pledge_id == given_back.id)).one(), Money.parse("300")
    )
    db.session.commit()
    make_pledge(campaign, pounds="40", paid_instalments=1, name="Ivy Individual")

    data = _package(client, campaign.slug)
    grants = {g["fundingOrganization"][0]["name"]: g for g in data["grants"]}
    assert set(grants) == {"Adur District Council", "Testshire Council"}
    assert grants["Adur District Council"]["fundingOrganization"][0]["id"] == "GB-LAE-ADU"
    assert grants["Adur District Council"]["amountAwarded"] == 2500.5
    assert grants["Adur District Council"]["beneficiaryLocation"] == [
        {"name": "Adur", "countryCode": "GB", "geoCode": "E07000223", "geoCodeType": "NMD"}
    ]
    # A council not on the register is named by an identifier of our own, and has no area.
    assert grants["Testshire Council"]["fundingOrganization"][0]["id"].endswith(f"-org-{unlisted.slug}")
    assert grants["Testshire Council"]["beneficiaryLocation"] == []


def test_every_public_campaign_is_in_the_site_wide_file(client: FlaskClient, ledger: Ledger) -> None:
    other = CampaignFactory(title="Second campaign", slug="second-campaign")
    _pay_in_full(
        make_council_pledge(other, council=ledger.councils[2], pounds="400", conditional=False, po_number="PO-2"),
        "EAST 2",
    )
    data = _package(client)
    programmes = sorted({g["grantProgramme"][0]["code"] for g in data["grants"]})
    assert programmes == ["second-campaign", "shared-digital-lead"]
    assert len(data["grants"]) == 3


def test_a_campaign_with_no_organisation_payments_has_nothing_to_publish(client: FlaskClient) -> None:
    campaign = CampaignFactory(slug="only-people")
    make_pledge(campaign, pounds="40", paid_instalments=1, name="Ivy Individual")
    response = client.get("/open-data/360giving.json?campaign=only-people")
    assert response.status_code == 404
    assert "nothing to publish" in response.get_data(as_text=True)
    # So the transparency page offers the ledger but no 360Giving file to follow to a dead end.
    page = client.get("/campaigns/only-people/transparency").get_data(as_text=True)
    assert 'href="/campaigns/only-people/ledger.csv"' in page and "360giving.json" not in page


def test_the_transparency_page_links_to_every_open_data_file(client: FlaskClient, ledger: Ledger) -> None:
    slug = ledger.campaign.slug
    page = client.get(f"/campaigns/{slug}/transparency").get_data(as_text=True)
    for href in (
        f"/campaigns/{slug}/ledger.csv",
        f"/campaigns/{slug}/ledger.json",
        f"/open-data/360giving.json?campaign={slug}",
    ):
        assert f'href="{href}"' in page
        assert client.get(href).status_code == 200


def test_a_demo_council_paying_is_published_under_its_register_identifier(runner, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    for command in (["councils", "import"], ["seed-demo"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    db.session.expire_all()
    # Every council in the demo has pledged on condition, so nothing has been paid yet.
    assert client.get("/open-data/360giving.json").status_code == 404
    campaign = listing.public_campaigns()[0]
    council = db.session.scalars(
        db.select(Organisation)
        .where(Organisation.name.in_([row[0] for row in demo.COUNCILS]), Organisation.nation == "England")
        .order_by(Organisation.name)
    ).first()
    assert council is not None and council.register_code, "the register import should match the demo's councils"
    _pay_in_full(make_council_pledge(campaign, council=council, pounds="1000", conditional=False), "DEMO PAID")

    (grant,) = _package(client)["grants"]
    assert grant["fundingOrganization"] == [{"id": f"GB-LAE-{council.register_code}", "name": council.name}]
    assert grant["beneficiaryLocation"][0]["geoCode"] == council.gss_code


def test_the_command_writes_a_valid_file_and_refuses_an_unknown_campaign(
    runner, ledger: Ledger, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "grants.json"
    result = runner.invoke(args=["export", "360giving", "--campaign", ledger.campaign.slug, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 grants" in result.output
    assert schema.errors(json.loads(out.read_text(encoding="utf-8"))) == []

    missing = tmp_path / "missing.json"
    result = runner.invoke(args=["export", "360giving", "--campaign", "no-such-campaign", "--out", str(missing)])
    assert result.exit_code != 0 and "No campaign with slug 'no-such-campaign'" in result.output
    assert not missing.exists()


def test_two_writes_at_once_leave_one_whole_file_and_no_leftovers(app: Flask, ledger: Ledger, tmp_path: Path) -> None:
    small = giving.package([ledger.campaign])
    large = {**small, "grants": small["grants"] * 400}
    out = tmp_path / "grants.json"
    failures: list[BaseException] = []

    def write_many(data: dict) -> None:  # type: ignore[type-arg]
        try:
            for _ in range(20):
                giving.write(data, out)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=write_many, args=(data,)) for data in (small, large)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written in (small, large)
    assert [p.name for p in tmp_path.iterdir()] == ["grants.json"]
