"""The demo: one realistic campaign with councils, individuals, a sponsor and demo accounts.

Everything goes through the same services as real pledges, so the demo's totals are kept by the
same code the tests check. Seeding twice changes nothing the second time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from app.accounts import auth
from app.extensions import db
from app.ledger import rollups, totals
from app.matching import match_funding
from app.models import (
    Campaign,
    CampaignStatus,
    CampaignUpdate,
    CouncilType,
    Frequency,
    FundingModel,
    MatchEligibility,
    Organisation,
    OrganisationKind,
    PaymentMethod,
    Pledge,
    PledgerKind,
    PledgeStatus,
    Role,
    User,
    Visibility,
    utcnow,
)
from app.money import Money
from app.payments import settle
from app.pledging import pledges

CAMPAIGN_SLUG = "pipeline-community-manager-2027-28"

# name, type, GSS code, population (mid-2022 estimates, rounded)
COUNCILS: list[tuple[str, CouncilType, str | None, int]] = [
    ("Leeds City Council", CouncilType.METROPOLITAN, "E08000035", 812_000),
    ("Manchester City Council", CouncilType.METROPOLITAN, "E08000003", 568_000),
    ("Birmingham City Council", CouncilType.METROPOLITAN, "E08000025", 1_157_000),
    ("Sheffield City Council", CouncilType.METROPOLITAN, "E08000019", 556_000),
    ("Bristol City Council", CouncilType.UNITARY, "E06000023", 472_000),
    ("Cornwall Council", CouncilType.UNITARY, "E06000052", 570_000),
    ("Wiltshire Council", CouncilType.UNITARY, "E06000054", 510_000),
    ("Buckinghamshire Council", CouncilType.UNITARY, "E06000060", 553_000),
    ("Hampshire County Council", CouncilType.COUNTY, "E10000014", 1_400_000),
    ("Kent County Council", CouncilType.COUNTY, "E10000016", 1_576_000),
    ("Essex County Council", CouncilType.COUNTY, "E10000012", 1_503_000),
    ("Norfolk County Council", CouncilType.COUNTY, "E10000020", 916_000),
    ("Surrey County Council", CouncilType.COUNTY, "E10000030", 1_203_000),
    ("Oxfordshire County Council", CouncilType.COUNTY, "E10000025", 725_000),
    ("London Borough of Camden", CouncilType.LONDON_BOROUGH, "E09000007", 210_000),
    ("London Borough of Hackney", CouncilType.LONDON_BOROUGH, "E09000012", 259_000),
    ("Royal Borough of Greenwich", CouncilType.LONDON_BOROUGH, "E09000011", 289_000),
    ("London Borough of Croydon", CouncilType.LONDON_BOROUGH, "E09000008", 390_000),
    ("Cambridge City Council", CouncilType.DISTRICT, "E07000008", 145_000),
    ("South Cambridgeshire District Council", CouncilType.DISTRICT, "E07000012", 162_000),
    ("Stroud District Council", CouncilType.DISTRICT, "E07000082", 122_000),
    ("Cheltenham Borough Council", CouncilType.DISTRICT, "E07000078", 118_000),
    ("Babergh District Council", CouncilType.DISTRICT, "E07000200", 92_000),
    ("Greater Manchester Combined Authority", CouncilType.COMBINED_AUTHORITY, "E47000001", 2_868_000),
    ("West Midlands Combined Authority", CouncilType.COMBINED_AUTHORITY, "E47000007", 2_919_000),
    ("Frome Town Council", CouncilType.TOWN_PARISH, None, 28_000),
]

# Councils that have pledged so far in the demo: (index into COUNCILS, pounds a year, on the wall)
COUNCIL_PLEDGES = [
    (0, 4_000, True),
    (4, 3_000, True),
    (5, 2_500, True),
    (14, 2_000, True),
    (18, 1_500, True),
    (20, 1_000, False),
    (25, 250, True),
]

SPONSOR_NAME = "Northgate Civic Fund"

DEMO_ACCOUNTS = [
    ("treasurer", "treasurer@pledgeline.demo", "demo-treasurer-pass"),
    ("sponsor", "sponsor@pledgeline.demo", "demo-sponsor-pass"),
    ("admin", "admin@pledgeline.demo", "demo-admin-password"),
    ("pledger", "council.officer@pledgeline.demo", "demo-council-pass"),
]

FIRST_NAMES = [
    "Amira",
    "Ben",
    "Chloe",
    "Dev",
    "Eilidh",
    "Femi",
    "Grace",
    "Harjit",
    "Imogen",
    "Jack",
    "Kemi",
    "Liam",
    "Maya",
    "Noah",
    "Olu",
    "Priya",
    "Quentin",
    "Rosie",
    "Sam",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yusuf",
    "Zoe",
]
LAST_NAMES = [
    "Ahmed",
    "Brown",
    "Clarke",
    "Davies",
    "Evans",
    "Fletcher",
    "Green",
    "Hughes",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Morgan",
    "Nowak",
    "O'Brien",
    "Patel",
    "Quinn",
    "Roberts",
    "Singh",
    "Taylor",
    "Walker",
    "Wright",
    "Young",
]
MESSAGES = [
    "Sharing what works saves us all time.",
    "Proud to back collaboration between councils.",
    "We need someone whose job is to join the dots.",
    "Small councils benefit most from this.",
    None,
    None,
    None,
]


@dataclass(frozen=True)
class SeedResult:
    created: bool
    pledges: int = 0
    councils: int = 0


class DemoRefused(RuntimeError):
    pass


def seed(rng_seed: int = 2027) -> SeedResult:
    """Create the demo data unless it is already there."""
    if current_app.config.get("ENV_NAME") == "production":
        raise DemoRefused("The demo data and its known passwords are never loaded in production.")
    organisations = _organisations()
    _accounts(organisations)
    existing = db.session.scalar(select(Campaign).where(Campaign.slug == CAMPAIGN_SLUG))
    if existing is not None:
        # A demo database from before the roll-ups existed: fill them in from its ledger.
        if rollups.differences(existing.id):
            totals.lock_campaign(existing.id)
            rollups.rebuild([existing.id])
        return SeedResult(created=False)
    campaign = _campaign()
    count = _pledges(campaign, organisations, random.Random(rng_seed))  # noqa: S311 - demo data, not security
    # The sponsor matches councils' pledges pound for pound, up to £6,000, only if the campaign
    # succeeds: the kind of offer that persuades the last few councils to join.
    match_funding.create_offer(
        campaign, organisations[SPONSOR_NAME], "1", Money.parse("6000"), MatchEligibility.COUNCILS, True, None
    )
    return SeedResult(created=True, pledges=count, councils=len(COUNCIL_PLEDGES))


def _slugify(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-").replace("--", "-")


def _organisations() -> dict[str, Organisation]:
    existing = {o.name: o for o in db.session.scalars(select(Organisation))}
    for name, council_type, gss, population in COUNCILS:
        if name not in existing:
            existing[name] = Organisation(
                slug=_slugify(name),
                name=name,
                kind=OrganisationKind.COUNCIL,
                council_type=council_type,
                gss_code=gss,
                population=population,
            )
            db.session.add(existing[name])
    if SPONSOR_NAME not in existing:
        existing[SPONSOR_NAME] = Organisation(
            slug=_slugify(SPONSOR_NAME), name=SPONSOR_NAME, kind=OrganisationKind.SPONSOR
        )
        db.session.add(existing[SPONSOR_NAME])
    db.session.flush()
    return existing


def _accounts(organisations: dict[str, Organisation]) -> None:
    homes = {"sponsor": organisations[SPONSOR_NAME], "pledger": organisations[COUNCILS[4][0]]}
    names = {
        "treasurer": "Tessa Treasurer",
        "sponsor": "Sandeep Sponsor",
        "admin": "Ada Admin",
        "pledger": "Colin Council-Officer",
    }
    for role, email, password in DEMO_ACCOUNTS:
        if db.session.scalar(select(User).where(User.email == email)) is None:
            auth.create_user(email, names[role], password, Role(role), homes.get(role))


def _campaign() -> Campaign:
    now = utcnow().replace(microsecond=0)
    campaign = Campaign(
        slug=CAMPAIGN_SLUG,
        title="Pipeline community manager 2027/28",
        summary=(
            "Fund a community manager for a year to help councils share and reuse their work on "
            "Pipeline, LocalGov Digital's collaboration platform."
        ),
        body=(
            "Councils across England are solving the same problems separately. Pipeline lets them "
            "find each other's projects and work together, but a platform alone does not make "
            "collaboration happen: it needs a person whose job is to connect people, run events and "
            "keep projects moving.\n\n"
            "No single council can justify paying for a role that benefits everyone, so we are asking "
            "many councils and individuals to share the cost. Your pledge only counts if at least 10 "
            "councils pledge and the full £48,000 is reached by the deadline. If not, nobody is charged."
        ),
        target_pence=Money.parse("48000").pence,
        funding_model=FundingModel.ALL_OR_NOTHING,
        min_councils=10,
        opens_at=now - timedelta(days=20),
        closes_at=now + timedelta(days=30),
        funding_starts_on=date(2027, 4, 1),
        funding_ends_on=date(2028, 3, 31),
        annual_cost_pence=Money.parse("48000").pence,
        status=CampaignStatus.LIVE,
    )
    db.session.add(campaign)
    db.session.flush()
    db.session.add_all(
        [
            CampaignUpdate(
                campaign=campaign,
                title="Seven councils have pledged",
                body="Thank you to everyone who has pledged so far. Three more councils will unlock the campaign.",
                published_at=now - timedelta(days=2),
            ),
            CampaignUpdate(
                campaign=campaign,
                title="The campaign is open",
                body="Pledges are open until the deadline. Councils can pledge by purchase order and invoice.",
                published_at=now - timedelta(days=20),
            ),
        ]
    )
    return campaign


def _pledges(campaign: Campaign, organisations: dict[str, Organisation], rng: random.Random) -> int:
    start = campaign.opens_at
    made = 0
    for index, pounds, on_wall in COUNCIL_PLEDGES:
        council = organisations[COUNCILS[index][0]]
        pledge = pledges.create_pledge(
            campaign,
            pledges.PledgeRequest(
                kind=PledgerKind.COUNCIL,
                name=f"Digital team, {council.name}",
                email=f"digital@{_slugify(council.name)}.example",
                amount=Money(pounds * 100),
                frequency=Frequency.ONE_OFF,
                instalment_count=None,
                method=PaymentMethod.INVOICE,
                conditional=True,
                visibility=Visibility.PUBLIC,
                organisation=council,
                show_on_wall=on_wall,
                po_number=f"PO-{rng.randint(100000, 999999)}",
                submission_token=f"demo-council-{index}",
                # Most council teams ask for the news (not from rng: the rest of the demo stays as it was).
                wants_updates=index % 3 != 2,
            ),
        )
        pledge.created_at = start + timedelta(hours=rng.randint(1, 19 * 24))
        pledges.change_status(pledge, PledgeStatus.COMMITTED, reason="Purchase order received")
        made += 1

    visibilities = [Visibility.PUBLIC] * 6 + [Visibility.NAME_HIDDEN] * 3 + [Visibility.ANONYMOUS]
    for n in range(150):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        frequency = rng.choice([Frequency.ONE_OFF] * 5 + [Frequency.MONTHLY] * 4 + [Frequency.ANNUALLY])
        if frequency == Frequency.MONTHLY:
            amount = rng.choice([5, 5, 10, 10, 10, 15, 20, 25]) * 100
        else:
            amount = rng.choice([10, 20, 25, 25, 50, 50, 75, 100, 150, 250]) * 100
        conditional = rng.random() < 0.6
        pledge = pledges.create_pledge(
            campaign,
            pledges.PledgeRequest(
                kind=PledgerKind.INDIVIDUAL,
                name=name,
                email=f"{_slugify(name)}.{n}@example.org",
                amount=Money(amount),
                frequency=frequency,
                instalment_count=12 if frequency == Frequency.MONTHLY else None,
                # Card pledges in the demo are all conditional: a card charge needs a real record at
                # Stripe (reconciliation would rightly report one that has none). Those who give
                # "now, whatever happens" in the demo paid their first instalment by bank transfer.
                method=PaymentMethod.CARD if conditional else PaymentMethod.BANK_TRANSFER,
                conditional=conditional,
                visibility=rng.choice(visibilities),
                message=rng.choice(MESSAGES),
                submission_token=f"demo-individual-{n}",
                wants_updates=n % 5 < 2,  # two in five individuals ask for the campaign's news
            ),
        )
        pledge.created_at = start + timedelta(minutes=rng.randint(60, 19 * 24 * 60))
        pledges.change_status(pledge, PledgeStatus.COMMITTED, reason="Card saved")
        if not conditional:
            payment = settle.record_bank_transfer(
                pledge,
                pledge.instalments[0],
                Money(amount),
                received_on=pledge.created_at.date(),
                reference=f"DEMO-{pledge.reference}",
            )
            payment.created_at = payment.succeeded_at = pledge.created_at  # type: ignore[assignment]
        made += 1
    return made


def attach_test_cards() -> int:
    """Demo only: give every live card pledge a saved test card at the local Stripe stand-in.

    The seed writes pledges without talking to Stripe, and localstripe forgets everything when it
    stops, so the demo server does this each time it starts; otherwise closing the demo campaign
    successfully would find no card to charge. Refused (by the gateway) against real Stripe.
    """
    from app.payments import gateway

    if not gateway.is_local():
        return 0
    ids = list(
        db.session.scalars(
            select(Pledge.id).where(
                Pledge.method == PaymentMethod.CARD,
                Pledge.status.in_([PledgeStatus.COMMITTED, PledgeStatus.ACTIVE]),
            )
        )
    )
    for pledge_id in ids:
        pledge = db.session.get_one(Pledge, pledge_id)
        setup = gateway.start_card_setup(
            email=pledge.email, name=pledge.name, metadata={"pledge_id": str(pledge.id), "demo": "yes"}
        )
        payment_method = gateway.save_test_card(setup.setup_intent_id)
        pledge.stripe_customer_id = setup.customer_id
        pledge.stripe_setup_intent_id = setup.setup_intent_id
        pledge.stripe_payment_method_id = payment_method
        db.session.commit()
    return len(ids)
