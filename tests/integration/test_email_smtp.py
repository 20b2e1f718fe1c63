"""Email over a real SMTP exchange (aiosmtpd listening on loopback), and the outbox's guarantees."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import EmailMessage, EmailStatus
from app.notifications import email
from tests.factories import CampaignFactory, make_pledge
from tests.stripe_server import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(app: Flask) -> Iterator[Inbox]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    saved = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield inbox
    app.config.update(MAIL_SERVER=saved[0], MAIL_PORT=saved[1])
    controller.stop()


def test_a_receipt_is_delivered_over_smtp_once(smtp: Inbox) -> None:
    pledge = make_pledge(CampaignFactory(title="Shared role"), email="pat@example.org", pounds="25")
    email.queue(
        "cancellation",
        pledge.email,
        f"Your pledge {pledge.reference} is cancelled",
        pledge=pledge,
        my_pledges_url="http://127.0.0.1:5000/my-pledges/x",
    )

    email.commit_and_deliver()  # the delivery job runs at once in tests
    assert email.deliver_queued() == 0  # already sent: never twice

    assert len(smtp.messages) == 1
    sender, recipients, message = smtp.messages[0]
    assert recipients == ["pat@example.org"]
    assert "pledges@localgov.digital" in sender
    assert message["Subject"] == f"Your pledge {pledge.reference} is cancelled"
    body = message.get_payload(decode=True).decode()
    assert "Shared role" in body and "We will not take any more payments" in body
    row = db.session.scalar(select(EmailMessage))
    assert row is not None and row.status == EmailStatus.SENT and row.sent_at is not None


def test_a_mail_server_outage_keeps_the_message_and_says_so(app: Flask) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nothing listens there
    try:
        email.queue("my_pledges_link", "pat@example.org", "Your pledges", my_pledges_url="http://x/")
        email.commit_and_deliver()
    finally:
        app.config.update(MAIL_SERVER="", MAIL_PORT=25)
    row = db.session.scalar(select(EmailMessage))
    assert row is not None and row.status == EmailStatus.FAILED and "ConnectionRefusedError" in (row.error or "")


def test_a_rolled_back_change_sends_nothing(smtp: Inbox) -> None:
    email.queue("my_pledges_link", "pat@example.org", "Your pledges", my_pledges_url="http://x/")
    db.session.rollback()
    assert email.deliver_queued() == 0
    assert smtp.messages == []
