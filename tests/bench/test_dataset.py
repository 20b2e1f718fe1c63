"""The benchmark's datasets: the counts asked for, a realistic mix, and totals that agree with the ledger."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.ledger import totals
from app.models import Campaign, Invoice, Payment, PaymentStatus, Pledge, PledgerKind
from bench import dataset
from tests.factories import CampaignFactory, make_pledge


def test_a_small_dataset_has_every_pledge_and_agrees_with_its_ledger() -> None:
    info = dataset.load(500)

    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == dataset.CAMPAIGN_SLUG))
    assert info.pledges == 500
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 500
    assert db.session.scalar(select(func.count()).select_from(Payment)) == info.payments > 0
    assert totals.verify() == []
    assert totals.stored(campaign) == totals.from_ledger(campaign.id)
    assert campaign.pledge_count > 0 and campaign.collected_pence > 0 and campaign.matched_pence > 0


def test_a_dataset_mixes_kinds_statuses_frequencies_and_methods() -> None:
    info = dataset.load(500)

    def distinct(column) -> set:  # type: ignore[no-untyped-def]
        return set(db.session.scalars(select(column).distinct()))

    assert {"committed", "active", "fulfilled", "pending", "cancelled"} <= set(info.by_status)
    assert sum(info.by_status.values()) == 500
    assert distinct(Pledge.pledger_kind) == set(PledgerKind)
    assert {f.value for f in distinct(Pledge.frequency)} == {"one_off", "monthly", "annually"}
    assert {m.value for m in distinct(Pledge.method)} == {"card", "invoice", "bank_transfer"}
    assert distinct(Pledge.is_conditional) == {True, False}
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == info.invoices > 0
    refunded = select(func.count()).where(Payment.status == PaymentStatus.SUCCEEDED, Payment.refunded_pence > 0)
    assert db.session.scalar(refunded) > 0
    days = db.session.scalars(select(func.date(Pledge.created_at)).distinct()).all()
    assert len(days) >= dataset.DAYS - 1  # spread over the 60 days before it was built


def test_a_dataset_loads_beside_pledges_already_there() -> None:
    """Ids continue after the rows a database already holds, and both campaigns stay true."""
    make_pledge(CampaignFactory(), pounds="40")

    dataset.load(200)

    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 201
    assert totals.verify() == []


def test_the_datasets_treasurer_can_be_signed_in_with_a_cookie_for_the_http_runs(app: Flask) -> None:
    from bench.inprocess import USER_AGENT, treasurer_cookie

    dataset.load(60)
    name, value = treasurer_cookie(app, app.secret_key).split("=", 1)
    client = app.test_client()
    client.set_cookie(name, value)

    page = client.get(f"/treasurer/campaigns/{dataset.CAMPAIGN_SLUG}/pledges", headers={"User-Agent": USER_AGENT})

    assert page.status_code == 200
    assert b"PL-0000" in page.data
    assert client.get(f"/campaigns/{dataset.CAMPAIGN_SLUG}").status_code == 200
    assert client.get(f"/api/v1/campaigns/{dataset.CAMPAIGN_SLUG}").json["pledge_count"] > 0
