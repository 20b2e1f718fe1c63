"""The webhook benchmark's events: signed as Stripe signs them, accepted and stored by the app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import StripeEvent
from app.payments import gateway
from bench import events

SECRET = "whsec_bench_test_secret"


def _lines(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t", 1)) for line in path.read_text().splitlines()]  # type: ignore[misc]


def test_each_event_is_distinct_and_carries_a_valid_signature(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"

    ids = events.write(path, SECRET, prefix="t1", count=4)

    assert len(set(ids)) == 4
    for (signature, body), event_id in zip(_lines(path), ids, strict=True):
        event = gateway.construct_event(body.encode(), signature, SECRET)
        assert event["id"] == event_id


def test_the_duplicates_file_repeats_one_event(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"

    ids = events.write(path, SECRET, prefix="t2", count=3, repeat_first=True)

    assert len(set(ids)) == 1
    assert len({body for _, body in _lines(path)}) == 1


def test_the_app_stores_each_event_and_recognises_the_duplicate(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)
    path = tmp_path / "events.txt"
    events.write(path, SECRET, prefix="t3", count=2)
    lines = _lines(path)

    outcomes = [
        client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": signature}).json["outcome"]
        for signature, body in [*lines, lines[0]]
    ]

    assert outcomes == ["ignored", "unmatched", "duplicate"]
    stored = db.session.scalars(select(StripeEvent.stripe_id).order_by(StripeEvent.id)).all()
    assert stored == [json.loads(body)["id"] for _, body in lines]
