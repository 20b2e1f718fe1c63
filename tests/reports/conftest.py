"""A seeded campaign for the report tests, and a report cache of each test's own."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader

from app.extensions import db
from app.models import Campaign, Frequency, ImpactMetric, Organisation, PledgerKind, PledgeStatus, Visibility
from tests.factories import (
    CampaignFactory,
    ImpactEntryFactory,
    ImpactStoryFactory,
    OrganisationFactory,
    OutgoingFactory,
    SponsorFactory,
    make_offer,
    make_pledge,
)


def pdf_pages(document: bytes) -> list[str]:
    """Each page's text, with runs of whitespace made single spaces."""
    reader = PdfReader(io.BytesIO(document))
    return [re.sub(r"\s+", " ", page.extract_text() or "") for page in reader.pages]


def pdf_text(document: bytes) -> str:
    return " ".join(pdf_pages(document))


@pytest.fixture(autouse=True)
def report_cache(app: Flask, tmp_path: Path) -> Iterator[Path]:
    """Reports are cached under this test's own folder, never the project's instance/."""
    folder = tmp_path / "reports"
    saved = app.config.get("REPORT_CACHE_DIR")
    app.config["REPORT_CACHE_DIR"] = str(folder)
    yield folder
    app.config["REPORT_CACHE_DIR"] = saved


@dataclass
class Seeded:
    campaign: Campaign
    mine: Organisation  # the sponsor whose copy is made
    theirs: Organisation  # another sponsor, who must not appear in the first one's figures
    named: list[str]
    hidden: str


@pytest.fixture
def seeded() -> Seeded:
    """Councils (one unnamed), individuals (some paid), two sponsors' offers, impact, outgoings."""
    campaign = CampaignFactory(slug="pipeline", title="Pipeline community manager", annual_cost_pence=45_000_00)
    mine = SponsorFactory(name="Northgate Civic Fund", slug="northgate")
    theirs = SponsorFactory(name="Rival Holdings", slug="rival")
    make_offer(campaign, mine, ratio="1", cap="3,210.98", eligibility="councils")
    make_offer(campaign, theirs, ratio="0.5", cap="1,987.65", eligibility="individuals")
    named = ["Leeds City Council", "Kent County Council"]
    make_pledge(campaign, pounds="4,000", kind=PledgerKind.COUNCIL, organisation=OrganisationFactory(name=named[0]))
    make_pledge(
        campaign,
        pounds="1,500.50",
        kind=PledgerKind.COUNCIL,
        organisation=OrganisationFactory(name=named[1]),
        paid_instalments=1,
        status=PledgeStatus.FULFILLED,
    )
    hidden = "Quiet District Council"
    make_pledge(
        campaign,
        pounds="999",
        kind=PledgerKind.COUNCIL,
        organisation=OrganisationFactory(name=hidden),
        show_on_wall=False,
    )
    make_pledge(
        campaign, pounds="10", frequency=Frequency.MONTHLY, instalments=12, paid_instalments=3, name="Ada Secret"
    )
    make_pledge(
        campaign, pounds="2,345.67", paid_instalments=1, status=PledgeStatus.FULFILLED, visibility=Visibility.ANONYMOUS
    )
    make_pledge(campaign, pounds="80", status=PledgeStatus.CANCELLED)
    ImpactEntryFactory(campaign=campaign, metric=ImpactMetric.COUNCILS_ENGAGED, value=17, recorded_on=date(2027, 5, 1))
    ImpactEntryFactory(campaign=campaign, metric=ImpactMetric.EVENTS_RUN, value=4, recorded_on=date(2027, 6, 1))
    ImpactEntryFactory(campaign=campaign, metric=ImpactMetric.MEMBERS, value=321, recorded_on=date(2027, 6, 1))
    ImpactStoryFactory(campaign=campaign, title="Six councils share one planning form", published_on=date(2027, 7, 1))
    OutgoingFactory(campaign=campaign, amount_pence=3_750_00)
    db.session.commit()
    return Seeded(campaign, mine, theirs, named, hidden)
