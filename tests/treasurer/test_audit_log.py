"""The audit log page: who did what, when, to what; filtered, and paged by keyset through ties."""

from __future__ import annotations

import html as html_module
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from app.extensions import db
from app.models import AuditEntry, Role, User
from tests.factories import CampaignFactory, UserFactory, make_pledge
from tests.helpers import PageClient

ACTIONS = ["pledge.cancelled", "payment.refunded", "invoice.issued"]


@pytest.fixture
def entries() -> list[AuditEntry]:
    """130 entries by two people and the system, ten to a moment, over the turn of a UK day."""
    tessa = UserFactory(email="tessa.t@example.org", name="Tessa Tally", role=Role.TREASURER)
    admin = UserFactory(email="root@example.org", name="Ada Admin", role=Role.ADMIN)
    campaign = CampaignFactory()
    pledge = make_pledge(campaign)
    # 22:50 UTC on 30 June is 23:50 in the UK; each group of ten is a minute later.
    start = datetime(2026, 6, 30, 22, 50, tzinfo=UTC)
    actors = [tessa.id, admin.id, None]
    rows = [
        {
            "created_at": start + timedelta(minutes=i // 10),
            "actor_id": actors[i % 3],
            "action": ACTIONS[i % 3],
            "target_type": "pledge",
            "target_id": pledge.id,
            "summary": f"Entry {i:03d}",
            "detail": {},
        }
        for i in range(130)
    ]
    db.session.execute(insert(AuditEntry), rows)
    db.session.commit()
    return list(db.session.scalars(select(AuditEntry)))


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-entry-id="(\d+)"', html)]


def _all_pages(page: PageClient, url: str) -> list[int]:
    html = page.get(url).get_data(as_text=True)
    seen = _ids(html)
    sizes = [len(seen)]
    while match := re.search(r'href="([^"]+)" rel="next"', html):
        html = page.get(html_module.unescape(match[1])).get_data(as_text=True)
        seen += _ids(html)
        sizes.append(len(_ids(html)))
    assert all(size == 50 for size in sizes[:-1])
    return seen


def _newest_first(rows: list[AuditEntry]) -> list[int]:
    return [e.id for e in sorted(rows, key=lambda e: (e.created_at, e.id), reverse=True)]


def test_every_entry_appears_once_newest_first_across_pages(treasurer: PageClient, entries: list[AuditEntry]) -> None:
    seen = _all_pages(treasurer, "/treasurer/audit")
    assert seen == _newest_first(entries)


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("action=payment.refunded", lambda e, people: e.action == "payment.refunded"),
        ("actor=tally", lambda e, people: e.actor_id == people["tessa.t@example.org"]),
        ("actor=ROOT@example", lambda e, people: e.actor_id == people["root@example.org"]),
        ("actor=system", lambda e, people: e.actor_id is None),
        # UK dates: 30 June ends at 23:00 UTC, so only the first minute's ten entries are on it.
        ("date_to=30+6+2026", lambda e, people: e.created_at < datetime(2026, 6, 30, 23, 0, tzinfo=UTC)),
        (
            "date_from=1/7/2026&action=invoice.issued",
            lambda e, people: e.created_at >= datetime(2026, 6, 30, 23, 0, tzinfo=UTC) and e.action == "invoice.issued",
        ),
    ],
)
def test_filters_find_exactly_the_matching_entries(
    treasurer: PageClient,
    entries: list[AuditEntry],
    query: str,
    wanted,  # type: ignore[no-untyped-def]
) -> None:
    people = {u.email: u.id for u in db.session.scalars(select(User))}
    seen = _all_pages(treasurer, f"/treasurer/audit?{query}")
    assert seen == _newest_first([e for e in entries if wanted(e, people)])
    assert seen


def test_each_entry_says_who_what_when_and_links_to_what_it_was_done_to(
    treasurer: PageClient, entries: list[AuditEntry]
) -> None:
    html = treasurer.get("/treasurer/audit?actor=tally").get_data(as_text=True)
    row = re.search(r'<tr class="govuk-table__row" data-entry-id="\d+">.*?</tr>', html, re.S)
    assert row is not None
    assert "Tessa Tally" in row[0] and "tessa.t@example.org" in row[0]
    assert "1 July 2026, 12:02am" in row[0]  # 23:02 UTC, shown in UK summer time
    assert re.search(r'href="/treasurer/pledges/\d+">Pledge PL-\d{6}</a>', row[0])


def test_a_bad_date_is_explained(treasurer: PageClient, entries: list[AuditEntry]) -> None:
    html = treasurer.get("/treasurer/audit?date_from=31+2+2026&date_to=1+1+2026").get_data(as_text=True)
    assert "Enter from as a real date, like 1 4 2027" in html
    html = treasurer.get("/treasurer/audit?date_from=2+2+2026&date_to=1+1+2026").get_data(as_text=True)
    assert "The end date must be the same as or after the start date" in html


def test_with_no_entries_the_page_says_so(treasurer: PageClient) -> None:
    html = treasurer.get("/treasurer/audit").get_data(as_text=True)
    assert "No entries yet" in html
