"""Serve the app for development on http://127.0.0.1:5000 (PORT to change): what `make run` runs.

It loads the demo data (only the first time). With no STRIPE_SECRET_KEY set, it also starts
localstripe on loopback, points the app at it and registers our webhook with it, so the card
pledge journey works offline with test cards. It then prints the addresses and the demo accounts
once, and logs one line per request: the app's own INFO lines and the Stripe library's stay out
of this console (warnings and errors still show).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from flask import Flask
from werkzeug.serving import make_server

import config

DEMO_WEBHOOK_SECRET = "whsec_demo_only_not_secret"  # noqa: S105 - localstripe demo only


class _RequestLines(logging.Formatter):
    """Werkzeug's request line as it is (it carries its own time), without its colours when not on a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line if sys.stderr.isatty() else re.sub(r"\x1b\[[0-9;]*m", "", line)


def quiet_console() -> None:
    """Warnings and errors from everything; at INFO, only werkzeug's one line per request."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING)
    requests = logging.getLogger("werkzeug")
    handler = logging.StreamHandler()
    handler.setFormatter(_RequestLines("%(message)s"))
    requests.addHandler(handler)
    requests.setLevel(logging.INFO)
    requests.propagate = False


def _check_free(port: int, variable: str) -> None:
    """Stop with a clear message when something already listens on the port.

    SO_REUSEADDR as werkzeug and aiohttp bind: only a listening socket makes the port busy.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            message = (
                f"Port {port} is already in use: set {variable} to a free one, e.g. {variable}={port + 1} make run"
            )
            raise SystemExit(message) from None


def _wait_for(url: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback URL we built
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"localstripe did not start on {url}")


def start_localstripe(port: int) -> str:
    """Start localstripe on loopback and point the app (created after this) at it; its address."""
    base = f"http://127.0.0.1:{port}"
    _check_free(port, "LOCALSTRIPE_PORT")
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.localstripe_server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    _wait_for(f"{base}/js.stripe.com/v3/")
    os.environ.setdefault("STRIPE_API_BASE", base)
    os.environ.setdefault("STRIPE_WEBHOOK_SECRET", DEMO_WEBHOOK_SECRET)
    return base


def register_webhook(localstripe: str, app_port: int) -> None:
    """Have localstripe send our webhook the event types we act on, as a Stripe endpoint would be set up.

    localstripe sends every event by default: saving the demo's test cards alone would post dozens
    of customer.created events, which we ignore, into this console.
    """
    from app.payments.webhooks import HANDLERS

    fields = [("url", f"http://127.0.0.1:{app_port}/webhooks/stripe"), ("secret", os.environ["STRIPE_WEBHOOK_SECRET"])]
    fields += [("events[]", event_type) for event_type in sorted(HANDLERS)]
    request = urllib.request.Request(  # noqa: S310 - loopback URL we built
        f"{localstripe}/_config/webhooks/pledgeline", data=urllib.parse.urlencode(fields).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback URL we built
        pass


def load_demo(app: Flask) -> str:
    """Load the demo data (once) and save test cards at localstripe; one line saying what there is."""
    from app import demo
    from app.councils import register as council_register
    from app.extensions import db
    from app.payments import gateway

    with app.app_context():
        # The register first (once), so the demo's councils are the register's rows.
        if not council_register.is_loaded():
            council_register.import_register()
        try:
            result = demo.seed()
        except demo.DemoRefused as error:
            raise SystemExit(str(error)) from error
        db.session.commit()
        cards = demo.attach_test_cards() if gateway.is_local() else 0
    loaded = (
        f"loaded: {result.pledges} pledges from {result.councils} councils and individuals"
        if result.created
        else "already loaded"
    )
    return loaded + (f"; test cards saved at localstripe for {cards} card pledges" if cards else "")


def banner(app: Flask, site: str, localstripe: str | None, demo_line: str) -> str:
    """What someone trying the service needs, once: where it is, where payments and emails go, who to sign in as."""
    from app import demo

    lines = ["", f"Pledgeline is running at {site}  (development server; Ctrl+C to stop)", ""]
    if app.config["PUBLIC_URL"].rstrip("/") != site:
        lines.append(f"  Links        in emails and PDFs point to PUBLIC_URL, {app.config['PUBLIC_URL']}")
    if localstripe:
        lines.append(f"  Payments     localstripe at {localstripe}, a local stand-in for Stripe: no real money moves")
        lines.append("               test card 4242 4242 4242 4242, any future expiry date and any CVC")
    elif str(app.config["STRIPE_SECRET_KEY"]).startswith(("sk_live_", "rk_live_")):
        lines.append("  Payments     Stripe, with live keys: real money moves")
    else:
        lines.append("  Payments     Stripe, in test mode")
    if app.config["MAIL_SERVER"]:
        lines.append(f"  Emails       sent through {app.config['MAIL_SERVER']}:{app.config['MAIL_PORT']}")
    else:
        lines.append("  Emails       written to instance/outbox/ as .eml files (no MAIL_SERVER set)")
    lines.append(f"  Demo data    {demo_line}")
    lines += ["", "Demo accounts (for this demo only):"]
    lines += [f"  {role:<10} {address:<36} password: {password}" for role, address, password in demo.DEMO_ACCOUNTS]
    return "\n".join([*lines, ""])


def main() -> None:
    try:
        serve()
    except config.ConfigError as error:
        raise SystemExit(f"Pledgeline cannot start: {error}") from None


def serve() -> None:
    environ = config.read_environment()
    # The same PORT the app's configuration sees, so PUBLIC_URL's default is the address served here.
    port = config.port_number(environ.get("PORT") or "5000")
    _check_free(port, "PORT")
    localstripe = None
    if not environ.get("STRIPE_SECRET_KEY"):
        localstripe = start_localstripe(
            config.port_number(environ.get("LOCALSTRIPE_PORT") or "8420", "LOCALSTRIPE_PORT")
        )

    quiet_console()
    from app import create_app

    app = create_app()
    if localstripe:
        register_webhook(localstripe, port)
    demo_line = load_demo(app)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(banner(app, f"http://127.0.0.1:{port}", localstripe, demo_line), flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()  # werkzeug's returns on Ctrl+C, and closes the socket
    except KeyboardInterrupt:
        pass
    print("Stopped.")


def _stop(signum: int, frame: object) -> None:
    """`kill` stops the server as Ctrl+C does, so localstripe is stopped with it."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
