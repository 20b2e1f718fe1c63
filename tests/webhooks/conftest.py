"""Fixtures for the webhook tests: a webhook secret and test-mode key, and a signing "Stripe"."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tests.webhooks.stripe_events import TEST_WEBHOOK_SECRET
from tests.webhooks.support import Stripe


@pytest.fixture(autouse=True)
def _stripe_settings(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A webhook secret and a test-mode key; monkeypatch puts the shared app's settings back afterwards.

    Mail is written to this test's own folder, not the shared instance/outbox other tests read.
    """
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", TEST_WEBHOOK_SECRET)
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_pledgeline_webhook_tests")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))


@pytest.fixture
def stripe(app: Flask) -> Stripe:
    return Stripe(app)
