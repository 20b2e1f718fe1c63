"""The events other systems can subscribe to, and queueing them for delivery.

`emit` is called where the thing happens, inside that change's transaction: it adds one
delivery row per active endpoint that asked for the event (an outbox), so an event is sent if
and only if its change commits. Nothing is sent from the request itself; a worker delivers
(see `delivery`), so a slow or broken endpoint never slows down or fails a pledge.

Event bodies carry references, amounts and statuses, never an individual's name or address.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Campaign, Payment, Pledge, PledgerKind, WebhookDelivery, WebhookEndpoint, utcnow

EVENT_TYPES = {
    "pledge.committed": "A pledge was confirmed",
    "pledge.cancelled": "A pledge was cancelled",
    "payment.succeeded": "Money was received",
    "payment.refunded": "Money was refunded",
    "campaign.succeeded": "A campaign reached its goal by its deadline",
    "campaign.failed": "A campaign closed without reaching its goal",
}
QUEUED = "outgoing_webhooks_queued"


def pledge_data(pledge: Pledge) -> dict[str, Any]:
    return {
        "reference": pledge.reference,
        "campaign": pledge.campaign.slug,
        "pledger_kind": pledge.pledger_kind.value,
        "organisation": pledge.organisation.name
        if pledge.organisation is not None and pledge.pledger_kind != PledgerKind.INDIVIDUAL
        else None,
        "amount_pence": pledge.amount_pence,
        "commitment_pence": pledge.commitment_pence,
        "currency": pledge.currency,
        "frequency": pledge.frequency.value,
        "conditional": pledge.is_conditional,
        "status": pledge.status.value,
    }


def payment_data(payment: Payment, pledge: Pledge) -> dict[str, Any]:
    return {
        "id": payment.id,
        "pledge": pledge_data(pledge),
        "amount_pence": payment.amount_pence,
        "refunded_pence": payment.refunded_pence,
        "currency": payment.currency,
        "method": payment.method.value,
        "status": payment.status.value,
    }


def campaign_data(campaign: Campaign) -> dict[str, Any]:
    from app.campaigns import listing

    return listing.as_json(campaign)


def emit(event_type: str, data: dict[str, Any]) -> int:
    """Queue the event for every active endpoint subscribed to it; how many were queued."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event {event_type!r}")
    endpoints = [
        e
        for e in db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None)))
        if event_type in (e.events or [])
    ]
    if not endpoints:
        return 0
    event_id = f"evt_{uuid.uuid4().hex}"
    now = utcnow()
    body = json.dumps(
        {"id": event_id, "type": event_type, "created": now.isoformat(timespec="seconds"), "data": data},
        ensure_ascii=False,
        sort_keys=True,
    )
    for endpoint in endpoints:
        db.session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id, event_id=event_id, event_type=event_type, payload=body, next_attempt_at=now
            )
        )
    db.session.info[QUEUED] = True
    return len(endpoints)


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    """Once a change that queued events commits, ask a worker to deliver them (never here)."""
    if session.info.pop(QUEUED, False):
        from app import jobs

        jobs.deliver_webhooks_soon()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(QUEUED, None)
