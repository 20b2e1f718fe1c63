"""Helpers for the treasurer's action and reconciliation tests: a signed-in treasurer, real card payments."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Campaign, EmailMessage, Payment, PaymentStatus, Pledge, PledgeStatus, Role, User
from app.payments import card_payments
from tests.factories import PASSWORD, CampaignFactory, UserFactory, make_pledge
from tests.helpers import PageClient, sign_in
from tests.stripe_server import TEST_WEBHOOK_SECRET, LocalStripe, free_port, save_card


@pytest.fixture
def localstripe(localstripe: LocalStripe) -> LocalStripe:
    """localstripe with its webhooks sent nowhere: these tests play each webhook (or its loss) themselves.

    localstripe keeps registered webhooks across tests, and another test may have pointed them at
    the session's live server, which would then apply "lost" webhooks behind the test's back.
    """
    localstripe.register_webhook(f"http://127.0.0.1:{free_port()}/nowhere", TEST_WEBHOOK_SECRET)
    return localstripe


@pytest.fixture
def treasurer(page: PageClient) -> User:
    """A treasurer, signed in on `page`'s client."""
    user = UserFactory(role=Role.TREASURER, email="tessa@example.org", name="Tessa Treasurer")
    assert sign_in(page.client, user.email, PASSWORD).status_code == 302
    return user


@pytest.fixture
def campaign() -> Campaign:
    return CampaignFactory()


def card_payment(
    campaign: Campaign, localstripe: LocalStripe, *, pounds: str = "40", email: str = "pat@example.org"
) -> Payment:
    """A one-off card pledge charged for real through localstripe: its succeeded payment."""
    pledge = make_pledge(campaign, status=PledgeStatus.PENDING, pounds=pounds, email=email)
    setup = card_payments.start_card_setup(pledge)
    save_card(localstripe.client(), setup.setup_intent_id)
    payment = card_payments.record_saved_card(pledge, setup.setup_intent_id)
    assert payment is not None and payment.status == PaymentStatus.SUCCEEDED
    return payment


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields of the page's action form (CSRF token and the one-time token)."""
    fields = {}
    for name in ("csrf_token", "token"):
        match = re.search(rf'name="{name}" type="hidden" value="([^"]+)"', html) or re.search(
            rf'type="hidden" name="{name}" value="([^"]+)"', html
        )
        if match:
            fields[name] = match[1]
    assert "csrf_token" in fields, "no CSRF token on the page"
    return fields


def open_form(page: PageClient, url: str) -> dict[str, str]:
    return form_fields(page.get(url).get_data(as_text=True))


def emails(kind: str) -> list[EmailMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(EmailMessage).where(EmailMessage.kind == kind).order_by(EmailMessage.id)))


def audit_entries(action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def fresh(row: Any) -> Any:
    """`row` as the database has it now (the app's requests commit in their own transactions)."""
    db.session.rollback()
    db.session.refresh(row)
    return row


def pledge_of(payment: Payment) -> Pledge:
    return fresh(payment.pledge)
