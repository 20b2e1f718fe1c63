"""Every pledge, filtered, searched, sorted and paged by keyset: the right rows on every page."""

from __future__ import annotations

import html as html_module
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import (
    EmailMessage,
    Frequency,
    Payment,
    PaymentMethod,
    Pledge,
    PledgerKind,
    PledgeStatus,
    utcnow,
)
from app.treasury import dashboard
from tests.factories import CampaignFactory, OrganisationFactory, insert_pledges
from tests.helpers import PageClient
from tests.treasurer.conftest import Ledger

STATUSES = [PledgeStatus.COMMITTED, PledgeStatus.ACTIVE, PledgeStatus.PENDING, PledgeStatus.CANCELLED]
KINDS = [PledgerKind.INDIVIDUAL, PledgerKind.COUNCIL, PledgerKind.SPONSOR]


@pytest.fixture
def many() -> tuple[str, list[Pledge]]:
    """137 pledges whose times and amounts tie in runs, across statuses, kinds and methods."""
    campaign = CampaignFactory(slug="many")
    CampaignFactory(slug="other")  # pledges elsewhere never show up here
    council = OrganisationFactory(name="Tiesborough Council")
    base = utcnow().replace(microsecond=0) - timedelta(days=3)
    rows = []
    for i in range(137):
        kind = KINDS[i % 3]
        rows.append(
            {
                "created_at": base + timedelta(minutes=i // 7),  # seven pledges share each minute
                "commitment_pence": 100 * (i % 5 + 1),  # and amounts tie too
                "amount_pence": 100 * (i % 5 + 1),
                "status": STATUSES[i % 4].value,
                "pledger_kind": kind.value,
                "organisation_id": council.id if kind == PledgerKind.COUNCIL else None,
                "method": (PaymentMethod.INVOICE if kind == PledgerKind.COUNCIL else PaymentMethod.CARD).value,
                "frequency": (Frequency.MONTHLY if i % 6 == 0 else Frequency.ONE_OFF).value,
                "is_conditional": i % 2 == 0,
                "name": f"Person {i:03d}",
                "email": f"person{i:03d}@example.org",
                "po_number": f"PO-{i:04d}" if kind == PledgerKind.COUNCIL else None,
            }
        )
    insert_pledges(campaign, rows)
    other = db.session.scalar(select(dashboard.Campaign).where(dashboard.Campaign.slug == "other"))
    assert other is not None
    insert_pledges(other, [{"name": "Person 000", "email": "person000@example.org"}])
    pledges = list(db.session.scalars(select(Pledge).where(Pledge.campaign_id == campaign.id)))
    return campaign.slug, pledges


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-pledge-id="(\d+)"', html)]


def _link(html: str, rel: str) -> str | None:
    match = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return html_module.unescape(match[1]) if match else None


def _walk(page: PageClient, url: str) -> list[list[int]]:
    """Follow "next" links from `url` to the end, then "previous" links back, checking both ways agree."""
    forward: list[list[int]] = []
    html = page.get(url).get_data(as_text=True)
    assert _link(html, "prev") is None
    while True:
        forward.append(_ids(html))
        next_url = _link(html, "next")
        if next_url is None:
            break
        html = page.get(next_url).get_data(as_text=True)
    backward = [_ids(html)]
    while (previous := _link(html, "prev")) is not None:
        html = page.get(previous).get_data(as_text=True)
        backward.append(_ids(html))
    assert backward[::-1] == forward, "paging back does not retrace the pages"
    return forward


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [
        ("newest", lambda p: (p.created_at, p.id), True),
        ("oldest", lambda p: (p.created_at, p.id), False),
        ("largest", lambda p: (p.commitment_pence, p.id), True),
        ("smallest", lambda p: (p.commitment_pence, p.id), False),
    ],
)
def test_paging_through_ties_shows_every_pledge_once_in_order(
    treasurer: PageClient,
    many: tuple[str, list[Pledge]],
    sort: str,
    key,
    descending: bool,  # type: ignore[no-untyped-def]
) -> None:
    slug, pledges = many
    pages = _walk(treasurer, f"/treasurer/campaigns/{slug}/pledges?sort={sort}")

    assert [len(p) for p in pages] == [50, 50, 37]
    expected = [p.id for p in sorted(pledges, key=key, reverse=descending)]
    assert [i for page in pages for i in page] == expected


def test_filters_hold_across_page_boundaries(treasurer: PageClient, many: tuple[str, list[Pledge]]) -> None:
    slug, pledges = many
    url = f"/treasurer/campaigns/{slug}/pledges?status=committed&conditional=yes&sort=largest"
    pages = _walk(treasurer, url)

    expected = sorted(
        (p for p in pledges if p.status == PledgeStatus.COMMITTED and p.is_conditional),
        key=lambda p: (p.commitment_pence, p.id),
        reverse=True,
    )
    assert [i for page in pages for i in page] == [p.id for p in expected]
    assert len(expected) > 0


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        (
            "status=cancelled&kind=council",
            lambda p: p.status == PledgeStatus.CANCELLED and p.pledger_kind == PledgerKind.COUNCIL,
        ),
        ("method=invoice", lambda p: p.method == PaymentMethod.INVOICE),
        ("frequency=monthly&conditional=no", lambda p: p.frequency == Frequency.MONTHLY and not p.is_conditional),
        (
            "kind=sponsor&status=pending",
            lambda p: p.pledger_kind == PledgerKind.SPONSOR and p.status == PledgeStatus.PENDING,
        ),
        ("q=person 01", lambda p: p.name.startswith("Person 01")),
        ("q=PERSON042@EXAMPLE.ORG", lambda p: p.email == "person042@example.org"),
        ("q=tiesborough", lambda p: p.pledger_kind == PledgerKind.COUNCIL),
        ("q=po-0013", lambda p: p.po_number == "PO-0013"),
        ("q=100%25", lambda p: False),  # a literal % matches nothing, rather than everything
    ],
)
def test_each_filter_and_search_finds_exactly_the_matching_pledges(
    treasurer: PageClient,
    many: tuple[str, list[Pledge]],
    query: str,
    wanted,  # type: ignore[no-untyped-def]
) -> None:
    slug, pledges = many
    pages = _walk(treasurer, f"/treasurer/campaigns/{slug}/pledges?{query}")
    found = sorted(i for page in pages for i in page)
    assert found == sorted(p.id for p in pledges if wanted(p))


def test_searching_by_reference_finds_the_pledge_in_any_form(
    treasurer: PageClient, many: tuple[str, list[Pledge]]
) -> None:
    slug, pledges = many
    target = pledges[40]
    for text in (target.reference, target.reference.lower(), f"PL{target.id}", f" pl-{target.id:08d} "):
        html = treasurer.get(f"/treasurer/campaigns/{slug}/pledges", query_string={"q": text}).get_data(as_text=True)
        assert _ids(html) == [target.id], text


def test_a_reference_from_another_campaign_says_where_it_is(
    treasurer: PageClient, many: tuple[str, list[Pledge]]
) -> None:
    slug, _ = many
    elsewhere = db.session.scalar(select(Pledge).join(dashboard.Campaign).where(dashboard.Campaign.slug == "other"))
    assert elsewhere is not None
    html = treasurer.get(f"/treasurer/campaigns/{slug}/pledges", query_string={"q": elsewhere.reference}).get_data(
        as_text=True
    )
    assert "is a pledge to another campaign" in html and f"/treasurer/pledges/{elsewhere.id}" in html


def test_a_nonsense_choice_or_cursor_is_ignored_not_an_error(
    treasurer: PageClient, many: tuple[str, list[Pledge]]
) -> None:
    slug, _ = many
    html = treasurer.get(f"/treasurer/campaigns/{slug}/pledges?status=nonsense&after=garbage~x&sort=sideways").get_data(
        as_text=True
    )
    assert len(_ids(html)) == 50
    assert "Error:" in html.split("</title>")[0]  # the bad choice is reported


def test_the_overdue_filter_finds_pledges_with_an_overdue_invoice(treasurer: PageClient, ledger: Ledger) -> None:
    assert ledger.overdue_invoice.pledge_id is not None
    html = treasurer.get(f"/treasurer/campaigns/{ledger.campaign.slug}/pledges?overdue=y").get_data(as_text=True)
    assert _ids(html) == [ledger.overdue_invoice.pledge_id]
    assert "Overdue" in html


def test_the_first_page_reads_fifty_one_rows_not_the_table(many: tuple[str, list[Pledge]]) -> None:
    """Keyset paging: the query asks for a page and one more, whatever page it is."""
    from sqlalchemy import event

    slug, _ = many
    campaign = db.session.scalar(select(dashboard.Campaign).where(dashboard.Campaign.slug == slug))
    assert campaign is not None
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        first = dashboard.pledge_table(campaign, dashboard.PledgeFilters())
        dashboard.pledge_table(campaign, dashboard.PledgeFilters(), after=first.page.next)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    listing = [(s, p) for s, p in statements if "FROM pledge" in s and "LIMIT" in s]
    assert len(listing) == 2
    for statement, parameters in listing:
        # SQLite's dialect always writes "LIMIT ? OFFSET ?"; the offset must then be 0.
        assert "OFFSET" not in statement or (
            statement.rstrip().endswith("OFFSET ?") and list(parameters)[-2:] == [51, 0]
        )  # type: ignore[call-overload]
    # The second page starts after the first page's last (created_at, id): a range, not a count.
    assert "(pledge.created_at, pledge.id) < (" in listing[1][0]


def test_a_pledges_page_shows_its_history_instalments_payments_invoices_and_emails(
    treasurer: PageClient, ledger: Ledger
) -> None:
    pledge_id = ledger.overdue_invoice.pledge_id
    assert pledge_id is not None
    pledge = db.session.get(Pledge, pledge_id)
    assert pledge is not None

    html = treasurer.get(f"/treasurer/pledges/{pledge_id}").get_data(as_text=True)

    assert f"Pledge {pledge.reference}" in html
    # Two years promised toward a one-year funding period: one counts toward the target.
    assert "£3,000.00 (counts toward the target; £6,000.00 in all)" in html
    assert re.search(r"Campaign news by email\s*</dt>\s*<dd[^>]*>\s*No\s*</dd>", html)
    events = re.search(r'data-table="events".*?</table>', html, re.S)
    assert events and "Pending to Committed" in events[0] and "Purchase order received" in events[0]
    assert re.search(r'data-table="instalments".*?2 of 2', html, re.S)
    payments = re.search(r'data-table="payments".*?</table>', html, re.S)
    assert payments and "NORTH 1" in payments[0] and "£1,000.00" in payments[0] and "NORTH 2" in payments[0]
    invoices = re.search(r'data-table="invoices".*?</table>', html, re.S)
    assert invoices and ledger.overdue_invoice.number in invoices[0] and "Overdue" in invoices[0]
    assert "£2,500.00" in invoices[0]  # what is left to pay on the overdue one
    emails = re.search(r'data-table="emails".*?</table>', html, re.S)
    subjects = db.session.scalars(select(EmailMessage.subject).where(EmailMessage.pledge_id == pledge_id)).all()
    assert emails and subjects and all(html_module.escape(s, quote=False) in emails[0] for s in subjects)
    # Times are UK times.
    assert dashboard.LONDON.key == "Europe/London"
    made = pledge.created_at.astimezone(dashboard.LONDON)
    assert f"{made.day} {made:%B %Y}" in html


def test_a_card_pledges_page_shows_fees_refunds_and_a_failed_payment(treasurer: PageClient, ledger: Ledger) -> None:
    for name, text in (("Pam Part", "£12.50"), ("Dee Declined", "Your card was declined.")):
        pledge = db.session.scalar(select(Pledge).where(Pledge.name == name))
        assert pledge is not None
        html = treasurer.get(f"/treasurer/pledges/{pledge.id}").get_data(as_text=True)
        assert text in html
        assert db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id)).first() is not None


def test_an_unknown_pledge_is_not_found(treasurer: PageClient) -> None:
    treasurer.get("/treasurer/pledges/999999", status=404)


def test_a_page_reads_its_own_pledges_payments_however_many_there_are() -> None:
    """What each row has paid is summed from that page's pledges' payments alone: the same
    database work with 300 and with 3,000 paid pledges (work counted as in the roll-up tests)."""
    from sqlalchemy import insert
    from sqlalchemy import text as sql

    from app.models import Payment, PaymentMethod, PaymentStatus, utcnow
    from tests.factories import CampaignFactory, insert_pledges
    from tests.helpers import database_work

    campaign = CampaignFactory()

    def grow(count: int) -> None:
        insert_pledges(campaign, ({"name": f"Paid {n}"} for n in range(count)))
        unpaid = db.session.scalars(
            select(Pledge.id).where(Pledge.campaign_id == campaign.id, ~Pledge.id.in_(select(Payment.pledge_id)))
        ).all()
        now = utcnow()
        db.session.execute(
            insert(Payment.__table__),
            [
                {
                    "pledge_id": pledge_id,
                    "amount_pence": 25_00,
                    "currency": "GBP",
                    "fee_pence": 0,
                    "refunded_pence": 0,
                    "status": PaymentStatus.SUCCEEDED.value,
                    "method": PaymentMethod.CARD.value,
                    "created_at": now,
                    "updated_at": now,
                    "succeeded_at": now,
                }
                for pledge_id in unpaid
            ],
        )
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sql("ANALYZE payment"))
            db.session.execute(sql("ANALYZE pledge"))
            db.session.commit()

    def first_page() -> None:
        table = dashboard.pledge_table(campaign, dashboard.PledgeFilters())
        assert len(table.page.rows) == 50 and set(table.collected.values()) == {25_00}

    grow(300)
    small = database_work(first_page)
    grow(2_700)
    large = database_work(first_page)
    assert large <= small * 1.1, (small, large)
