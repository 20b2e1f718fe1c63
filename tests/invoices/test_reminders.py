"""Overdue invoices: flagged after their due date, reminded at most once a week, by a safe command."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from app.database import write_transaction
from app.extensions import db
from app.invoicing import invoices
from app.models import EmailMessage, EmailStatus, Invoice, InvoiceKind
from app.money import Money
from tests.factories import CampaignFactory, OrganisationFactory, UserFactory, make_council_pledge


def _issued(campaign, contact, council, email: str = "accounts@testshire.example") -> Invoice:  # type: ignore[no-untyped-def]
    pledge = make_council_pledge(campaign, contact, council, conditional=False, billing_email=email)
    invoice = invoices.live_invoice(pledge.instalments[0].id, InvoiceKind.INVOICE)
    assert invoice is not None and invoice.due_on is not None
    return invoice


def _reminders() -> list[EmailMessage]:
    return list(
        db.session.scalars(
            select(EmailMessage).where(EmailMessage.kind == "invoice_reminder").order_by(EmailMessage.id)
        )
    )


def test_an_invoice_is_overdue_only_after_its_due_date_and_while_money_is_owed(campaign, contact, council) -> None:
    invoice = _issued(campaign, contact, council)
    assert invoice.due_on is not None
    assert not invoices.is_overdue(invoice, invoice.due_on)
    assert invoices.is_overdue(invoice, invoice.due_on + timedelta(days=1))
    with write_transaction():
        invoices.record_bank_transfer(invoice, invoice.amount, invoice.issued_on, "PAID", None)
        db.session.commit()
    assert not invoices.is_overdue(invoice, invoice.due_on + timedelta(days=1))


def test_reminders_go_at_most_once_a_week_and_say_what_is_left(campaign, contact, council) -> None:
    invoice = _issued(campaign, contact, council)
    due = invoice.due_on
    assert due is not None
    with write_transaction():
        invoices.record_bank_transfer(invoice, Money.parse("1000"), invoice.issued_on, "PART", None)
        db.session.commit()

    assert invoices.remind_overdue(due) == 0  # not overdue on its due date
    assert invoices.remind_overdue(due + timedelta(days=1)) == 1
    assert invoices.remind_overdue(due + timedelta(days=1)) == 0  # the same day again
    assert invoices.remind_overdue(due + timedelta(days=7)) == 0  # six days later
    assert invoices.remind_overdue(due + timedelta(days=8)) == 1  # a week later
    assert invoices.remind_overdue(due + timedelta(days=14)) == 0

    sent = _reminders()
    assert [m.to_address for m in sent] == ["accounts@testshire.example"] * 2
    assert f"Invoice {invoice.number}" in sent[0].body and "1 day ago" in sent[0].body
    assert "£1,500.00 is still to pay" in sent[0].body  # £2,500 less the £1,000 received
    assert "/invoices/link/" in sent[0].body
    assert "8 days ago" in sent[1].body


def test_a_paid_invoice_is_never_reminded(campaign, contact, council) -> None:
    invoice = _issued(campaign, contact, council)
    assert invoice.due_on is not None
    with write_transaction():
        invoices.record_bank_transfer(invoice, invoice.amount, invoice.issued_on, "ALL", None)
        db.session.commit()
    assert invoices.remind_overdue(invoice.due_on + timedelta(days=30)) == 0
    assert _reminders() == []


def test_two_runs_at_once_send_each_reminder_once(app: Flask) -> None:
    campaign = CampaignFactory()
    due = None
    for n in range(8):
        council = OrganisationFactory()
        invoice = _issued(campaign, UserFactory(organisation=council), council, email=f"ap{n}@council.example")
        due = invoice.due_on
    assert due is not None
    db.session.commit()

    def run(_: int) -> int:
        with app.app_context():
            return invoices.remind_overdue(due + timedelta(days=3))

    with ThreadPoolExecutor(max_workers=3) as pool:
        counts = list(pool.map(run, range(3)))

    db.session.rollback()
    assert sum(counts) == 8
    assert sorted(m.to_address for m in _reminders()) == sorted(f"ap{n}@council.example" for n in range(8))


def test_the_command_reminds_delivers_and_is_safe_to_repeat(
    runner: FlaskCliRunner, campaign, contact, council, tmp_path
) -> None:
    invoice = _issued(campaign, contact, council)
    assert invoice.due_on is not None
    day = (invoice.due_on + timedelta(days=2)).isoformat()
    saved_outbox = runner.app.config.get("MAIL_OUTBOX_DIR")
    runner.app.config["MAIL_OUTBOX_DIR"] = str(tmp_path)
    try:
        first = runner.invoke(args=["invoices", "remind", "--date", day])
        second = runner.invoke(args=["invoices", "remind", "--date", day])
    finally:
        runner.app.config["MAIL_OUTBOX_DIR"] = saved_outbox

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert "1 overdue invoice(s) reminded" in first.output
    assert "0 overdue invoice(s) reminded" in second.output
    db.session.expire_all()
    assert [m.status for m in _reminders()] == [EmailStatus.SENT]
    assert len(list(tmp_path.glob("*-invoice_reminder.eml"))) == 1


def test_the_command_fails_loudly_when_reminders_cannot_be_sent(
    runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch, campaign, contact, council
) -> None:
    invoice = _issued(campaign, contact, council)
    assert invoice.due_on is not None
    monkeypatch.setitem(runner.app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(runner.app.config, "MAIL_PORT", 9)  # discard: nothing listens

    result = runner.invoke(args=["invoices", "remind", "--date", (invoice.due_on + timedelta(days=2)).isoformat()])

    assert result.exit_code == 2
    assert "could not be sent" in result.output
