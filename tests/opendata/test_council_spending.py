"""A council's own payments, in the Transparency Code's spending-data columns, for its officers only."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient

from app.extensions import db
from app.models import Payment, Pledge
from app.money import Money
from app.opendata import spending
from app.payments import settle
from app.treasury.dashboard import london_today
from tests.factories import PASSWORD, UserFactory
from tests.helpers import sign_in
from tests.treasurer.conftest import Ledger


def _officer(client: FlaskClient, council) -> FlaskClient:  # type: ignore[no-untyped-def]
    user = UserFactory(organisation=council, email=f"officer@{council.slug}.example")
    db.session.commit()
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    return client


def _rows(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/council/spending.csv{query}")
    assert response.status_code == 200, response.status
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.splitlines()[0].split(",") == list(spending.HEADER)
    return list(csv.DictReader(io.StringIO(text)))


def test_an_officer_gets_their_own_councils_payments_with_our_invoice_numbers(
    client: FlaskClient, ledger: Ledger
) -> None:
    north = ledger.councils[0]
    north.gss_code = "E07000223"
    db.session.commit()
    rows = _rows(_officer(client, north))
    # North paid £500 ten days ago on its second (overdue) invoice and £1,000 yesterday on its
    # first: two lines, oldest first. South's £2,000 and every individual's money are not here.
    assert [(r["Payment date"], r["Net amount"], r["Supplier reference"]) for r in rows] == [
        (str(london_today().fromordinal(london_today().toordinal() - 10)), "500.00", ledger.overdue_invoice.number),
        (str(london_today().fromordinal(london_today().toordinal() - 1)), "1000.00", ledger.part_paid_invoice.number),
    ]
    assert {r["Organisation name"] for r in rows} == {"North Shire Council"}
    assert {r["Organisation code"] for r in rows} == {"E07000223"}
    assert {r["Supplier name"] for r in rows} == {"LocalGov Digital"}
    assert {r["Expense type"] for r in rows} == {spending.EXPENSE_TYPE}
    assert all(r["Purpose of expenditure"].startswith("Contribution to Shared digital lead 2027/28") for r in rows)
    # The columns only the council knows are left for it.
    assert {r["Service area"] for r in rows} == {""} and {r["Transaction number"] for r in rows} == {""}

    page = client.get("/council/spending").get_data(as_text=True)
    assert 'data-figure="spending-total"><strong>£1,500.00</strong>' in page
    assert "South Shire Council" not in page
    assert 'href="/council/spending.csv"' in page
    assert 'href="/council/spending"' in client.get("/account/").get_data(as_text=True)


def test_a_refund_is_a_negative_line_dated_when_the_money_went_back(client: FlaskClient, ledger: Ledger) -> None:
    south = ledger.councils[1]
    payment = db.session.scalars(
        db.select(Payment).join(Pledge, Payment.pledge_id == Pledge.id).where(Pledge.organisation_id == south.id)
    ).one()
    settle.record_refund(payment, Money.parse("250"))
    db.session.commit()
    rows = _rows(_officer(client, south))
    assert [r["Net amount"] for r in rows] == ["2000.00", "-250.00"]
    assert rows[1]["Purpose of expenditure"].startswith("Refund of a contribution to Shared digital lead")
    assert rows[1]["Payment date"] == str(london_today())
    assert sum(round(float(r["Net amount"]) * 100) for r in rows) == 175000


def test_a_financial_year_narrows_the_lines_and_a_wrong_one_is_explained(client: FlaskClient, ledger: Ledger) -> None:
    officer = _officer(client, ledger.councils[0])
    today = london_today()
    this_year = f"{today.year if today.month >= 4 else today.year - 1}"
    current = f"{this_year}-{(int(this_year) + 1) % 100:02d}"
    assert len(_rows(officer, f"?year={current}")) >= 1
    assert _rows(officer, "?year=2020-21") == []
    assert "has made no payments through Pledgeline in 2020-21" in officer.get(
        "/council/spending?year=2020-21"
    ).get_data(as_text=True)
    for url, message in (
        ("/council/spending?year=banana", "Enter a financial year like 2026-27, or leave it empty for every year"),
        ("/council/spending.csv?year=2020-22", "2020-22 is not a financial year: try 2020-21"),
    ):
        response = officer.get(url)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "There is a problem" in html and message in html


def test_each_councils_officer_sees_only_their_own_council(client: FlaskClient, ledger: Ledger) -> None:
    east = ledger.councils[2]  # pledged on condition, paid nothing
    rows = _rows(_officer(client, east))
    assert rows == []
    page = client.get("/council/spending").get_data(as_text=True)
    assert "North Shire Council" not in page and "£1,500.00" not in page
    assert "has made no payments through Pledgeline" in page
