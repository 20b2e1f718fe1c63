"""Delivering queued events: signed, cut off after a few seconds, retried with backoff.

Each delivery is a POST of the event's JSON with a `Pledgeline-Signature` header,
`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the endpoint's secret>`; the
receiver recomputes it and checks the time is recent (see the README for an example).

A worker claims a delivery with a conditional UPDATE before sending it, so two workers never
send the same one at once. A failure is tried again after 30 seconds, then 1, 2, 4 … minutes (at
most 6 hours apart). An endpoint that has failed without a single success for three days is
disabled, whatever was still waiting for it is abandoned, and the admin who registered it is
told by email.

Where an address may point is checked when it is registered and again at every delivery, and
the connection goes to the very address that was checked: names that resolve to loopback,
private, link-local or other special ranges are refused unless WEBHOOK_ALLOW_PRIVATE is set (for
development and tests only).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import or_, select, update

from app.database import write_transaction
from app.extensions import db
from app.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Pledgeline-Signature"
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)
DISABLE_AFTER = timedelta(days=3)
BATCH = 50


class AddressRefused(ValueError):
    """The URL may not be used: not HTTPS, or it reaches somewhere private."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does: the signature matches and is no older than `tolerance` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def _allow_private() -> bool:
    return bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE"))


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, the address to connect to), or AddressRefused saying why not."""
    parts = urlsplit(url.strip())
    allowed = ("https", "http") if _allow_private() else ("https",)
    if parts.scheme not in allowed:
        raise AddressRefused("Enter an address that starts with https://")
    if not parts.hostname or parts.username or parts.password:
        raise AddressRefused("Enter a full web address, like https://example.org/pledgeline-events")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise AddressRefused("The address has a port that is not a number") from error
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"{parts.hostname} could not be found") from error
    addresses = [str(info[4][0]) for info in found]
    if not _allow_private():
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise AddressRefused(
                    f"{parts.hostname} points to a private or local network address, which webhooks may not be sent to"
                )
    return parts.scheme, parts.hostname, port, addresses[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to the address already checked, still verifying the host's certificate."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    elapsed_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, secret: str, body: bytes, *, timeout: float) -> Attempt:
    """One signed POST; never raises for the endpoint's faults."""
    started = time.monotonic()
    try:
        scheme, host, port, address = check_url(url)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection_class = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        connection = connection_class(host, port, address, timeout)
        try:
            connection.request(
                "POST",
                path,
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "Pledgeline-Webhooks/1",
                    SIGNATURE_HEADER: sign(secret, body, int(time.time())),
                },
            )
            response = connection.getresponse()
            response.read(64 * 1024)  # enough to finish the exchange; the body is not kept
            code: int | None = response.status
            error = None if 200 <= response.status < 300 else f"The endpoint answered HTTP {response.status}"
        finally:
            connection.close()
    except AddressRefused as refused:
        code, error = None, str(refused)
    except TimeoutError:
        code, error = None, f"No answer within {timeout:g} seconds"
    except (OSError, http.client.HTTPException) as failure:
        code, error = None, f"Could not connect: {type(failure).__name__}"
    return Attempt(code, int((time.monotonic() - started) * 1000), error)


def next_wait(attempts: int) -> timedelta:
    """How long after the `attempts`-th failure to try again."""
    return min(FIRST_RETRY * (2 ** max(0, attempts - 1)), LONGEST_WAIT)


def _claim(delivery_id: int, now: datetime, hold: timedelta) -> bool:
    with write_transaction():
        return _claim_now(delivery_id, now, hold)


def _claim_now(delivery_id: int, now: datetime, hold: timedelta) -> bool:
    claimed = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
        )
        .values(claimed_until=now + hold)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def deliver_due(limit: int = 500, *, now: datetime | None = None) -> int:
    """Attempt every delivery whose time has come; how many got through."""
    timeout = float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 5))
    hold = timedelta(seconds=timeout * 3 + 30)
    delivered = 0
    moment = now or utcnow()
    due = list(
        db.session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= moment,
                or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < moment),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )
    db.session.commit()
    for delivery_id in due:
        if not _claim(delivery_id, now or utcnow(), hold):
            continue  # another worker has it
        delivery = db.session.get_one(WebhookDelivery, delivery_id)
        endpoint = db.session.get_one(WebhookEndpoint, delivery.endpoint_id)
        if not endpoint.is_active:
            db.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(status=DeliveryStatus.ABANDONED, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            continue
        url, secret, body = endpoint.url, endpoint.secret, delivery.payload.encode()
        db.session.commit()  # no transaction is held open while the endpoint is waited for
        attempt = post(url, secret, body, timeout=timeout)
        delivered += _record(delivery_id, attempt, now or utcnow())
    return delivered


def _record(delivery_id: int, attempt: Attempt, now: datetime) -> int:
    with write_transaction():  # read, then write: one step on SQLite too
        return _record_now(delivery_id, attempt, now)


def _record_now(delivery_id: int, attempt: Attempt, now: datetime) -> int:
    delivery = db.session.get_one(WebhookDelivery, delivery_id, populate_existing=True)
    endpoint = db.session.get_one(WebhookEndpoint, delivery.endpoint_id, populate_existing=True)
    delivery.attempts += 1
    delivery.claimed_until = None
    delivery.last_status_code = attempt.status_code
    delivery.last_response_ms = attempt.elapsed_ms
    delivery.last_error = attempt.error[:300] if attempt.error else None
    if attempt.ok:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        endpoint.failing_since = None
        db.session.commit()
        return 1
    delivery.next_attempt_at = now + next_wait(delivery.attempts)
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    elif now - endpoint.failing_since >= DISABLE_AFTER and endpoint.is_active:
        disable(endpoint, f"Every delivery failed for three days; the last: {delivery.last_error}", now)
    log.info("webhook delivery %s failed (attempt %s): %s", delivery_id, delivery.attempts, attempt.error)
    db.session.commit()
    return 0


def disable(endpoint: WebhookEndpoint, reason: str, now: datetime | None = None, *, notify: bool = True) -> None:
    """Stop sending to the endpoint and abandon what waits for it, in the caller's transaction;
    with `notify`, tell the admin who registered it."""
    from app.notifications import email

    endpoint.disabled_at = now or utcnow()
    endpoint.disabled_reason = reason[:300]
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.ABANDONED, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    if notify and endpoint.owner is not None:
        email.queue(
            "webhook_disabled",
            endpoint.owner.email,
            "Pledgeline stopped sending events to one of your webhook endpoints",
            endpoint=endpoint,
            name=endpoint.owner.name,
        )
