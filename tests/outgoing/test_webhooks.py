"""Outgoing webhooks, against a real HTTP receiver on loopback (allowed here by WEBHOOK_ALLOW_PRIVATE,
which production refuses): signed, retried, cut off, stopped after three days, never to private
addresses when that setting is off."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    DeliveryStatus,
    EmailMessage,
    Payment,
    PledgeStatus,
    Role,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from app.money import Money
from app.outgoing import delivery
from app.payments import settle
from app.pledging import pledges
from tests.factories import PASSWORD, CampaignFactory, UserFactory, make_pledge
from tests.helpers import csrf_token, sign_in


@dataclass
class Receiver:
    """An HTTP server on loopback that records what it is sent and answers as it is told."""

    answers: list[int] = field(default_factory=list)  # status codes to give, in order (then 200)
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def answer(self) -> int:
        return self.answers.pop(0) if self.answers else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), body))
            time.sleep(state.delay)
            self.send_response(state.answer())
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/pledgeline-events"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback_allowed(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT_SECONDS", 1)
    return app


@pytest.fixture
def admin_client(client: FlaskClient) -> FlaskClient:
    UserFactory(email="ada@example.org", name="Ada Admin", role=Role.ADMIN)
    db.session.commit()
    assert sign_in(client, "ada@example.org", PASSWORD).status_code == 302
    return client


def _register(client: FlaskClient, url: str, events: list[str]) -> tuple[WebhookEndpoint, str]:
    token = csrf_token(client, "/admin/webhooks/new")
    response = client.post(
        "/admin/webhooks/new", data={"csrf_token": token, "url": url, "description": "Our CRM", "events": events}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get(response.location).get_data(as_text=True)
    secret = re.search(r'id="signing-secret" type="text" value="([^"]+)"', page)
    assert secret, "the secret should be shown after registering"
    endpoint = db.session.scalars(select(WebhookEndpoint)).one()
    return endpoint, secret[1]


def _endpoint(url: str, events: list[str], **values: object) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(url=url, events=events, secret="whsec_test_secret", **values)
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def _delivery() -> WebhookDelivery:
    db.session.expire_all()
    return db.session.scalars(select(WebhookDelivery)).one()


def test_an_event_is_signed_with_the_secret_shown_once_and_names_nobody(
    loopback_allowed: Flask, admin_client: FlaskClient, receiver: Receiver
) -> None:
    endpoint, secret = _register(admin_client, receiver.url, ["pledge.committed", "payment.succeeded"])
    # Shown once: looking again shows no secret.
    assert "signing-secret" not in admin_client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)

    campaign = CampaignFactory(slug="shared-lead")
    pledge = make_pledge(campaign, pounds="30", status=PledgeStatus.PENDING, name="Ivy Individual", email="ivy@x.org")
    pledges.change_status(pledge, PledgeStatus.COMMITTED, reason="test: card saved")
    db.session.commit()
    assert receiver.received == [], "nothing is sent from inside the change itself"

    assert delivery.deliver_due() == 1
    ((headers, body),) = receiver.received
    # The receiver checks the signature as the README shows: HMAC-SHA256 of "<t>.<body>".
    parts = dict(item.split("=", 1) for item in headers["Pledgeline-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(time.time() - int(parts["t"])) < 60
    assert delivery.verify(secret, body, headers["Pledgeline-Signature"])
    assert not delivery.verify("whsec_wrong", body, headers["Pledgeline-Signature"])
    assert not delivery.verify(secret, body + b" ", headers["Pledgeline-Signature"])

    event = json.loads(body)
    assert event["type"] == "pledge.committed" and event["id"].startswith("evt_")
    assert event["data"]["reference"] == pledge.reference and event["data"]["amount_pence"] == 3000
    assert "Ivy" not in body.decode() and "ivy@x.org" not in body.decode()

    sent = _delivery()
    assert sent.status == DeliveryStatus.DELIVERED and sent.attempts == 1 and sent.last_status_code == 200
    assert sent.last_response_ms is not None
    log = admin_client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "pledge.committed" in log and "Delivered" in log and "HTTP 200" in log
    # Sending again finds nothing left to send.
    assert delivery.deliver_due() == 0 and len(receiver.received) == 1


def test_money_events_follow_the_payment(loopback_allowed: Flask, receiver: Receiver) -> None:
    _endpoint(receiver.url, ["payment.succeeded", "payment.refunded"])
    campaign = CampaignFactory(slug="shared-lead")
    pledge = make_pledge(campaign, pounds="40", paid_instalments=1, name="Ivy Individual")
    payment = db.session.scalars(select(Payment).where(Payment.pledge_id == pledge.id)).one()
    settle.record_refund(payment, Money.parse("15"))
    db.session.commit()
    assert delivery.deliver_due() == 2
    kinds = [json.loads(body)["type"] for _headers, body in receiver.received]
    assert sorted(kinds) == ["payment.refunded", "payment.succeeded"]
    refunded = next(json.loads(b) for _h, b in receiver.received if json.loads(b)["type"] == "payment.refunded")
    assert refunded["data"]["refund_pence"] == 1500 and refunded["data"]["refunded_pence"] == 1500


def test_a_failure_is_retried_later_with_backoff(loopback_allowed: Flask, receiver: Receiver) -> None:
    endpoint = _endpoint(receiver.url, ["pledge.cancelled"])
    receiver.answers = [500, 503]
    pledge = make_pledge(CampaignFactory(), pounds="10")
    pledges.change_status(pledge, PledgeStatus.CANCELLED, reason="test")
    db.session.commit()

    start = utcnow()
    assert delivery.deliver_due(now=start) == 0
    first = _delivery()
    assert first.attempts == 1 and first.last_status_code == 500 and first.status == DeliveryStatus.PENDING
    assert first.next_attempt_at - start == timedelta(seconds=30)
    assert db.session.get_one(WebhookEndpoint, endpoint.id).failing_since is not None
    assert delivery.deliver_due(now=start + timedelta(seconds=10)) == 0  # not due yet: not sent
    assert len(receiver.received) == 1

    assert delivery.deliver_due(now=start + timedelta(seconds=31)) == 0
    assert _delivery().next_attempt_at - (start + timedelta(seconds=31)) == timedelta(minutes=1)
    assert delivery.deliver_due(now=start + timedelta(minutes=2)) == 1
    done = _delivery()
    assert done.status == DeliveryStatus.DELIVERED and done.attempts == 3
    assert db.session.get_one(WebhookEndpoint, endpoint.id).failing_since is None
    # The same event each time, so a receiver can tell a retry from a new event.
    assert len({json.loads(body)["id"] for _headers, body in receiver.received}) == 1


def test_an_endpoint_failing_for_three_days_is_stopped_and_its_owner_told(
    loopback_allowed: Flask, receiver: Receiver
) -> None:
    owner = UserFactory(email="owner@example.org", name="Olu Owner", role=Role.ADMIN)
    endpoint = _endpoint(receiver.url, ["pledge.cancelled"], owner=owner, failing_since=utcnow() - timedelta(days=3))
    receiver.answers = [500, 500]
    for _ in range(2):
        pledge = make_pledge(CampaignFactory(), pounds="10")
        pledges.change_status(pledge, PledgeStatus.CANCELLED, reason="test")
    db.session.commit()

    assert delivery.deliver_due(limit=1) == 0
    db.session.expire_all()
    stopped = db.session.get_one(WebhookEndpoint, endpoint.id)
    assert stopped.disabled_at is not None and "three days" in (stopped.disabled_reason or "")
    statuses = sorted(d.status for d in db.session.scalars(select(WebhookDelivery)))
    assert statuses == [DeliveryStatus.ABANDONED, DeliveryStatus.ABANDONED]
    (message,) = db.session.scalars(select(EmailMessage).where(EmailMessage.to_address == "owner@example.org"))
    assert "stopped sending events" in message.subject and receiver.url in message.body
    # Nothing more is sent to it, and new events are not queued for it.
    pledge = make_pledge(CampaignFactory(), pounds="10")
    pledges.change_status(pledge, PledgeStatus.CANCELLED, reason="test")
    db.session.commit()
    assert delivery.deliver_due() == 0 and len(receiver.received) == 1


def test_an_endpoint_that_hangs_is_cut_off_after_the_timeout(loopback_allowed: Flask, receiver: Receiver) -> None:
    _endpoint(receiver.url, ["pledge.cancelled"])
    receiver.delay = 3
    pledge = make_pledge(CampaignFactory(), pounds="10")
    started = time.monotonic()
    pledges.change_status(pledge, PledgeStatus.CANCELLED, reason="test")
    db.session.commit()
    assert time.monotonic() - started < 0.5, "the change itself never waits for an endpoint"

    started = time.monotonic()
    assert delivery.deliver_due() == 0
    assert time.monotonic() - started < 2.5
    attempt = _delivery()
    assert attempt.status == DeliveryStatus.PENDING and attempt.last_error == "No answer within 1 seconds"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://0.0.0.0/hook",
        "http://example.org/hook",
        "ftp://example.org/hook",
        "https://user:secret@example.org/hook",
        "not an address",
    ],
)
def test_private_local_and_non_https_addresses_are_refused(app: Flask, url: str) -> None:
    with pytest.raises(delivery.AddressRefused):
        delivery.check_url(url)


def test_the_form_refuses_a_private_address_and_creates_nothing(admin_client: FlaskClient) -> None:
    token = csrf_token(admin_client, "/admin/webhooks/new")
    response = admin_client.post(
        "/admin/webhooks/new",
        data={"csrf_token": token, "url": "https://127.0.0.1:8443/hook", "events": ["pledge.committed"]},
    )
    assert response.status_code == 400
    assert "private or local network" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


def test_an_address_is_checked_again_when_each_event_is_sent(app: Flask, receiver: Receiver) -> None:
    # Registered while it pointed somewhere public; now it points at this machine.
    _endpoint(receiver.url.replace("http://", "https://"), ["pledge.cancelled"])
    pledge = make_pledge(CampaignFactory(), pounds="10")
    pledges.change_status(pledge, PledgeStatus.CANCELLED, reason="test")
    db.session.commit()
    assert delivery.deliver_due() == 0
    assert receiver.received == []
    assert "private or local network" in (_delivery().last_error or "")


def test_two_workers_at_once_send_each_event_once(
    loopback_allowed: Flask, receiver: Receiver, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SQLite lets one writer in at a time; two workers racing needs PostgreSQL")
    _endpoint(receiver.url, ["pledge.cancelled"])
    for _ in range(6):
        pledge = make_pledge(CampaignFactory(), pounds="10")
        pledges.change_status(pledge, PledgeStatus.CANCELLED, reason="test")
    db.session.commit()
    results: list[int] = []

    def worker() -> None:
        with loopback_allowed.app_context():
            results.append(delivery.deliver_due())
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 6
    assert len(receiver.received) == 6
    assert len({json.loads(body)["id"] for _headers, body in receiver.received}) == 6
