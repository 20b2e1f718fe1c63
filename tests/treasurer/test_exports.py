"""CSV exports: what the database holds, safe to open in a spreadsheet, streamed in bounded memory."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Boolean, Integer, String, case, cast, func, insert, literal, select

from app.extensions import db
from app.models import AuditEntry, Invoice, Payment, PaymentStatus, Pledge
from app.models.types import UTCDateTime
from app.treasury import exports
from tests.factories import CampaignFactory, insert_pledges
from tests.helpers import PageClient
from tests.treasurer.conftest import Ledger


def _csv(client: FlaskClient, url: str, **query: str) -> list[dict[str, str]]:
    response = client.get(url, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv" and response.mimetype_params.get("charset") == "utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    text = response.get_data().decode("utf-8")  # strict: the file is valid UTF-8
    return list(csv.DictReader(io.StringIO(text)))


def test_every_export_has_the_databases_rows_and_sums(treasurer_client: FlaskClient, ledger: Ledger) -> None:
    campaign = ledger.campaign
    url = f"/treasurer/campaigns/{campaign.slug}/export"
    pledge_ids = select(Pledge.id).where(Pledge.campaign_id == campaign.id)

    pledges = _csv(treasurer_client, url, kind="pledges")
    assert list(pledges[0]) == list(exports.PLEDGES.header)
    assert len(pledges) == db.session.scalar(
        select(func.count()).select_from(Pledge).where(Pledge.campaign_id == campaign.id)
    )
    assert sum(int(r["commitment_pence"]) for r in pledges) == db.session.scalar(
        select(func.sum(Pledge.commitment_pence)).where(Pledge.campaign_id == campaign.id)
    )
    collected = db.session.scalar(
        select(func.sum(Payment.amount_pence - Payment.refunded_pence)).where(
            Payment.pledge_id.in_(pledge_ids), Payment.status == PaymentStatus.SUCCEEDED
        )
    )
    assert sum(int(r["collected_pence"]) for r in pledges) == collected == campaign.collected_pence
    for row in pledges:  # pounds and pence always say the same thing
        assert row["amount_pounds"] == f"{int(row['amount_pence']) // 100}.{int(row['amount_pence']) % 100:02d}"
        assert datetime.fromisoformat(row["made_at"]).utcoffset() is not None  # ISO 8601 with its UK offset

    payments = _csv(treasurer_client, url, kind="payments")
    assert len(payments) == db.session.scalar(
        select(func.count()).select_from(Payment).where(Payment.pledge_id.in_(pledge_ids))
    )
    assert sum(int(r["collected_pence"]) for r in payments) == collected
    assert sum(int(r["refunded_pence"]) for r in payments) == db.session.scalar(
        select(func.sum(Payment.refunded_pence)).where(Payment.pledge_id.in_(pledge_ids))
    )
    assert {r["status"] for r in payments} >= {"succeeded", "failed"}

    invoices = _csv(treasurer_client, url, kind="invoices")
    assert len(invoices) == db.session.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.pledge_id.in_(pledge_ids))
    )
    assert sum(int(r["amount_pence"]) for r in invoices) == db.session.scalar(
        select(func.sum(Invoice.amount_pence)).where(Invoice.pledge_id.in_(pledge_ids))
    )
    overdue = next(r for r in invoices if r["number"] == ledger.overdue_invoice.number)
    assert (overdue["paid_pounds"], overdue["balance_pounds"], overdue["due_on"]) == (
        "500.00",
        "2500.00",
        ledger.overdue_invoice.due_on.isoformat() if ledger.overdue_invoice.due_on else "",
    )


def test_cells_a_spreadsheet_would_run_are_neutralised(treasurer_client: FlaskClient, ledger: Ledger) -> None:
    rows = _csv(treasurer_client, f"/treasurer/campaigns/{ledger.campaign.slug}/export", kind="pledges")
    names = {r["name"] for r in rows}
    assert '\'=HYPERLINK("http://evil.example")' in names
    assert '=HYPERLINK("http://evil.example")' not in names
    assert "'-2026/7" in {r["po_number"] for r in rows}
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ada", "Ada"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralising_prefixes_only_formula_like_cells(text: str, safe: str) -> None:
    assert exports.neutralise(text) == safe


def test_a_date_range_picks_the_uk_days_asked_for(treasurer_client: FlaskClient) -> None:
    campaign = CampaignFactory()
    # 23:30 UTC on 31 March is 00:30 on 1 April in the UK (summer time).
    moments = {
        "before": datetime(2026, 3, 30, 12, 0, tzinfo=UTC),
        "first-uk-day": datetime(2026, 3, 31, 23, 30, tzinfo=UTC),
        "last-day": datetime(2026, 4, 30, 22, 59, tzinfo=UTC),
        "after": datetime(2026, 4, 30, 23, 0, tzinfo=UTC),  # midnight in the UK: 1 May
    }
    insert_pledges(campaign, [{"name": name, "created_at": when} for name, when in moments.items()])

    rows = _csv(
        treasurer_client,
        f"/treasurer/campaigns/{campaign.slug}/export",
        kind="pledges",
        date_from="1 4 2026",
        date_to="30/4/2026",
    )

    assert [r["name"] for r in rows] == ["first-uk-day", "last-day"]
    assert rows[0]["made_at"] == "2026-04-01T00:30:00+01:00"


def test_the_form_explains_what_is_wrong(treasurer: PageClient, ledger: Ledger) -> None:
    response = treasurer.get(
        f"/treasurer/campaigns/{ledger.campaign.slug}/export?kind=everything&date_from=31+2+2027&date_to=1+1+2020",
        status=400,
    )
    html = response.get_data(as_text=True)
    assert "Choose what to export" in html or "Not a valid choice" in html
    assert "Enter from as a real date, like 1 4 2027" in html


def test_each_export_is_recorded_in_the_audit_log(treasurer_client: FlaskClient, ledger: Ledger) -> None:
    _csv(
        treasurer_client, f"/treasurer/campaigns/{ledger.campaign.slug}/export", kind="payments", date_from="2026-01-01"
    )
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export.downloaded"))
    assert entry is not None and entry.actor_id is not None
    assert entry.target_type == "campaign" and entry.target_id == ledger.campaign.id
    assert entry.detail["export"] == "payments" and entry.detail["from"] == "2026-01-01"


ROWS = 100_000
MEMORY_LIMIT = 30 * 1024 * 1024


def _insert_many_pledges(campaign_id: int, count: int) -> None:
    """`count` pledges in one Core INSERT … SELECT over a counting CTE: the database makes the rows
    (seconds for 100,000, where one bound row at a time takes much longer). Every thousandth
    pledger's name is a spreadsheet formula."""
    numbers = select(literal(0, Integer).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < count - 1))
    n = numbers.c.n
    as_text = cast(n, String)
    now = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    values = {
        "campaign_id": literal(campaign_id, Integer),
        "pledger_kind": literal("individual"),
        "name": case((n % 1000 == 0, literal("=cmd|' /C calc'!A") + as_text), else_=literal("Pledger ") + as_text),
        "email": literal("pledger") + as_text + literal("@example.org"),
        "amount_pence": n % 5000 + 100,
        "commitment_pence": n % 5000 + 100,
        "currency": literal("GBP"),
        "frequency": literal("one_off"),
        "instalment_count": literal(1, Integer),
        "method": literal("card"),
        "is_conditional": literal(False, Boolean),
        "visibility": literal("public"),
        "show_on_wall": literal(True, Boolean),
        "status": literal("committed"),
        "message": literal("Keep up the good work, and thank you for organising this — it matters."),
        "created_at": literal(now, UTCDateTime),
        "updated_at": literal(now, UTCDateTime),
    }
    table = Pledge.__table__
    db.session.execute(
        insert(table).from_select(list(values), select(*(v.label(k) for k, v in values.items())).select_from(numbers))
    )
    db.session.commit()


def test_a_100000_row_export_streams_in_bounded_memory(treasurer_client: FlaskClient) -> None:
    campaign = CampaignFactory()
    _insert_many_pledges(campaign.id, ROWS)
    assert db.session.scalar(select(func.count()).select_from(Pledge).where(Pledge.campaign_id == campaign.id)) == ROWS
    db.session.commit()  # end the read transaction before streaming

    tracemalloc.start()
    try:
        began = time.perf_counter()
        response = treasurer_client.get(
            f"/treasurer/campaigns/{campaign.slug}/export", query_string={"kind": "pledges"}, buffered=False
        )
        assert response.status_code == 200
        chunks = iter(response.response)
        first = next(chunks)
        first_at = time.perf_counter() - began
        lines, size, formulas, last = first.count(b"\r\n"), len(first), first.count(b"\n=cmd"), first
        for chunk in chunks:  # only counted here: parsing inside the measurement would measure the test
            lines += chunk.count(b"\r\n")
            formulas += chunk.count(b"\n=cmd")
            size += len(chunk)
            last = chunk
        total_at = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        response.close()
    finally:
        tracemalloc.stop()

    assert first.startswith(b"reference,made_at,")
    assert lines == ROWS + 1  # the header and every pledge
    assert formulas == 0 and first.count(b"'=cmd") == 1
    assert last.rstrip().split(b"\r\n")[-1].startswith(f"PL-{db.session.scalar(select(func.max(Pledge.id)))}".encode())
    assert size > 10 * 1024 * 1024  # the file is far bigger than the memory the export may use
    assert peak < MEMORY_LIMIT, f"peak {peak / 1024 / 1024:.1f} MB while streaming {size / 1024 / 1024:.1f} MB"
    assert first_at < total_at / 5, f"the first chunk came after {first_at:.2f}s of {total_at:.2f}s"
