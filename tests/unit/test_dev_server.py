"""`make run`'s server (scripts/dev_server.py): a short console that says where everything is, once.

The server runs as a real process on a throwaway database. It is given a test-mode Stripe key,
so it starts no localstripe; nothing here calls Stripe.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app import demo
from config import BASE_DIR
from tests.stripe_server import free_port


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("STRIPE_", "MAIL_"))}
    env.pop("PUBLIC_URL", None)
    env.update(
        PLEDGELINE_ENV="development",
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        STRIPE_SECRET_KEY="sk_test_never_used",  # not a real key
        STRIPE_PUBLISHABLE_KEY="pk_test_never_used",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_until_listening(port: int, process: subprocess.Popen[str], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server stopped: {process.communicate()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:  # a connection without a request logs nothing
                return
        time.sleep(0.2)
    pytest.fail("the server did not start")


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str]:
    """(port, stdout, stderr) of the server after it served three requests and was stopped."""
    port = free_port()
    env = _env(tmp_path_factory.mktemp("dev-server"), port)
    python = sys.executable
    subprocess.run(
        [python, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        check=True,
    )
    process = subprocess.Popen(
        [python, "-m", "scripts.dev_server"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_listening(port, process)
        base = f"http://127.0.0.1:{port}"
        assert _status(f"{base}/healthz") == 200
        assert _status(f"{base}/campaigns/{demo.CAMPAIGN_SLUG}") == 200
        assert _status(f"{base}/campaigns/no-such-campaign") == 404
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    return port, out, err


def test_the_console_names_the_address_and_each_demo_account_once(console: tuple[int, str, str]) -> None:
    port, out, err = console
    text = out + err

    assert text.count("Pledgeline is running at") == 1
    assert f"Pledgeline is running at http://127.0.0.1:{port}" in out
    assert "Payments     Stripe, in test mode" in out
    assert "Emails       written to instance/outbox/" in out
    assert "Demo data    loaded: " in out
    for _role, address, password in demo.DEMO_ACCOUNTS:
        assert text.count(address) == 1
        assert text.count(password) == 1
    assert "Links        " not in out  # PUBLIC_URL is the address served, so there is nothing to warn about


def test_the_console_shows_one_line_per_request_and_nothing_else(console: tuple[int, str, str]) -> None:
    _port, out, err = console

    lines = err.splitlines()
    assert len(lines) == 3, err
    assert '"GET /healthz HTTP/1.1" 200' in lines[0]
    assert f'"GET /campaigns/{demo.CAMPAIGN_SLUG} HTTP/1.1" 200' in lines[1]
    assert '"GET /campaigns/no-such-campaign HTTP/1.1" 404' in lines[2]
    assert out.rstrip().endswith("Stopped.")  # stopped by a signal, as Ctrl+C does
