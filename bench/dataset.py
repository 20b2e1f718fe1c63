"""Benchmark datasets: one live campaign with N pledges, loaded fast and checked against itself.

    .venv/bin/python -m bench.dataset --size 1000 --url sqlite:///bench/.data/scratch.sqlite3

A dataset is one campaign ("bench") with councils, individuals and a sponsor pledging; a mix of
statuses, frequencies, methods and conditional pledges; succeeded payments (card and bank
transfer, some refunded) for the pledges that have paid; councils' instalments and invoices (some
overdue); a match offer, impact figures, stories and outgoings; and a treasurer whose session the
benchmark can sign. Pledges are spread over the 60 days before it was built.

Pledges, payments, instalments and invoices are written in batches straight through the
database driver (executemany on SQLite, COPY on PostgreSQL), inside the session's transaction.
Then the campaign's roll-ups are rebuilt and its stored totals set from the ledger, exactly as
`flask totals rebuild` would, and `totals.verify()` must come back empty: a dataset that
disagrees with itself is a bug, and the build fails.

`build()` migrates a fresh database and loads it; `load()` loads into the database of the app
context it is called in (the tests use it on their own database).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"

# Bump when the rows a dataset holds change, so cached copies are built again.
DATASET_VERSION = 3
CAMPAIGN_SLUG = "bench"
TREASURER_SESSION_TOKEN = "bench-treasurer-session-token-not-secret"  # noqa: S105 - a scratch database's
COUNCILS = 400  # about as many as there are principal councils in the UK
# Councils' pledges, the same number at every size (fewer below 1,000 pledges), so that the
# pages and reports that list councils by name compare like with like as the pledges grow.
COUNCIL_PLEDGES = 40
BATCH = 10_000
DAYS = 60

PLEDGE_COLUMNS = (
    "id",
    "campaign_id",
    "pledger_kind",
    "organisation_id",
    "name",
    "email",
    "amount_pence",
    "currency",
    "frequency",
    "instalment_count",
    "method",
    "is_conditional",
    "visibility",
    "show_on_wall",
    "wants_updates",
    "message",
    "po_number",
    "billing_contact",
    "billing_email",
    "billing_address",
    "status",
    "commitment_pence",
    "stripe_customer_id",
    "stripe_setup_intent_id",
    "stripe_payment_method_id",
    "submission_token",
    "created_at",
    "updated_at",
)
PAYMENT_COLUMNS = (
    "id",
    "pledge_id",
    "instalment_id",
    "amount_pence",
    "currency",
    "fee_pence",
    "refunded_pence",
    "status",
    "method",
    "stripe_payment_intent_id",
    "stripe_charge_id",
    "stripe_balance_transaction_id",
    "bank_reference",
    "received_on",
    "failure_message",
    "created_at",
    "updated_at",
    "succeeded_at",
)
INSTALMENT_COLUMNS = ("id", "pledge_id", "sequence", "due_on", "amount_pence", "currency", "status", "paid_at")
INVOICE_COLUMNS = (
    "id",
    "number",
    "kind",
    "status",
    "pledge_id",
    "instalment_id",
    "amount_pence",
    "currency",
    "po_number",
    "bill_to_name",
    "bill_to_contact",
    "bill_to_email",
    "bill_to_address",
    "issued_on",
    "due_on",
    "created_at",
)
TABLES = {
    "pledge": PLEDGE_COLUMNS,
    "payment": PAYMENT_COLUMNS,
    "instalment": INSTALMENT_COLUMNS,
    "invoice": INVOICE_COLUMNS,
}

FIRST_NAMES = ("Alex", "Sam", "Priya", "Owen", "Fatima", "Niamh", "Tom", "Grace", "Ravi", "Ellie", "Dylan", "Mei")
LAST_NAMES = ("Smith", "Jones", "Patel", "Evans", "Khan", "Murphy", "Taylor", "Brown", "Wilson", "Ng", "Hughes")
MESSAGES = ("Good luck!", "Happy to help councils work together.", "For Pipeline.", "Keep it going.")

# Cumulative thresholds on one random number: (upper bound, status).
UNCONDITIONAL_STATUSES = (
    (0.04, "pending"),
    (0.34, "committed"),
    (0.50, "active"),
    (0.86, "fulfilled"),
    (0.89, "failed"),
    (0.95, "cancelled"),
    (1.00, "refunded"),
)
# Conditional pledges wait for the campaign to succeed: saved, never charged yet.
CONDITIONAL_STATUSES = ((0.05, "pending"), (0.90, "committed"), (0.94, "failed"), (1.00, "cancelled"))


class DatasetError(RuntimeError):
    """The dataset's stored totals or roll-ups disagree with its own ledger."""


@dataclass
class Counts:
    pledges: int = 0
    payments: int = 0
    instalments: int = 0
    invoices: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Info:
    """What a dataset holds, as stored beside a cached copy and in the results."""

    size: int
    campaign_id: int
    campaign_slug: str
    pledges: int
    payments: int
    instalments: int
    invoices: int
    by_status: dict[str, int]
    totals: dict[str, int]
    seconds: float
    version: int = DATASET_VERSION


def _pick(table: Sequence[tuple[float, str]], r: float) -> str:
    for bound, value in table:
        if r < bound:
            return value
    return table[-1][1]


class _Ids:
    """Next ids for the bulk tables, after whatever the database already holds."""

    def __init__(self, start: dict[str, int]) -> None:
        self.last = dict(start)

    def next(self, table: str) -> int:
        self.last[table] += 1
        return self.last[table]


@dataclass(frozen=True)
class Plan:
    """Who and when: the fixed rows the generated pledges refer to."""

    size: int
    campaign_id: int
    council_ids: Sequence[int]
    council_names: Sequence[str]
    sponsor_id: int
    now: datetime  # naive UTC, as stored
    seed: int = 7


def generate(plan: Plan, ids: _Ids, counts: Counts) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """Yield batches of rows, table by table, for `plan.size` pledges (naive UTC datetimes)."""
    rng = random.Random(plan.seed * 1_000_003 + plan.size)
    start = plan.now - timedelta(days=DAYS)
    span = (DAYS * 86_400 - 3_600) / max(plan.size, 1)
    council_step = max(25, plan.size // COUNCIL_PLEDGES)
    batch: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
    for n in range(plan.size):
        pledge_id = ids.next("pledge")
        created = start + timedelta(seconds=n * span + rng.random() * min(span, 60))
        if n % council_step == council_step // 2:
            rows = _council_pledge(rng, plan, ids, pledge_id, n // council_step, created)
        else:
            rows = _individual_pledge(rng, plan, ids, pledge_id, n, created)
        for table, table_rows in rows.items():
            batch[table].extend(table_rows)
        status = rows["pledge"][0][PLEDGE_COLUMNS.index("status")]
        counts.by_status[status] = counts.by_status.get(status, 0) + 1
        if len(batch["pledge"]) >= BATCH:
            yield batch
            batch = {name: [] for name in TABLES}
    if batch["pledge"]:
        yield batch


def _individual_pledge(
    rng: random.Random, plan: Plan, ids: _Ids, pledge_id: int, n: int, created: datetime
) -> dict[str, list[tuple[Any, ...]]]:
    sponsor = n % 1000 == 250
    kind = "sponsor" if sponsor else "individual"
    amount = 100_00 if sponsor else rng.choice((1_00, 2_00, 3_00, 5_00, 5_00, 10_00))
    r = rng.random()
    frequency, count = ("one_off", 1) if r < 0.7 or sponsor else ("monthly", 12) if r < 0.92 else ("annually", 2)
    # What counts in the one-year funding period: every monthly instalment, one annual one.
    commitment = amount * 12 if frequency == "monthly" else amount
    method = "bank_transfer" if sponsor or rng.random() < 0.05 else "card"
    conditional = not sponsor and rng.random() < 0.3
    status = _pick(CONDITIONAL_STATUSES if conditional else UNCONDITIONAL_STATUSES, rng.random())
    if status == "active" and count == 1:
        status = "fulfilled"  # a single instalment, once paid, is everything
    if status == "fulfilled" and count > 1:
        status = "active"  # 60 days old: a schedule has not finished yet
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    card = method == "card"
    saved = card and status != "pending"
    pledge = (
        pledge_id,
        plan.campaign_id,
        kind,
        plan.sponsor_id if sponsor else None,
        f"{first} {last}",
        f"{first.lower()}.{last.lower()}.{pledge_id}@example.org",
        amount,
        "GBP",
        frequency,
        count,
        method,
        conditional,
        ("public", "public", "public", "name_hidden", "anonymous")[rng.randrange(5)],
        True,
        rng.random() < 0.4,
        rng.choice(MESSAGES) if rng.random() < 0.05 else None,
        None,
        None,
        None,
        None,
        status,
        commitment,
        f"cus_bench{pledge_id}" if card else None,
        f"seti_bench{pledge_id}" if saved else None,
        f"pm_bench{pledge_id}" if saved else None,
        f"bench-{pledge_id}",
        created,
        created,
    )
    rows: dict[str, list[tuple[Any, ...]]] = {"pledge": [pledge], "payment": []}
    paid = {"fulfilled": 1, "active": 1 + (n % 2 if frequency == "monthly" else 0), "refunded": 1}.get(status, 0)
    if status == "cancelled" and frequency != "one_off" and n % 2:
        paid = 1  # paid an instalment, then cancelled the rest
    for sequence in range(paid):
        moment = created + timedelta(minutes=5, days=30 * sequence)
        if moment > plan.now:
            break
        refunded = amount if status == "refunded" else amount // 2 if n % 97 == 0 and status == "fulfilled" else 0
        rows["payment"].append(_payment(ids, pledge_id, None, amount, method, moment, refunded, plan.now))
    if status == "failed" and card and n % 2:
        payment_id = ids.next("payment")
        moment = created + timedelta(minutes=5)
        failed = {
            "id": payment_id,
            "pledge_id": pledge_id,
            "amount_pence": amount,
            "currency": "GBP",
            "fee_pence": 0,
            "refunded_pence": 0,
            "status": "failed",
            "method": "card",
            "stripe_payment_intent_id": f"pi_bench{payment_id}",
            "failure_message": "Your card was declined.",
            "created_at": moment,
            "updated_at": moment,
        }
        rows["payment"].append(tuple(failed.get(column) for column in PAYMENT_COLUMNS))
    return rows


def _payment(
    ids: _Ids,
    pledge_id: int,
    instalment_id: int | None,
    amount: int,
    method: str,
    moment: datetime,
    refunded: int,
    now: datetime,
) -> tuple[Any, ...]:
    payment_id = ids.next("payment")
    if method == "card":
        return (
            payment_id,
            pledge_id,
            instalment_id,
            amount,
            "GBP",
            20 + amount * 15 // 1000,
            refunded,
            "succeeded",
            "card",
            f"pi_bench{payment_id}",
            f"ch_bench{payment_id}",
            f"txn_bench{payment_id}",
            None,
            None,
            None,
            moment,
            moment,
            moment,
        )
    received = min(moment + timedelta(days=2), now)
    return (
        payment_id,
        pledge_id,
        instalment_id,
        amount,
        "GBP",
        0,
        refunded,
        "succeeded",
        "bank_transfer",
        None,
        None,
        None,
        f"BACS {pledge_id}",
        received.date(),
        None,
        received,
        received,
        received,
    )


def _council_pledge(
    rng: random.Random, plan: Plan, ids: _Ids, pledge_id: int, index: int, created: datetime
) -> dict[str, list[tuple[Any, ...]]]:
    which = index % len(plan.council_ids)
    council_id, council_name = plan.council_ids[which], plan.council_names[which]
    amount = rng.choice((500_00, 1_000_00, 1_500_00, 2_500_00))
    conditional = rng.random() < 0.5
    frequency, count = ("annually", 1 + index % 3) if rng.random() < 0.6 else ("one_off", 1)
    method = "invoice" if rng.random() < 0.8 else "bank_transfer"
    status = _pick(CONDITIONAL_STATUSES if conditional else UNCONDITIONAL_STATUSES, rng.random())
    if status in ("active", "fulfilled", "refunded"):
        status = "active" if count > 1 else "fulfilled"
    po = f"PO-{2026 + index % 2}/{pledge_id:07d}"
    contact = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    address = f"Accounts Payable\n{council_name}\nTown Hall\nAB1 2CD"
    pledge = (
        pledge_id,
        plan.campaign_id,
        "council",
        council_id,
        contact,
        f"contact.{pledge_id}@council.example",
        amount,
        "GBP",
        frequency,
        count,
        method,
        conditional,
        "public",
        True,
        True,
        None,
        po,
        contact,
        f"accounts.{pledge_id}@council.example",
        address,
        status,
        amount,
        None,
        None,
        None,
        f"bench-{pledge_id}",
        created,
        created,
    )
    rows: dict[str, list[tuple[Any, ...]]] = {"pledge": [pledge], "payment": [], "instalment": [], "invoice": []}
    if status in ("pending", "failed"):
        return rows
    paid = status in ("active", "fulfilled")
    issued_on = created.date()
    due_on = issued_on + timedelta(days=30)
    instalment_id = ids.next("instalment")
    paid_at = min(created + timedelta(days=14), plan.now) if paid else None
    rows["instalment"].append(
        (instalment_id, pledge_id, 1, due_on, amount, "GBP", "paid" if paid else "scheduled", paid_at)
    )
    if method == "invoice":
        invoice_id = ids.next("invoice")
        numbered = not conditional
        rows["invoice"].append(
            (
                invoice_id,
                f"BENCH-{invoice_id:06d}" if numbered else None,
                "invoice" if numbered else "proforma",
                "void" if status == "cancelled" else ("paid" if paid else "issued") if numbered else "proforma",
                pledge_id,
                instalment_id,
                amount,
                "GBP",
                po,
                council_name,
                contact,
                f"accounts.{pledge_id}@council.example",
                address,
                issued_on,
                due_on,
                created,
            )
        )
    if paid and paid_at is not None:
        rows["payment"].append(_payment(ids, pledge_id, instalment_id, amount, "bank_transfer", paid_at, 0, plan.now))
    return rows


# --- Writing ---------------------------------------------------------------------------------


# Columns holding dates and times, which SQLite stores as text (booleans go in as integers by themselves).
TEMPORAL_COLUMNS = frozenset(
    {"created_at", "updated_at", "succeeded_at", "paid_at", "received_on", "due_on", "issued_on"}
)


def _sqlite_value(value: Any) -> Any:
    """A date or time as SQLAlchemy stores it on SQLite (text); anything else unchanged."""
    if isinstance(value, datetime):
        return value.isoformat(" ", "microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sqlite_rows(columns: Sequence[str], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    temporal = [i for i, name in enumerate(columns) if name in TEMPORAL_COLUMNS]
    adapted = []
    for row in rows:
        values = list(row)
        for i in temporal:
            values[i] = _sqlite_value(values[i])
        adapted.append(tuple(values))
    return adapted


def _writer(dbapi_connection: Any, dialect: str) -> Callable[[str, Sequence[str], list[tuple[Any, ...]]], None]:
    """A function that writes rows to a table through the driver, in the open transaction."""
    if dialect == "postgresql":

        def copy(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
            with (
                dbapi_connection.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as stream,
            ):
                for row in rows:
                    stream.write_row(row)

        return copy

    def insert(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608 - our own table and column names
        cursor = dbapi_connection.cursor()
        try:
            cursor.executemany(statement, _sqlite_rows(columns, rows))
        finally:
            cursor.close()

    return insert


# --- Loading ---------------------------------------------------------------------------------


def _fixed_rows(now: datetime) -> tuple[Any, list[Any], Any]:
    """The campaign, councils, sponsor, treasurer, offer and impact rows, through the ORM (few rows)."""
    from app.extensions import db
    from app.models import (
        Campaign,
        CampaignStatus,
        CampaignUpdate,
        CouncilType,
        FundingModel,
        ImpactEntry,
        ImpactMetric,
        ImpactStory,
        MatchEligibility,
        MatchOffer,
        MatchStatus,
        Organisation,
        OrganisationKind,
        Outgoing,
        OutgoingCategory,
        Role,
        User,
        UserSession,
    )
    from app.models.user import session_token_hash

    closes = now + timedelta(days=30)
    year = closes.year + (1 if closes.month >= 4 else 0)
    funding_start = date(year, 4, 1)
    campaign = Campaign(
        slug=CAMPAIGN_SLUG,
        title="Pipeline community manager (benchmark)",
        summary="Fund a community manager who makes cross-council collaboration happen.",
        body="Why this matters.\n\nWhat the role does.\n\nWhat happens next.",
        target_pence=48_000_00,
        currency="GBP",
        funding_model=FundingModel.ALL_OR_NOTHING,
        min_councils=10,
        opens_at=now - timedelta(days=DAYS + 1),
        closes_at=closes,
        funding_starts_on=funding_start,
        funding_ends_on=date(year + 1, 3, 31),
        annual_cost_pence=48_000_00,
        status=CampaignStatus.LIVE,
    )
    types = list(CouncilType)
    councils = [
        Organisation(
            name=f"Benchmark Council {i:03d}",
            slug=f"bench-council-{i:03d}",
            kind=OrganisationKind.COUNCIL,
            council_type=types[i % len(types)],
            population=50_000 + i * 1_000,
        )
        for i in range(1, COUNCILS + 1)
    ]
    sponsor = Organisation(name="Benchmark Sponsor Ltd", slug="bench-sponsor", kind=OrganisationKind.SPONSOR)
    treasurer = User(
        email="treasurer@bench.example",
        name="Benchmark Treasurer",
        password_hash="!",  # noqa: S106 - matches no password: nobody signs in as this user
        role=Role.TREASURER,
    )
    db.session.add_all([campaign, *councils, sponsor, treasurer])
    db.session.flush()
    # The session the bench's requests for the treasurer's pages carry (see inprocess.py).
    db.session.add(
        UserSession(
            user_id=treasurer.id,
            token_hash=session_token_hash(TREASURER_SESSION_TOKEN),
            expires_at=now + timedelta(days=3650),
        )
    )
    db.session.add(
        MatchOffer(
            campaign_id=campaign.id,
            sponsor_id=sponsor.id,
            ratio_bp=5_000,
            cap_pence=10_000_00,
            currency="GBP",
            eligibility=MatchEligibility.COUNCILS,
            conditional=True,
            status=MatchStatus.ACTIVE,
        )
    )
    for i, metric in enumerate(ImpactMetric):
        db.session.add(
            ImpactEntry(
                campaign_id=campaign.id,
                recorded_on=funding_start + timedelta(days=20 + i),
                metric=metric,
                value=3 + i * 7,
                note="",
            )
        )
    for i in range(3):
        db.session.add(
            ImpactStory(
                campaign_id=campaign.id,
                title=f"Councils shared their work, part {i + 1}",
                text="Six councils met to share their planning forms and agreed one between them.",
                published_on=funding_start + timedelta(days=30 + i),
            )
        )
        db.session.add(
            CampaignUpdate(
                campaign_id=campaign.id, title=f"Update {i + 1}", body="News.", published_at=now - timedelta(days=i)
            )
        )
    for i, category in enumerate(OutgoingCategory):
        db.session.add(
            Outgoing(
                campaign_id=campaign.id,
                spent_on=funding_start + timedelta(days=29 + i),
                category=category,
                amount_pence=3_500_00 if i == 0 else 150_00 * (i + 1),
                currency="GBP",
                description=category.label,
            )
        )
    db.session.flush()
    return campaign, councils, sponsor


def load(size: int, *, now: datetime | None = None, progress: Callable[[str], None] | None = None) -> Info:
    """Load a benchmark campaign with `size` pledges into the current app's database and commit.

    Raises DatasetError if `totals.verify()` finds any difference afterwards.
    """
    from sqlalchemy import func, select, text, update

    from app.extensions import db
    from app.ledger import rollups, totals
    from app.models import Campaign

    say = progress or (lambda message: None)
    began = time.perf_counter()
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    campaign, councils, sponsor = _fixed_rows(moment)
    dialect = db.session.get_bind().dialect.name
    start = {
        table: int(db.session.scalar(select(func.coalesce(func.max(text("id")), 0)).select_from(text(table))) or 0)
        for table in TABLES
    }
    ids = _Ids(start)
    plan = Plan(
        size=size,
        campaign_id=campaign.id,
        council_ids=[c.id for c in councils],
        council_names=[c.name for c in councils],
        sponsor_id=sponsor.id,
        now=moment.replace(tzinfo=None),
    )
    write = _writer(db.session.connection().connection.dbapi_connection, dialect)
    counts = Counts()
    for batch in generate(plan, ids, counts):
        # Parents before children: pledges, then instalments, then invoices and payments.
        for table in ("pledge", "instalment", "invoice", "payment"):
            if batch[table]:
                write(table, TABLES[table], batch[table])
        counts.pledges += len(batch["pledge"])
        counts.payments += len(batch["payment"])
        counts.instalments += len(batch["instalment"])
        counts.invoices += len(batch["invoice"])
        if counts.pledges % 100_000 < BATCH:
            say(f"{counts.pledges:,} of {size:,} pledges written")
    say(f"written in {time.perf_counter() - began:.0f} s")
    if dialect == "postgresql":
        for table in TABLES:
            db.session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")  # noqa: S608 - our table names
            )
        # As autovacuum would soon after a load this size. Without statistics the planner takes
        # the new tables for empty, and the ledger sums below join them row by row for minutes.
        db.session.execute(text(f"ANALYZE {', '.join(TABLES)}"))
    say("rebuilding the roll-ups and totals from the ledger")
    rollups.rebuild([campaign.id])
    ledger = asdict(totals.from_ledger(campaign.id))
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(**ledger, totals_version=Campaign.totals_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    say(f"checking the totals against the ledger ({time.perf_counter() - began:.0f} s so far)")
    differences = totals.verify()
    if differences:
        shown = "; ".join(f"{d.campaign_slug} {d.field}: stored {d.stored}, ledger {d.ledger}" for d in differences[:5])
        raise DatasetError(f"{len(differences)} differences after loading {size} pledges: {shown}")
    return Info(
        size=size,
        campaign_id=campaign.id,
        campaign_slug=campaign.slug,
        pledges=counts.pledges,
        payments=counts.payments,
        instalments=counts.instalments,
        invoices=counts.invoices,
        by_status=dict(sorted(counts.by_status.items())),
        totals=ledger,
        seconds=round(time.perf_counter() - began, 2),
    )


def schema_head() -> str:
    """The migrations' head revision: a dataset built on another schema is built again."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return "-".join(sorted(ScriptDirectory.from_config(config).get_heads()))


def build(url: str, size: int, *, progress: Callable[[str], None] | None = None) -> Info:
    """Migrate the (empty) database at `url` and load a dataset of `size` pledges into it."""
    import tempfile

    from app import create_app

    with tempfile.TemporaryDirectory(prefix="pledgeline-bench-build-") as scratch:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "MAIL_OUTBOX_DIR": scratch, "REPORT_CACHE_DIR": scratch})
        return _build(app, size, progress)


def _build(app: Any, size: int, progress: Callable[[str], None] | None) -> Info:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.extensions import db, init_migrations

    init_migrations(app)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS))
        info = load(size, progress=progress)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would, soon after a load this size
        else:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.session.remove()
        db.engine.dispose()
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="an empty database (SQLAlchemy URL)")
    parser.add_argument("--size", type=int, required=True, help="how many pledges")
    args = parser.parse_args()
    info = build(args.url, args.size, progress=lambda message: print(f"  {message}", flush=True))
    print(json.dumps(asdict(info)))


if __name__ == "__main__":
    main()
