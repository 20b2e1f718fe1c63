"""The treasurer's read side: a campaign's figures, its charts' data, the pledge table and the audit log.

The overview and the charts read the campaign's roll-ups (`ledger.rollups`: sums by kind of
pledge and status, and by UK day, kept in step with the totals in the same transaction as every
change), plus a few aggregate queries over invoices and councils' pledges, so their cost does
not grow with the number of pledges. The stored totals on the campaign row are compared with
the roll-ups, so a treasurer sees at once if the two ever differ; `flask totals verify` checks
both against the ledger itself.

The definitions, as the overview page states them:

- *pledged*: live pledges' commitments (committed, active or fulfilled) plus what cancelled
  pledges had paid before they were cancelled (the rule `ledger.totals` keeps);
- *collected*: succeeded payments less refunds;
- *matched*: Σ over active match offers of min(cap, eligible pledged × ratio), rounded down;
- an invoice is *overdue* when it is a numbered invoice, issued (not paid or void), past its due
  date, with money still owing against its instalment.

Tables are paged by keyset ("after this sort key and id"), never by OFFSET, so the thousandth
page costs what the first does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from app.campaigns import listing
from app.extensions import db
from app.ledger import rollups, totals
from app.models import (
    LIVE_STATUSES,
    AuditEntry,
    Campaign,
    EmailMessage,
    Frequency,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    MatchOffer,
    MatchStatus,
    Organisation,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Pledge,
    PledgeEvent,
    PledgerKind,
    PledgeStatus,
    User,
    parse_reference,
    utcnow,
)
from app.pledging import schedule
from app.reporting import charts

LONDON = ZoneInfo("Europe/London")
PAGE_SIZE = 50

KIND_LABELS = {PledgerKind.COUNCIL: "Councils", PledgerKind.INDIVIDUAL: "Individuals", PledgerKind.SPONSOR: "Sponsors"}
METHOD_LABELS = {
    PaymentMethod.CARD: "Card",
    PaymentMethod.INVOICE: "Invoice",
    PaymentMethod.BANK_TRANSFER: "Bank transfer",
}
FREQUENCY_LABELS = {f: f.label for f in Frequency}


# --- Time --------------------------------------------------------------------------------------


def london_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(LONDON).date()


def london_midnight(day: date) -> datetime:
    """The moment (in UTC) a day begins in the UK, for comparing with stored UTC times."""
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


# --- Definitions shared with the pledge table --------------------------------------------------


def invoice_paid_pence() -> Any:
    """What has been received against an invoice's instalment, less refunds (correlated to Invoice)."""
    return (
        select(func.coalesce(func.sum(Payment.amount_pence - Payment.refunded_pence), 0))
        .where(Payment.instalment_id == Invoice.instalment_id, Payment.status == PaymentStatus.SUCCEEDED)
        .correlate(Invoice)
        .scalar_subquery()
    )


def overdue_invoice(today: date | ColumnElement[date]) -> ColumnElement[bool]:
    """A numbered invoice, issued, past its due date, with money still owing (as `invoices.is_overdue`)."""
    return and_(
        Invoice.kind == InvoiceKind.INVOICE,
        Invoice.status == InvoiceStatus.ISSUED,
        Invoice.due_on < today,
        Invoice.amount_pence > invoice_paid_pence(),
    )


def overdue_pledge_ids(today: date) -> Select[Any]:
    """Ids of pledges with at least one overdue invoice (a short list: only councils are invoiced)."""
    return select(Invoice.pledge_id).where(Invoice.pledge_id.is_not(None), overdue_invoice(today))


# --- The overview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: live pledges, what they count as pledged, and what was collected."""

    key: str
    label: str
    count: int = 0
    pledged_pence: int = 0
    collected_pence: int = 0


@dataclass(frozen=True)
class StatusRow:
    status: PledgeStatus
    count: int
    commitment_pence: int


@dataclass(frozen=True)
class FunnelStep:
    key: str
    label: str
    definition: str
    count: int
    pence: int
    unit: str  # what `count` counts: "pledges", "invoices", "payments"


@dataclass(frozen=True)
class Difference:
    label: str
    stored: int
    ledger: int
    money: bool


@dataclass(frozen=True)
class Runway:
    """Months of the role's annual cost covered, in tenths of a month, rounded down."""

    tenths: int

    def __str__(self) -> str:
        return f"{self.tenths // 10}.{self.tenths % 10}"


def runway(pence: int, annual_cost_pence: int | None) -> Runway | None:
    """pence ÷ (annual cost ÷ 12), to one decimal place, rounded down, in whole-number arithmetic."""
    if not annual_cost_pence:
        return None
    return Runway(max(0, pence) * 120 // annual_cost_pence)


@dataclass
class Overview:
    campaign: Campaign
    target_pence: int
    pledged_pence: int
    collected_pence: int
    matched_pence: int
    pledge_count: int
    council_count: int
    days_left: int
    runway_collected: Runway | None
    runway_pledged: Runway | None
    funnel: list[FunnelStep]
    by_kind: list[Row]
    by_frequency: list[Row]
    by_method: list[Row]
    by_conditional: list[Row]
    by_status: list[StatusRow]
    fees_pence: int
    refunded_pence: int
    differences: list[Difference] = field(default_factory=list)

    @property
    def raised_pence(self) -> int:
        return self.pledged_pence + self.matched_pence

    @property
    def councils_needed(self) -> int:
        return max(0, self.campaign.min_councils - self.council_count)

    @property
    def percent(self) -> int:
        return self.raised_pence * 100 // self.target_pence if self.target_pence else 0


def read_one_snapshot() -> None:
    """Make the rest of this (read-only) request read from one snapshot of the database.

    The overview compares the campaign's stored totals with sums over the ledger; read at
    PostgreSQL's READ COMMITTED, a pledge made between those reads would show as a difference
    that is not there. So end the request's transaction so far (it has only read) and go on at
    REPEATABLE READ, as `totals.verify` does. A SQLite read transaction is a snapshot already.
    """
    session = db.session()
    if session.get_bind().dialect.name != "postgresql":
        return
    session.commit()
    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


@functools.cache
def _figures_statement() -> Select[Any]:
    """The overview's figures that are not in the roll-ups, in one statement built once.

    Councils that pledged (counted from the councils' pledges by their index), and numbered
    invoices and the overdue ones among them, driven from the invoices (a few per council pledge),
    each checked against its pledge by primary key, so a campaign's many card pledges are never read.
    """
    campaign_id = bindparam("campaign_id", type_=Integer)
    today = bindparam("today", type_=Date)
    overdue = overdue_invoice(today)
    return select(
        totals.council_count_query(campaign_id),
        func.count(),
        func.coalesce(func.sum(Invoice.amount_pence), 0),
        func.count(case((overdue, 1))),
        func.coalesce(func.sum(case((overdue, Invoice.amount_pence - invoice_paid_pence()), else_=0)), 0),
    ).where(
        Invoice.kind == InvoiceKind.INVOICE,
        Invoice.status != InvoiceStatus.VOID,
        exists().where(Pledge.id == Invoice.pledge_id, Pledge.campaign_id == campaign_id),
    )


def overview(campaign: Campaign, today: date | None = None) -> Overview:
    """Every figure on the campaign's overview, from its roll-ups and two small queries."""
    today = today or london_today()
    grouped = rollups.groups(campaign.id)
    council_count, invoiced_count, invoiced_pence, overdue_count, overdue_pence = db.session.execute(
        _figures_statement(), {"campaign_id": campaign.id, "today": today}
    ).one()
    offers = db.session.execute(
        select(MatchOffer.ratio_bp, MatchOffer.cap_pence, MatchOffer.eligibility).where(
            MatchOffer.campaign_id == campaign.id, MatchOffer.status == MatchStatus.ACTIVE
        )
    ).all()

    # The grouped rows are few (one per kind, frequency, method, status and condition in use).
    pledged_by: dict[tuple[Any, ...], list[int]] = {}  # group -> [count, commitment]
    paid_by: dict[tuple[Any, ...], list[int]] = {}  # group -> [payments, net, refunded, fees]
    for key, sums in grouped.items():
        if sums["pledge_count"] or sums["commitment_pence"]:
            pledged_by[key] = [sums["pledge_count"], sums["commitment_pence"]]
        if sums["payment_count"] or sums["net_pence"] or sums["refunded_pence"] or sums["fee_pence"]:
            paid_by[key] = [sums["payment_count"], sums["net_pence"], sums["refunded_pence"], sums["fee_pence"]]

    def contribution(group: tuple[Any, ...]) -> tuple[int, int, int]:
        """(live count, pledged, collected) for one group, by the totals' contribution rule."""
        status = group[3]
        count, commitment = pledged_by.get(group, [0, 0])
        collected = paid_by.get(group, [0, 0, 0, 0])[1]
        if status in LIVE_STATUSES:
            return count, commitment, collected
        if status == PledgeStatus.CANCELLED:
            return 0, collected, collected
        return 0, 0, collected

    groups = sorted(set(pledged_by) | set(paid_by), key=lambda g: tuple(str(part) for part in g))

    def breakdown(position: int, labels: dict[Any, str]) -> list[Row]:
        sums = {key: [0, 0, 0] for key in labels}
        for group in groups:
            count, pledged, collected = contribution(group)
            bucket = sums.setdefault(group[position], [0, 0, 0])
            bucket[0] += count
            bucket[1] += pledged
            bucket[2] += collected
        return [Row(str(key), labels[key], *sums[key]) for key in labels]

    by_kind = breakdown(0, KIND_LABELS)
    pledged = sum(row.pledged_pence for row in by_kind)
    collected = sum(row.collected_pence for row in by_kind)
    pledge_count = sum(row.count for row in by_kind)
    split = {row.key: row.pledged_pence for row in by_kind}
    matched = sum(
        totals.matched_by_rule(
            ratio_bp,
            cap,
            totals.eligible_pence(eligibility, split[PledgerKind.COUNCIL.value], split[PledgerKind.INDIVIDUAL.value]),
        )
        for ratio_bp, cap, eligibility in offers
    )

    by_status = []
    for status in PledgeStatus:
        count = sum(v[0] for g, v in pledged_by.items() if g[3] == status)
        commitment = sum(v[1] for g, v in pledged_by.items() if g[3] == status)
        by_status.append(StatusRow(status, count, commitment))
    status_count = {row.status: row.count for row in by_status}
    status_commitment = {row.status: row.commitment_pence for row in by_status}
    payments_count = sum(v[0] for v in paid_by.values())
    lost = (PledgeStatus.FAILED, PledgeStatus.RELEASED)

    funnel = [
        FunnelStep(
            "made",
            "Pledges made",
            "Every pledge made, whatever happened to it next, including any still waiting for card "
            "details (pending); the amount is everything they promised in the funding period. "
            "This is not the Pledged figure above, which counts only pledges that stand.",
            sum(status_count.values()),
            sum(status_commitment.values()),
            "pledges",
        ),
        FunnelStep(
            "committed",
            "Committed",
            "Pledges confirmed (card saved or purchase order received) and still standing: "
            "committed, active or fulfilled.",
            sum(status_count[s] for s in LIVE_STATUSES),
            sum(status_commitment[s] for s in LIVE_STATUSES),
            "pledges",
        ),
        FunnelStep(
            "invoiced",
            "Invoiced",
            "Numbered invoices issued for pledges, not void (pro-formas are not counted). Card "
            "pledges are charged without an invoice.",
            int(invoiced_count),
            int(invoiced_pence),
            "invoices",
        ),
        FunnelStep(
            "paid",
            "Paid",
            "Payments received by card or bank transfer, less refunds: the collected total.",
            payments_count,
            collected,
            "payments",
        ),
        FunnelStep(
            "overdue",
            "Overdue",
            "Numbered invoices issued, past their due date and not paid in full; the amount is what "
            "is still owed on them.",
            int(overdue_count),
            int(overdue_pence),
            "invoices",
        ),
        FunnelStep(
            "lost",
            "Failed or released",
            "Pledges that could not be confirmed (failed), and conditional pledges released because "
            "the campaign did not succeed: nothing is collected for them.",
            sum(status_count[s] for s in lost),
            sum(status_commitment[s] for s in lost),
            "pledges",
        ),
    ]

    result = Overview(
        campaign=campaign,
        target_pence=campaign.target_pence,
        pledged_pence=pledged,
        collected_pence=collected,
        matched_pence=matched,
        pledge_count=pledge_count,
        council_count=council_count,
        days_left=listing.days_left(campaign),
        runway_collected=runway(collected, campaign.annual_cost_pence),
        runway_pledged=runway(pledged, campaign.annual_cost_pence),
        funnel=funnel,
        by_kind=by_kind,
        by_frequency=breakdown(1, FREQUENCY_LABELS),
        by_method=breakdown(2, METHOD_LABELS),
        by_conditional=breakdown(4, {True: "Conditional", False: "Unconditional"}),
        by_status=by_status,
        fees_pence=sum(v[3] for v in paid_by.values()),
        refunded_pence=sum(v[2] for v in paid_by.values()),
    )
    for label, stored, ledger, money in (
        ("Pledged", campaign.pledged_pence, pledged, True),
        ("Collected", campaign.collected_pence, collected, True),
        ("Matched", campaign.matched_pence, matched, True),
        ("Live pledges", campaign.pledge_count, pledge_count, False),
        ("Councils", campaign.council_count, council_count, False),
    ):
        if stored != ledger:
            result.differences.append(Difference(label, stored, ledger, money))
    return result


# --- Charts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartData:
    """Money by UK day, as the charts need it: pledged by the day each pledge was made, and
    collected by the day the money arrived."""

    pledged: list[tuple[date, int]]  # (day, change)
    collected: list[tuple[date, int]]


def chart_data(campaign: Campaign) -> ChartData:
    """From the campaign's daily roll-up: one row per day with any money, however many pledges."""
    by_day = sorted(rollups.days(campaign.id).items())
    return ChartData(
        pledged=[(day, sums["pledged_pence"]) for day, sums in by_day if sums["pledged_pence"]],
        collected=[(day, sums["collected_pence"]) for day, sums in by_day if sums["collected_pence"]],
    )


@dataclass(frozen=True)
class Charts:
    progress: charts.LineChart
    by_kind: charts.BarChart
    by_month: charts.BarChart
    year: int  # the financial year the monthly chart shows (the year it starts)
    years: list[int]  # financial years with money collected, for choosing another


def collection_years(data: ChartData, today: date) -> list[int]:
    years = {schedule.financial_year_of(day) for day, amount in data.collected if amount}
    years.add(schedule.financial_year_of(today))
    return sorted(years)


def build_charts(campaign: Campaign, view: Overview, year: int | None = None, today: date | None = None) -> Charts:
    """The overview's three charts, from `chart_data` and the overview's own figures."""
    today = today or london_today()
    data = chart_data(campaign)
    currency = campaign.currency
    money = campaign.money

    pledged_points = charts.cumulative(data.pledged)
    collected_points = charts.cumulative(data.collected)
    opened = campaign.opens_at.astimezone(LONDON).date()
    closes = campaign.closes_at.astimezone(LONDON).date()
    days = [day for day, _ in pledged_points + collected_points]
    start = min([opened, *days])
    end = max([min(today, closes) if today >= opened else opened, *days])
    reached = "has reached" if view.raised_pence >= campaign.target_pence else "has not yet reached"
    progress = charts.line_chart(
        "chart-progress",
        title="Pledged and collected over time",
        description=(
            f"Pledged {money(view.pledged_pence)} and collected {money(view.collected_pence)} by "
            f"{end.day} {charts.MONTH_NAMES[end.month - 1]} {end.year}, against a target of "
            f"{money(campaign.target_pence)}. With {money(view.matched_pence)} matched, the campaign "
            f"{reached} its target."
        ),
        series=[("Pledged", "pledged", pledged_points), ("Collected", "collected", collected_points)],
        start=start,
        end=end,
        target_pence=campaign.target_pence,
        currency=currency,
    )

    kinds = view.by_kind
    by_kind = charts.bar_chart(
        "chart-kinds",
        title="Pledged and collected by who pledged",
        description="; ".join(
            f"{row.label}: {money(row.pledged_pence)} pledged, {money(row.collected_pence)} collected" for row in kinds
        )
        + ".",
        categories=[row.label for row in kinds],
        series=[
            charts.Series("Pledged", "pledged", [row.pledged_pence for row in kinds]),
            charts.Series("Collected", "collected", [row.collected_pence for row in kinds]),
        ],
        currency=currency,
    )

    years = collection_years(data, today)
    if year is None:
        with_money = [y for y in years if any(schedule.financial_year_of(d) == y and a for d, a in data.collected)]
        year = with_money[-1] if with_money else schedule.financial_year_of(today)
    months = [0] * 12
    for day, amount in data.collected:
        if schedule.financial_year_of(day) == year:
            months[(day.month - 4) % 12] += amount
    month_numbers = [(4 + i - 1) % 12 + 1 for i in range(12)]
    label = schedule.financial_year_label(date(year, 4, 1))
    busiest = max(range(12), key=lambda i: (months[i], -i))
    by_month = charts.column_chart(
        "chart-months",
        title=f"Collected by month, financial year {label}",
        description=(
            f"{money(sum(months))} collected in the financial year {label} (April to March)"
            + (
                f"; the most in {charts.MONTH_NAMES[month_numbers[busiest] - 1]}: {money(months[busiest])}."
                if sum(months)
                else "."
            )
        ),
        categories=[charts.MONTHS[m - 1] for m in month_numbers],
        table_categories=[f"{charts.MONTH_NAMES[m - 1]} {year if m >= 4 else year + 1}" for m in month_numbers],
        series=charts.Series("Collected", "collected", months),
        currency=currency,
    )
    return Charts(progress=progress, by_kind=by_kind, by_month=by_month, year=year, years=years)


# --- Keyset pagination -------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Cursor:
    """A position in a sorted table: the sort key of a row and its id (which breaks ties)."""

    key: Any
    id: int

    def encode(self) -> str:
        key = self.key
        if isinstance(key, datetime):
            key = key.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        return f"{key}~{self.id}"


def decode_cursor(text: str | None, kind: type) -> Cursor | None:
    """The cursor in a next/previous link, or None for one that cannot be read (start again)."""
    if not text or "~" not in text:
        return None
    key_text, _, id_text = text.rpartition("~")
    try:
        row_id = int(id_text)
        key: Any = datetime.fromisoformat(key_text).replace(tzinfo=UTC) if kind is datetime else int(key_text)
    except ValueError:
        return None
    if kind is datetime and "T" not in key_text:
        return None
    return Cursor(key, row_id)


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    next: Cursor | None  # where the next page starts after (None: this is the last)
    previous: Cursor | None  # where the previous page ends before (None: this is the first)


def keyset_page(
    statement: Select[Any],
    key: Any,
    row_id: Any,
    *,
    descending: bool,
    after: Cursor | None,
    before: Cursor | None,
    key_of: Callable[[Any], Cursor],
    size: int = PAGE_SIZE,
    scalars: bool = True,
) -> Page[Any]:
    """One page of `statement` sorted by (key, id), starting after `after` or ending before `before`.

    Fetches one row more than a page to know whether another page follows. The comparison is on
    the pair (key, id), so rows that tie on the key are neither skipped nor repeated.
    """
    pair = tuple_(key, row_id)
    if before is not None:
        # Walk backwards from the cursor, then put the rows back in display order.
        condition = pair > tuple_(before.key, before.id) if descending else pair < tuple_(before.key, before.id)
        order = (key.asc(), row_id.asc()) if descending else (key.desc(), row_id.desc())
    else:
        order = (key.desc(), row_id.desc()) if descending else (key.asc(), row_id.asc())
        condition = None
        if after is not None:
            condition = pair < tuple_(after.key, after.id) if descending else pair > tuple_(after.key, after.id)
    if condition is not None:
        statement = statement.where(condition)
    statement = statement.order_by(*order).limit(size + 1)
    result = db.session.scalars(statement) if scalars else db.session.execute(statement)
    rows = list(result.all())
    more = len(rows) > size
    rows = rows[:size]
    if before is not None:
        rows.reverse()
        has_previous, has_next = more, True
    else:
        has_previous, has_next = after is not None, more
    return Page(
        rows=rows,
        next=key_of(rows[-1]) if has_next and rows else None,
        previous=key_of(rows[0]) if has_previous and rows else None,
    )


# --- The pledge table --------------------------------------------------------------------------

SORTS: dict[str, tuple[str, bool]] = {
    # name: (column, descending)
    "newest": ("created_at", True),
    "oldest": ("created_at", False),
    "largest": ("commitment_pence", True),
    "smallest": ("commitment_pence", False),
}


@dataclass(frozen=True)
class PledgeFilters:
    status: PledgeStatus | None = None
    kind: PledgerKind | None = None
    method: PaymentMethod | None = None
    frequency: Frequency | None = None
    conditional: bool | None = None
    overdue: bool = False
    search: str = ""
    sort: str = "newest"


def search_condition(text: str) -> ColumnElement[bool]:
    """What a search box finds: a reference (PL-000123), an email address, or text in a name,
    email, council name or purchase order number (case does not matter)."""
    text = " ".join(text.split())
    reference = parse_reference(text)
    if reference is not None:
        return Pledge.id == reference
    lowered = text.lower()
    if "@" in lowered and " " not in lowered and "." in lowered.rpartition("@")[2]:
        return Pledge.email == lowered  # a whole address: the email index finds it
    councils = select(Organisation.id).where(func.lower(Organisation.name).contains(lowered, autoescape=True))
    return or_(
        func.lower(Pledge.name).contains(lowered, autoescape=True),
        Pledge.email.contains(lowered, autoescape=True),
        func.lower(Pledge.po_number).contains(lowered, autoescape=True),
        Pledge.organisation_id.in_(councils),
    )


def pledge_conditions(campaign: Campaign, filters: PledgeFilters, today: date) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Pledge.campaign_id == campaign.id]
    if filters.status is not None:
        conditions.append(Pledge.status == filters.status)
    if filters.kind is not None:
        conditions.append(Pledge.pledger_kind == filters.kind)
    if filters.method is not None:
        conditions.append(Pledge.method == filters.method)
    if filters.frequency is not None:
        conditions.append(Pledge.frequency == filters.frequency)
    if filters.conditional is not None:
        conditions.append(Pledge.is_conditional.is_(filters.conditional))
    if filters.overdue:
        conditions.append(Pledge.id.in_(overdue_pledge_ids(today)))
    if filters.search.strip():
        conditions.append(search_condition(filters.search))
    return conditions


@dataclass(frozen=True)
class PledgeTable:
    page: Page[Pledge]
    overdue_ids: frozenset[int]
    collected: dict[int, int]  # pledge id -> collected pence (this page's pledges only)


def pledge_table(
    campaign: Campaign,
    filters: PledgeFilters,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    today: date | None = None,
    size: int = PAGE_SIZE,
) -> PledgeTable:
    """One page of the campaign's pledges, filtered and sorted, with what each has paid and owes."""
    today = today or london_today()
    column_name, descending = SORTS.get(filters.sort, SORTS["newest"])
    key = getattr(Pledge, column_name)
    statement = (
        select(Pledge).options(joinedload(Pledge.organisation)).where(*pledge_conditions(campaign, filters, today))
    )
    page: Page[Pledge] = keyset_page(
        statement,
        key,
        Pledge.id,
        descending=descending,
        after=after,
        before=before,
        key_of=lambda pledge: Cursor(getattr(pledge, column_name), pledge.id),
        size=size,
    )
    ids = [pledge.id for pledge in page.rows]
    overdue: frozenset[int] = frozenset()
    collected: dict[int, int] = {}
    if ids:
        overdue = frozenset(
            db.session.scalars(
                select(Invoice.pledge_id).where(Invoice.pledge_id.in_(ids), overdue_invoice(today)).distinct()
            )
        )
        # The status test is inside the sum, not the WHERE clause: with it there, SQLite (without
        # statistics) reads every succeeded payment by the status index instead of this page's
        # fifty pledges' payments by the pledge index (2.5 ms became 240 ms at a million pledges).
        succeeded = Payment.status == PaymentStatus.SUCCEEDED
        collected = {
            pledge_id: int(total or 0)
            for pledge_id, total in db.session.execute(
                select(
                    Payment.pledge_id,
                    func.sum(case((succeeded, Payment.amount_pence - Payment.refunded_pence), else_=0)),
                )
                .where(Payment.pledge_id.in_(ids))
                .group_by(Payment.pledge_id)
            )
        }
    return PledgeTable(page=page, overdue_ids=overdue, collected=collected)


def cursor_kind(sort: str) -> type:
    return datetime if SORTS.get(sort, SORTS["newest"])[0] == "created_at" else int


# --- One pledge --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLine:
    invoice: Invoice
    paid_pence: int
    balance_pence: int
    overdue: bool


@dataclass(frozen=True)
class PledgeRecord:
    pledge: Pledge
    events: list[PledgeEvent]
    payments: list[Payment]
    invoices: list[InvoiceLine]
    emails: list[EmailMessage]
    people: dict[int, User]  # who acted in the events, by id
    collected_pence: int
    refunded_pence: int


def pledge_record(pledge_id: int, today: date | None = None) -> PledgeRecord | None:
    """A pledge and everything that happened to it, for its page: a few rows each, by its id."""
    today = today or london_today()
    pledge = db.session.scalar(
        select(Pledge)
        .options(joinedload(Pledge.organisation), joinedload(Pledge.campaign))
        .where(Pledge.id == pledge_id)
    )
    if pledge is None:
        return None
    events = list(
        db.session.scalars(select(PledgeEvent).where(PledgeEvent.pledge_id == pledge.id).order_by(PledgeEvent.id))
    )
    payments = list(
        db.session.scalars(
            select(Payment)
            .options(joinedload(Payment.instalment))
            .where(Payment.pledge_id == pledge.id)
            .order_by(Payment.created_at, Payment.id)
        )
    )
    paid = invoice_paid_pence()
    invoice_rows = db.session.execute(
        select(Invoice, paid, overdue_invoice(today))
        .where(Invoice.pledge_id == pledge.id)
        .order_by(Invoice.issued_on, Invoice.id)
    ).all()
    invoices = [
        InvoiceLine(
            invoice=invoice,
            paid_pence=int(received or 0),
            balance_pence=invoice.amount_pence - int(received or 0),
            overdue=bool(is_overdue),
        )
        for invoice, received, is_overdue in invoice_rows
    ]
    emails = list(
        db.session.scalars(
            select(EmailMessage)
            .where(EmailMessage.pledge_id == pledge.id)
            .order_by(EmailMessage.created_at, EmailMessage.id)
        )
    )
    actor_ids = {event.actor_id for event in events if event.actor_id is not None}
    if pledge.user_id is not None:
        actor_ids.add(pledge.user_id)
    people = (
        {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(actor_ids)))} if actor_ids else {}
    )
    succeeded = [p for p in payments if p.status == PaymentStatus.SUCCEEDED]
    return PledgeRecord(
        pledge=pledge,
        events=events,
        payments=payments,
        invoices=invoices,
        emails=emails,
        people=people,
        collected_pence=sum(p.amount_pence - p.refunded_pence for p in succeeded),
        refunded_pence=sum(p.refunded_pence for p in succeeded),
    )


# --- The audit log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""  # part of a name or email address, or "system" for entries with no person
    date_from: date | None = None
    date_to: date | None = None


def audit_actions() -> list[str]:
    """Every action the log has recorded, for the filter (read from the action index)."""
    return list(db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def audit_conditions(filters: AuditFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.action:
        conditions.append(AuditEntry.action == filters.action)
    actor = " ".join(filters.actor.split()).lower()
    if actor == "system":
        conditions.append(AuditEntry.actor_id.is_(None))
    elif actor:
        people = select(User.id).where(
            or_(
                func.lower(User.name).contains(actor, autoescape=True),
                User.email.contains(actor, autoescape=True),
            )
        )
        conditions.append(AuditEntry.actor_id.in_(people))
    if filters.date_from is not None:
        conditions.append(AuditEntry.created_at >= london_midnight(filters.date_from))
    if filters.date_to is not None:
        conditions.append(AuditEntry.created_at < london_midnight(filters.date_to + timedelta(days=1)))
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        conditions.append(false())
    return conditions


@dataclass(frozen=True)
class AuditLog:
    page: Page[AuditEntry]
    people: dict[int, User]


def audit_log(
    filters: AuditFilters, *, after: Cursor | None = None, before: Cursor | None = None, size: int = PAGE_SIZE
) -> AuditLog:
    """A page of the audit log, newest first."""
    statement = select(AuditEntry).where(*audit_conditions(filters))
    page: Page[AuditEntry] = keyset_page(
        statement,
        AuditEntry.created_at,
        AuditEntry.id,
        descending=True,
        after=after,
        before=before,
        key_of=lambda entry: Cursor(entry.created_at, entry.id),
        size=size,
    )
    ids = {entry.actor_id for entry in page.rows if entry.actor_id is not None}
    people = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return AuditLog(page=page, people=people)


def targets(entries: Sequence[AuditEntry]) -> dict[tuple[str, int], Any]:
    """What each entry's target is, loaded a type at a time, for labels and links."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        if entry.target_type and entry.target_id is not None:
            wanted.setdefault(entry.target_type, set()).add(entry.target_id)
    models: dict[str, Any] = {
        "pledge": Pledge,
        "invoice": Invoice,
        "payment": Payment,
        "campaign": Campaign,
        "match_offer": MatchOffer,
        "organisation": Organisation,
        "user_account": User,
    }
    found: dict[tuple[str, int], Any] = {}
    for kind, ids in wanted.items():
        model = models.get(kind)
        if model is None:
            continue
        for row in db.session.scalars(select(model).where(model.id.in_(ids))):
            found[(kind, row.id)] = row
    return found
