"""Cancel, resend, remind and record a bank transfer: confirmed, audited, and done once per form."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select, update

from app.extensions import db
from app.invoicing import invoices
from app.ledger import totals
from app.models import (
    Campaign,
    Frequency,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PledgeEvent,
    PledgeStatus,
    Role,
    User,
)
from app.payments import settle
from app.templating import LONDON
from tests.factories import PASSWORD, UserFactory, make_council_pledge, make_pledge
from tests.helpers import PageClient, csrf_token, sign_in
from tests.treasurer_actions.conftest import audit_entries, emails, fresh, open_form


def _invoice(pledge_id: int, kind: InvoiceKind = InvoiceKind.INVOICE) -> Invoice:
    return db.session.scalars(select(Invoice).where(Invoice.pledge_id == pledge_id, Invoice.kind == kind)).one()


def _overdue(invoice: Invoice, days: int = 10) -> None:
    """Issued long enough ago to be `days` past its due date."""
    today = datetime.now(LONDON).date()
    db.session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id)
        .values(issued_on=today - timedelta(days=30 + days), due_on=today - timedelta(days=days))
    )
    db.session.commit()


# --- Cancel ------------------------------------------------------------------------------------


def test_cancelling_needs_a_reason_then_stops_the_pledge_once(
    page: PageClient, treasurer: User, campaign: Campaign
) -> None:
    pledge = make_pledge(
        campaign,
        pounds="10",
        frequency=Frequency.MONTHLY,
        instalments=6,
        paid_instalments=2,
        status=PledgeStatus.ACTIVE,
    )
    url = f"/treasurer/actions/pledges/{pledge.id}/cancel"
    text = page.get(url).get_data(as_text=True)
    assert "No more payments are taken" in text and "The £20.00 already paid stays paid" in text
    assert "counts only the £20.00 it has paid, not the £60.00 it promised" in text

    fields = open_form(page, url)
    empty = page.post(url, {**fields, "reason": ""}, status=400)
    assert "Enter the reason for cancelling the pledge" in empty.get_data(as_text=True)
    assert fresh(pledge).status == PledgeStatus.ACTIVE

    page.post(url, {**fields, "reason": "Asked by phone"})
    page.post(url, {**fields, "reason": "Asked by phone"})  # a double click

    pledge = fresh(pledge)
    assert pledge.status == PledgeStatus.CANCELLED
    assert [i.status.value for i in pledge.instalments] == ["paid", "paid"] + ["cancelled"] * 4
    event = db.session.scalars(
        select(PledgeEvent).where(PledgeEvent.pledge_id == pledge.id).order_by(PledgeEvent.id.desc())
    ).first()
    assert event is not None and event.actor_id == treasurer.id and "Asked by phone" in event.reason
    assert len(audit_entries("pledge.cancelled")) == 1 and len(emails("cancellation")) == 1
    campaign = fresh(campaign)
    # It now counts toward the target only what it paid.
    assert (campaign.pledged_pence, campaign.collected_pence) == (2000, 2000)
    assert totals.verify() == []
    assert "cannot be cancelled" in page.get(url).get_data(as_text=True)


def test_cancelling_a_council_pledge_voids_what_it_no_longer_owes(
    page: PageClient, treasurer: User, campaign: Campaign
) -> None:
    pledge = make_council_pledge(campaign, conditional=True)
    proforma = _invoice(pledge.id, InvoiceKind.PROFORMA)
    url = f"/treasurer/actions/pledges/{pledge.id}/cancel"
    assert f"{proforma.display_number} (£2,500.00) is voided" in page.get(url).get_data(as_text=True)

    page.post(url, {**open_form(page, url), "reason": "The council withdrew its purchase order"})

    assert fresh(proforma).status == InvoiceStatus.VOID
    [entry] = audit_entries("pledge.cancelled")
    assert entry.detail["voided_invoices"] == [proforma.display_number]
    assert totals.verify() == []


# --- Receipts ----------------------------------------------------------------------------------


def test_resending_a_receipt_emails_the_pledger_once_per_form(
    page: PageClient, treasurer: User, campaign: Campaign
) -> None:
    pledge = make_pledge(campaign, pounds="25", paid_instalments=1, status=PledgeStatus.FULFILLED)
    payment = db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id)).one()
    url = f"/treasurer/actions/payments/{payment.id}/receipt"
    assert "pat@example.org" in page.get(url).get_data(as_text=True)

    fields = open_form(page, url)
    page.post(url, fields)
    page.post(url, fields)
    assert len(emails("receipt")) == 1 and len(audit_entries("payment.receipt_resent")) == 1
    assert "£25.00" in emails("receipt")[0].body

    page.post(url, open_form(page, url))  # a new visit to the page may send it again
    assert len(emails("receipt")) == 2

    unpaid = make_pledge(campaign, status=PledgeStatus.PENDING)
    open_payment = settle.open_card_payment(unpaid.instalments[0])
    db.session.commit()
    other = f"/treasurer/actions/payments/{open_payment.id}/receipt"
    assert "has not been received" in page.get(other).get_data(as_text=True)
    page.post(other, {"csrf_token": csrf_token(page.client, "/account/"), "token": "x" * 32}, status=400)
    assert len(emails("receipt")) == 2


# --- Invoices ----------------------------------------------------------------------------------


def test_bank_transfers_part_pay_refuse_overpayment_and_count_once(
    page: PageClient, treasurer: User, campaign: Campaign
) -> None:
    pledge = make_council_pledge(campaign, conditional=False, pounds="2500")
    invoice = _invoice(pledge.id)
    url = f"/treasurer/actions/invoices/{invoice.id}/bank-transfer"
    text = page.get(url).get_data(as_text=True)
    assert 'value="2,500.00"' in text and f'value="{invoice.number}"' in text
    today = datetime.now(LONDON).date()
    day = {"received_on": [str(today.day), str(today.month), str(today.year)]}

    fields = open_form(page, url)
    part = {**fields, **day, "amount": "1,000", "reference": f"{invoice.number} part"}
    page.post(url, part)
    page.post(url, part)  # the same transfer, recorded twice by a double click, counts once
    assert invoices.balance(fresh(invoice)).pence == 150_000

    over = page.post(url, {**fields, **day, "amount": "1,500.01", "reference": "BACS 2"}, status=400)
    assert "This invoice has £1,500.00 left to pay, so £1,500.01 is more than it is owed" in over.get_data(as_text=True)
    missing_date = page.post(url, {**fields, "amount": "1", "reference": "BACS 3"}, status=400)
    assert "Enter the date it arrived as a real date" in missing_date.get_data(as_text=True)
    future = today + timedelta(days=3)
    later = page.post(
        url,
        {
            **fields,
            "amount": "1",
            "reference": "BACS 4",
            "received_on": [str(future.day), str(future.month), str(future.year)],
        },
        status=400,
    )
    assert "cannot be in the future" in later.get_data(as_text=True)

    page.post(url, {**fields, **day, "amount": "1500", "reference": f"{invoice.number} rest"})

    invoice = fresh(invoice)
    assert invoice.status == InvoiceStatus.PAID and invoices.balance(invoice).pence == 0
    received = db.session.scalars(select(Payment).where(Payment.method == PaymentMethod.BANK_TRANSFER)).all()
    assert sorted(p.amount_pence for p in received) == [100_000, 150_000]
    assert fresh(campaign).collected_pence == 250_000
    assert len(audit_entries("invoice.bank_transfer_recorded")) == 2
    assert totals.verify() == []
    assert "paid in full" in page.get(url).get_data(as_text=True)


def test_a_pro_forma_takes_no_bank_transfer(page: PageClient, treasurer: User, campaign: Campaign) -> None:
    pledge = make_council_pledge(campaign, conditional=True)
    proforma = _invoice(pledge.id, InvoiceKind.PROFORMA)
    url = f"/treasurer/actions/invoices/{proforma.id}/bank-transfer"
    assert "This is a pro-forma, which is not paid" in page.get(url).get_data(as_text=True)
    forged = {"csrf_token": csrf_token(page.client, "/account/"), "token": "y" * 32, "amount": "10", "reference": "x"}
    page.post(url, forged, status=400)
    assert db.session.scalars(select(Payment)).all() == []


def test_reminding_an_overdue_invoice_now_and_resending_an_invoice(
    page: PageClient, treasurer: User, campaign: Campaign
) -> None:
    pledge = make_council_pledge(campaign, conditional=False, billing_email="accounts@testshire.example")
    invoice = _invoice(pledge.id)
    remind = f"/treasurer/actions/invoices/{invoice.id}/remind"
    assert "is not overdue" in page.get(remind).get_data(as_text=True)

    _overdue(invoice, days=10)
    text = page.get(remind).get_data(as_text=True)
    assert "was due 10 days ago" in text and "No reminder has been sent yet" in text
    fields = open_form(page, remind)
    page.post(remind, fields)
    page.post(remind, fields)
    [reminder] = emails("invoice_reminder")
    assert reminder.to_address == "accounts@testshire.example" and "10 days ago" in reminder.body
    assert fresh(invoice).last_reminded_at is not None
    assert len(audit_entries("invoice.reminder_sent")) == 1
    # The nightly run does not remind it again the same week.
    assert invoices.remind_overdue() == 0

    resend = f"/treasurer/actions/invoices/{invoice.id}/resend"
    before = len(emails("invoice_issued"))
    fields = open_form(page, resend)
    page.post(resend, fields)
    page.post(resend, fields)
    assert len(emails("invoice_issued")) == before + 1
    assert len(audit_entries("invoice.resent")) == 1


def test_sending_the_due_reminders_by_hand_sends_each_once(
    page: PageClient, treasurer: User, campaign: Campaign
) -> None:
    first = _invoice(make_council_pledge(campaign, conditional=False).id)
    second = _invoice(make_council_pledge(campaign, conditional=False).id)
    _overdue(first)
    _overdue(second, days=40)
    text = page.get("/treasurer/actions").get_data(as_text=True)
    assert first.number in text and second.number in text

    fields = open_form(page, "/treasurer/actions/reminders")
    page.post("/treasurer/actions/reminders", fields)
    page.post("/treasurer/actions/reminders", fields)
    assert len(emails("invoice_reminder")) == 2
    assert [e.detail["sent"] for e in audit_entries("invoice.reminders_run")] == [2, 0]
    assert "Every overdue invoice has been reminded in the last week" in page.get(
        "/treasurer/actions/reminders"
    ).get_data(as_text=True)


# --- Finding a pledge, and who may act ---------------------------------------------------------


def test_finding_a_pledge_by_reference_invoice_number_or_stripe_id(
    page: PageClient, treasurer: User, campaign: Campaign
) -> None:
    council = make_council_pledge(campaign, conditional=False)
    invoice = _invoice(council.id)
    card = make_pledge(campaign, paid_instalments=1, status=PledgeStatus.FULFILLED)
    payment = db.session.scalars(select(Payment).where(Payment.pledge_id == card.id)).one()
    payment.stripe_payment_intent_id = "pi_findme"
    db.session.commit()

    for query, pledge in ((council.reference, council), (invoice.number.lower(), council), ("pi_findme", card)):
        response = page.client.get("/treasurer/actions", query_string={"q": query})
        assert response.status_code == 302 and response.location.endswith(f"/treasurer/actions/pledges/{pledge.id}")
    missing = page.get("/treasurer/actions", query_string={"q": "PL-999999"}, status=404)
    assert "No pledge, invoice or Stripe payment matches that" in missing.get_data(as_text=True)

    hub = page.get(f"/treasurer/actions/pledges/{council.id}").get_data(as_text=True)
    assert invoice.number in hub and "Record a bank transfer" in hub and "Cancel this pledge" in hub
    hub = page.get(f"/treasurer/actions/pledges/{card.id}").get_data(as_text=True)
    assert "Refund" in hub and "Send the receipt again" in hub


def test_nobody_but_a_treasurer_or_admin_reaches_an_action_on_a_real_pledge(app: Flask, campaign: Campaign) -> None:
    pledge = make_pledge(campaign, pounds="25", paid_instalments=1, status=PledgeStatus.FULFILLED)
    payment = db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id)).one()
    council = make_council_pledge(campaign, conditional=False)
    invoice = _invoice(council.id)
    _overdue(invoice)
    urls = [
        "/treasurer/actions",
        f"/treasurer/actions/pledges/{pledge.id}",
        f"/treasurer/actions/pledges/{pledge.id}/cancel",
        f"/treasurer/actions/payments/{payment.id}/refund",
        f"/treasurer/actions/payments/{payment.id}/receipt",
        f"/treasurer/actions/invoices/{invoice.id}/bank-transfer",
        f"/treasurer/actions/invoices/{invoice.id}/remind",
        f"/treasurer/actions/invoices/{invoice.id}/resend",
        "/treasurer/actions/reminders",
        "/treasurer/reconcile",
    ]
    posts = [u for u in urls if u.count("/") > 3 and not u.endswith(str(pledge.id))] + ["/treasurer/reconcile/run"]
    admin = UserFactory(role=Role.ADMIN, email="admin@example.org")
    people = {
        "pledger": UserFactory(email="pat@example.org"),
        "sponsor": UserFactory(role=Role.SPONSOR, email="sam@example.org"),
    }
    form = {"token": "z" * 32, "reason": "x", "amount": "25", "reference": "x", "note": "x"}

    anonymous = app.test_client()
    token = csrf_token(anonymous, "/account/sign-in")
    for url in urls:
        assert anonymous.get(url).location.startswith("/account/sign-in"), url
    for url in posts:
        assert anonymous.post(url, data={**form, "csrf_token": token}).location.startswith("/account/sign-in"), url
    for who, user in people.items():
        client = app.test_client()
        assert sign_in(client, user.email, PASSWORD).status_code == 302
        token = csrf_token(client, "/account/")
        for url in urls:
            assert client.get(url).status_code == 403, (who, url)
        for url in posts:
            assert client.post(url, data={**form, "csrf_token": token}).status_code == 403, (who, url)
    client = app.test_client()
    sign_in(client, admin.email, PASSWORD)
    assert client.get(f"/treasurer/actions/pledges/{pledge.id}").status_code == 200

    # Nothing happened: no refund, no cancellation, no email, no payment recorded.
    assert fresh(pledge).status == PledgeStatus.FULFILLED and fresh(payment).refunded_pence == 0
    assert emails("receipt") == [] and emails("invoice_reminder") == []
    assert invoices.balance(fresh(invoice)).pence == invoice.amount_pence
    assert audit_entries("pledge.cancelled") == []
