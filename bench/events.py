"""Signed Stripe webhook events for the ingestion benchmark, written one a line for wrk's Lua script.

Each event is signed with Stripe's scheme (`t=<unix time>,v1=<HMAC-SHA256(secret, "<t>.<body>")>`),
so the app verifies it exactly as it would a real one. The timestamp is the moment the file is
written; the app accepts events up to 300 s old, so a file is written just before its run.

The events are of two kinds the app stores but handles cheaply, alternately:
  payment_intent.created   no handler: stored with the outcome "ignored"
  payment_intent.succeeded for a PaymentIntent that is not ours: stored as "unmatched", after
                           looking the intent up by its (indexed) id
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

TYPES = ("payment_intent.created", "payment_intent.succeeded")


def signature(secret: str, body: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event_body(event_id: str, number: int, timestamp: int) -> str:
    """One event's JSON, compact (one line), for a PaymentIntent no pledge of ours has."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": TYPES[number % len(TYPES)],
            "livemode": False,
            "created": timestamp,
            "data": {
                "object": {
                    "id": f"pi_{event_id.removeprefix('evt_')}",
                    "object": "payment_intent",
                    "amount": 2500,
                    "currency": "gbp",
                    "status": "succeeded",
                    "metadata": {},
                }
            },
        },
        separators=(",", ":"),
    )


def write(path: Path, secret: str, *, prefix: str, count: int, repeat_first: bool = False) -> list[str]:
    """Write `count` signed events to `path` ("signature<TAB>body" a line); return their ids.

    With `repeat_first`, every line is the same event (for the duplicates run).
    """
    timestamp = int(time.time())
    ids: list[str] = []
    lines: list[str] = []
    for number in range(count):
        event_id = f"evt_{prefix}_{0 if repeat_first else number}"
        body = event_body(event_id, 0 if repeat_first else number, timestamp)
        ids.append(event_id)
        lines.append(f"{signature(secret, body, timestamp)}\t{body}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return ids
