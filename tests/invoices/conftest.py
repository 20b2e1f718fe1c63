"""Council pledges, invoices and their PDFs: shared data and helpers."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from app.extensions import db
from app.models import Campaign, CampaignStatus, CouncilType, Organisation, User
from tests.factories import CampaignFactory, OrganisationFactory, UserFactory


@pytest.fixture
def council() -> Organisation:
    return OrganisationFactory(
        name="Borsetshire County Council",
        slug="borsetshire",
        council_type=CouncilType.COUNTY,
        gss_code="E10000099",
        population=612_345,
    )


@pytest.fixture
def contact(council: Organisation) -> User:
    return UserFactory(name="Jo Contact", email="jo@borsetshire.example", organisation=council)


@pytest.fixture
def campaign() -> Campaign:
    return CampaignFactory(title="A community manager for councils", min_councils=3)


def succeed(campaign: Campaign) -> None:
    """What the lead's close-due does first when a campaign reaches its goal."""
    campaign.status = CampaignStatus.SUCCEEDED
    db.session.commit()


def pdf_text(pdf: bytes) -> str:
    """Every page's text, with runs of whitespace made single spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))
