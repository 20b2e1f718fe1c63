from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.browser.conftest import live_server  # noqa: F401  (shared fixture)
from tests.stripe_server import LocalStripe, pointed_at


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[LocalStripe]:
    server = LocalStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def localstripe(app: Flask, localstripe_server: LocalStripe) -> Iterator[LocalStripe]:
    """localstripe, emptied, with the app pointed at it for this test."""
    localstripe_server.flush()
    with pointed_at(app, localstripe_server):
        yield localstripe_server
