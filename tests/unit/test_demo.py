"""`flask seed-demo`: one realistic campaign that anyone can run the service with."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import demo
from app.extensions import db
from app.ledger import totals
from app.models import (
    Campaign,
    CampaignStatus,
    FundingModel,
    Organisation,
    OrganisationKind,
    Pledge,
    PledgerKind,
    Role,
    User,
    utcnow,
)
from app.pledging import pledges
from tests.helpers import production_app, sign_in


def _row_counts() -> dict[str, int]:
    tables = db.metadata.sorted_tables
    return {table.name: db.session.scalar(select(func.count()).select_from(table)) or 0 for table in tables}


def _seed(runner) -> str:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return result.output


def test_seed_demo_creates_the_campaign_councils_and_pledges_as_described(runner) -> None:  # type: ignore[no-untyped-def]
    output = _seed(runner)

    assert "Demo data loaded" in output
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.slug == demo.CAMPAIGN_SLUG
    assert campaign.target_pence == 48_000_00
    assert campaign.funding_model == FundingModel.ALL_OR_NOTHING
    assert campaign.min_councils == 10
    assert campaign.status == CampaignStatus.LIVE
    assert timedelta(days=29) < campaign.closes_at - utcnow() <= timedelta(days=30)
    assert pledges.accepting_pledges(campaign)

    # About 25 councils of mixed types, one sponsor
    councils = db.session.scalars(select(Organisation).where(Organisation.kind == OrganisationKind.COUNCIL)).all()
    assert 22 <= len(councils) <= 28
    types = Counter(c.council_type for c in councils)
    assert len(types) >= 6, f"only {sorted(types)}"
    sponsors = db.session.scalars(select(Organisation).where(Organisation.kind == OrganisationKind.SPONSOR)).all()
    assert [s.name for s in sponsors] == [demo.SPONSOR_NAME]

    council_pledges = db.session.scalars(select(Pledge).where(Pledge.pledger_kind == PledgerKind.COUNCIL)).all()
    assert len({p.organisation_id for p in council_pledges}) == campaign.council_count == 7
    assert campaign.council_count < campaign.min_councils  # so the page shows "3 more needed"

    # About 150 individual pledges of every size, frequency and visibility
    individuals = db.session.scalars(select(Pledge).where(Pledge.pledger_kind == PledgerKind.INDIVIDUAL)).all()
    assert 140 <= len(individuals) <= 160
    frequencies = Counter(p.frequency for p in individuals)
    visibilities = Counter(p.visibility for p in individuals)
    assert len(frequencies) == 3
    assert min(frequencies.values()) >= 10, frequencies
    assert len(visibilities) == 3
    assert min(visibilities.values()) >= 5, visibilities
    amounts = {p.amount_pence for p in individuals}
    assert len(amounts) >= 8
    assert min(amounts) <= 10_00
    assert max(amounts) >= 100_00
    assert Counter(p.is_conditional for p in individuals).keys() == {True, False}
    assert all(p.is_live for p in individuals)
    assert campaign.collected_pence > 0  # unconditional pledges paid their first instalment
    assert 0 < campaign.pledged_pence < campaign.target_pence


def test_seed_demo_accounts_sign_in_with_the_passwords_it_prints(runner, app: Flask) -> None:  # type: ignore[no-untyped-def]
    output = _seed(runner)

    printed = dict(re.findall(r"^\s+\w+\s+(\S+@\S+)\s+password: (\S+)$", output, re.MULTILINE))
    roles = {u.email: u.role for u in db.session.scalars(select(User))}
    by_role = {roles[email]: (email, password) for email, password in printed.items()}
    assert {Role.TREASURER, Role.SPONSOR, Role.ADMIN} <= set(by_role)
    sponsor = db.session.scalar(select(User).where(User.role == Role.SPONSOR))
    assert sponsor is not None
    assert sponsor.organisation is not None
    assert sponsor.organisation.name == demo.SPONSOR_NAME

    for role, area in ((Role.TREASURER, "/treasurer/"), (Role.SPONSOR, "/sponsor/"), (Role.ADMIN, "/admin/")):
        client = app.test_client()
        email, password = by_role[role]
        assert sign_in(client, email, password).status_code == 302, f"{role} could not sign in"
        assert client.get(area).status_code == 200


def test_seeding_twice_changes_nothing_and_the_totals_agree_with_the_ledger(runner) -> None:  # type: ignore[no-untyped-def]
    _seed(runner)
    before = _row_counts()
    campaign_before = totals.stored(db.session.scalars(select(Campaign)).one())

    output = _seed(runner)

    assert "already loaded; nothing changed" in output
    assert _row_counts() == before
    assert before["pledge"] >= 150
    campaign = db.session.scalars(select(Campaign)).one()
    assert totals.stored(campaign) == campaign_before
    assert totals.stored(campaign) == totals.from_ledger(campaign.id)
    result = runner.invoke(args=["totals", "verify"])
    assert result.exit_code == 0, result.output
    assert "All campaign totals agree with the ledger." in result.output


def test_seed_demo_refuses_to_run_in_production(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    before = _row_counts()

    with production_app(monkeypatch, database_url) as app, app.app_context():
        result = app.test_cli_runner().invoke(args=["seed-demo"])

    assert result.exit_code != 0
    assert "never loaded in production" in result.output
    assert "password:" not in result.output  # no demo credentials printed
    db.session.expire_all()
    assert _row_counts() == before
