"""One factory per model; pledges and payments go through the services so totals stay true."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from itertools import count
from typing import Any

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.accounts import auth
from app.extensions import db
from app.models import (
    Campaign,
    CampaignStatus,
    CouncilType,
    Frequency,
    FundingModel,
    ImpactEntry,
    ImpactMetric,
    ImpactStory,
    Organisation,
    OrganisationKind,
    Outgoing,
    OutgoingCategory,
    PaymentMethod,
    Pledge,
    PledgerKind,
    PledgeStatus,
    Role,
    User,
    Visibility,
    WebhookEndpoint,
    utcnow,
)
from app.money import Money
from app.payments import settle
from app.pledging import pledges

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = auth.hash_password(PASSWORD)
_tokens = count(1)


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class OrganisationFactory(_Base):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Testshire Council {n}")
    slug = factory.Sequence(lambda n: f"testshire-{n}")
    kind = OrganisationKind.COUNCIL
    council_type = CouncilType.DISTRICT
    population = 100_000


class SponsorFactory(OrganisationFactory):
    name = factory.Sequence(lambda n: f"Sponsor {n} Ltd")
    slug = factory.Sequence(lambda n: f"sponsor-{n}")
    kind = OrganisationKind.SPONSOR
    council_type = None
    population = None


class UserFactory(_Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    name = factory.Sequence(lambda n: f"User {n}")
    password_hash = _PASSWORD_HASH
    role = Role.PLEDGER


class CampaignFactory(_Base):
    class Meta:
        model = Campaign

    slug = factory.Sequence(lambda n: f"campaign-{n}")
    title = factory.Sequence(lambda n: f"Campaign {n}")
    summary = "Fund a shared role for councils."
    body = "Why this matters.\n\nWhat happens next."
    target_pence = 48_000_00
    currency = "GBP"
    funding_model = FundingModel.ALL_OR_NOTHING
    min_councils = 3
    opens_at = factory.LazyFunction(lambda: utcnow() - timedelta(days=10))
    closes_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=20))
    funding_starts_on = date(2027, 4, 1)
    funding_ends_on = date(2028, 3, 31)
    annual_cost_pence = 48_000_00
    status = CampaignStatus.LIVE


def make_pledge(
    campaign: Campaign,
    *,
    pounds: str = "25",
    kind: PledgerKind = PledgerKind.INDIVIDUAL,
    frequency: Frequency = Frequency.ONE_OFF,
    instalments: int | None = None,
    status: PledgeStatus = PledgeStatus.COMMITTED,
    conditional: bool = False,
    visibility: Visibility = Visibility.PUBLIC,
    organisation: Organisation | None = None,
    name: str = "Pat Pledger",
    email: str = "pat@example.org",
    message: str | None = None,
    paid_instalments: int = 0,
    show_on_wall: bool = True,
    wants_updates: bool = False,
) -> Pledge:
    """A pledge made and moved through the real services, committed to the database."""
    if kind == PledgerKind.COUNCIL and organisation is None:
        organisation = OrganisationFactory()
    pledge = pledges.create_pledge(
        campaign,
        pledges.PledgeRequest(
            kind=kind,
            name=name,
            email=email,
            amount=Money.parse(pounds),
            frequency=frequency,
            instalment_count=instalments,
            method=PaymentMethod.INVOICE if kind == PledgerKind.COUNCIL else PaymentMethod.CARD,
            conditional=conditional,
            visibility=visibility,
            message=message,
            organisation=organisation,
            show_on_wall=show_on_wall,
            submission_token=f"test-{next(_tokens)}",
            wants_updates=wants_updates,
        ),
    )
    if status != PledgeStatus.PENDING:
        pledges.change_status(pledge, PledgeStatus.COMMITTED, reason="test")
    for instalment in pledge.instalments[:paid_instalments]:
        settle.mark_succeeded(settle.open_card_payment(instalment))
    if status not in (PledgeStatus.PENDING, PledgeStatus.COMMITTED) and pledge.status != status:
        pledges.change_status(pledge, status, reason="test")
    db.session.commit()
    return pledge


# Who requests the routes in the access and security tests; "anonymous" has no account.
ACTORS = ("anonymous", "pledger", "officer_a", "officer_b", "sponsor", "treasurer", "admin")


def make_route_world() -> tuple[dict[str, User], dict[str, str]]:
    """One user per actor, and sample data to fill every route's URL variables.

    Returns the users by actor and the sample values that tests/data/access.toml's `{names}` refer
    to. The pledger owns a pending card pledge with an open payment; tokens are the signed links
    the pledger would be emailed. Someone else has a pledge and a payment of their own, and each
    of two councils has an officer and a council pledge, so that each actor can be sent to the
    others' records.
    """
    from app import links  # imported here: only the route tests need it

    council = OrganisationFactory(name="Access Borough Council", slug="access-borough")
    council_b = OrganisationFactory(name="Other District Council", slug="other-district")
    sponsor = SponsorFactory(name="Access Sponsor Ltd", slug="access-sponsor")
    users = {
        "pledger": UserFactory(email="pledger@example.org", name="Pat Pledger"),
        "officer_a": UserFactory(email="officer@access-borough.example", organisation=council),
        "officer_b": UserFactory(email="officer@other-district.example", organisation=council_b),
        "sponsor": UserFactory(email="sponsor@example.org", role=Role.SPONSOR, organisation=sponsor),
        "treasurer": UserFactory(email="treasurer@example.org", role=Role.TREASURER),
        "admin": UserFactory(email="admin@example.org", role=Role.ADMIN),
    }
    campaign = CampaignFactory(slug="access-campaign")
    draft = CampaignFactory(slug="access-draft", status=CampaignStatus.DRAFT)
    pledge = make_pledge(campaign, status=PledgeStatus.PENDING, name="Pat Pledger", email="pledger@example.org")
    payment = settle.open_card_payment(pledge.instalments[0])
    other = make_pledge(campaign, status=PledgeStatus.PENDING, name="Someone Else", email="someone@example.org")
    other_payment = settle.open_card_payment(other.instalments[0])
    endpoint = WebhookEndpoint(
        url="https://hooks.example.org/pledgeline",
        events=["pledge.committed"],
        secret="whsec_sample",
        owner=users["admin"],
    )
    db.session.add(endpoint)
    db.session.commit()
    samples = {
        "webhook_id": str(endpoint.id),
        "campaign_slug": campaign.slug,
        "draft_slug": draft.slug,
        "organisation_slug": council.slug,
        "council_a_id": str(council.id),
        "pledge_id": str(pledge.id),
        "pledge_reference": pledge.reference,
        "payment_id": str(payment.id),
        "other_pledge_id": str(other.id),
        "other_payment_id": str(other_payment.id),
        "pledge_token": links.pledge_token(pledge.id),
        "my_pledges_token": links.my_pledges_token(pledge.id),
        "stop_updates_token": links.stop_updates_token(pledge.id),
    }
    samples.update(council_pledge_samples(campaign, users["officer_a"], council))
    theirs = council_pledge_samples(campaign, users["officer_b"], council_b)
    samples.update(council_b_pledge_id=theirs["council_pledge_id"], council_b_invoice_id=theirs["invoice_id"])
    return users, samples


def make_offer(
    campaign: Campaign,
    sponsor: Organisation | None = None,
    *,
    ratio: str = "1",
    cap: str = "1000",
    eligibility: str = "both",
    conditional: bool = True,
    actor: User | None = None,
):  # type: ignore[no-untyped-def]
    """A sponsor's match offer made through the real service (share limit and all), committed."""
    from app.matching import match_funding  # imported here: most tests never make an offer

    offer = match_funding.create_offer(
        campaign,
        sponsor or SponsorFactory(),
        ratio,
        Money.parse(cap, campaign.currency),
        eligibility,
        conditional,
        actor,
    )
    db.session.commit()
    return offer


def make_council_pledge(
    campaign: Campaign,
    user: User | None = None,
    council: Organisation | None = None,
    *,
    pounds: str = "2500",
    years: int = 1,
    conditional: bool = True,
    po_number: str = "PO-2026/0042",
    billing_email: str = "accounts@testshire.example",
    submission_token: str | None = None,
) -> Pledge:
    """A council's pledge by purchase order through the real service, its first invoice issued; committed."""
    from app.invoicing import invoices  # imported here: most tests never make a council pledge

    council = council or OrganisationFactory()
    user = user or UserFactory(organisation=council)
    pledge = invoices.create_council_pledge(
        campaign,
        invoices.CouncilPledgeRequest(
            organisation=council,
            user=user,
            amount=Money.parse(pounds, campaign.currency),
            years=years,
            conditional=conditional,
            po_number=po_number,
            billing_contact="Alex Accounts",
            billing_email=billing_email,
            billing_address="Accounts Payable\nTown Hall\nTestshire\nTE1 1ST",
            submission_token=submission_token or f"test-council-{next(_tokens)}",
        ),
    )
    db.session.commit()
    return pledge


def council_pledge_samples(campaign: Campaign, user: User, council: Organisation) -> dict[str, str]:
    """The council contact's conditional pledge and its pro-forma, for the access matrix."""
    from app.invoicing import invoices
    from app.models import Invoice

    pledge = make_council_pledge(campaign, user, council)
    proforma = db.session.scalars(db.select(Invoice).where(Invoice.pledge_id == pledge.id)).one()
    return {
        "council_pledge_id": str(pledge.id),
        "invoice_id": str(proforma.id),
        "invoice_token": invoices.pdf_token(proforma.id),
        "invoice_pay_token": invoices.pay_token(proforma.id),
    }


def insert_pledges(campaign: Campaign, rows: Iterable[dict[str, Any]], *, batch: int = 5_000) -> int:
    """Bulk-insert pledge rows with Core (no services, no instalments, no totals), for tests of tables,
    exports and pagination that need many pledges fast. Each row overrides sensible defaults; returns
    how many were inserted. The campaign's stored totals are NOT updated."""
    from sqlalchemy import insert

    now = utcnow()
    defaults: dict[str, Any] = {
        "campaign_id": campaign.id,
        "pledger_kind": PledgerKind.INDIVIDUAL.value,
        "name": "Bulk Pledger",
        "email": "bulk@example.org",
        "amount_pence": 25_00,
        "commitment_pence": 25_00,
        "currency": campaign.currency,
        "frequency": Frequency.ONE_OFF.value,
        "instalment_count": 1,
        "method": PaymentMethod.CARD.value,
        "is_conditional": False,
        "visibility": Visibility.PUBLIC.value,
        "show_on_wall": True,
        "status": PledgeStatus.COMMITTED.value,
        "created_at": now,
        "updated_at": now,
    }
    statement = insert(Pledge.__table__)
    inserted = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append({**defaults, **row})
        if len(chunk) >= batch:
            db.session.execute(statement, chunk)
            inserted += len(chunk)
            chunk = []
    if chunk:
        db.session.execute(statement, chunk)
        inserted += len(chunk)
    db.session.commit()
    return inserted


# --- Impact, stories, outgoings (issue 6) --------------------------------------------------------


class ImpactEntryFactory(_Base):
    class Meta:
        model = ImpactEntry

    campaign = factory.SubFactory(CampaignFactory)
    recorded_on = date(2027, 6, 30)
    metric = ImpactMetric.EVENTS_RUN
    value = 3
    note = ""


class ImpactStoryFactory(_Base):
    class Meta:
        model = ImpactStory

    campaign = factory.SubFactory(CampaignFactory)
    title = factory.Sequence(lambda n: f"Story {n}")
    text = "Six councils met to share their planning forms."
    link = None
    published_on = date(2027, 7, 1)


class OutgoingFactory(_Base):
    class Meta:
        model = Outgoing

    campaign = factory.SubFactory(CampaignFactory)
    spent_on = date(2027, 4, 30)
    category = OutgoingCategory.SALARY
    amount_pence = 3_500_00
    currency = "GBP"
    description = "Community manager's salary, April"
