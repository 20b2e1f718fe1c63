"""Serve the app for development on http://127.0.0.1:5000.

With no STRIPE_SECRET_KEY set, this also starts localstripe on loopback, points the app at it and
registers our webhook with it, so the card pledge journey works offline with test cards.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

LOCALSTRIPE_PORT = int(os.environ.get("LOCALSTRIPE_PORT", "8420"))
DEMO_WEBHOOK_SECRET = "whsec_demo_only_not_secret"  # noqa: S105 - localstripe demo only


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


def start_localstripe(app_port: int) -> None:
    base = f"http://127.0.0.1:{LOCALSTRIPE_PORT}"
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.localstripe_server", "--port", str(LOCALSTRIPE_PORT)],
        stdout=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    _wait_for(f"{base}/js.stripe.com/v3/")
    os.environ.setdefault("STRIPE_API_BASE", base)
    os.environ.setdefault("STRIPE_WEBHOOK_SECRET", DEMO_WEBHOOK_SECRET)
    data = urllib.parse.urlencode(
        {"url": f"http://127.0.0.1:{app_port}/webhooks/stripe", "secret": os.environ["STRIPE_WEBHOOK_SECRET"]}
    ).encode()
    request = urllib.request.Request(f"{base}/_config/webhooks/pledgeline", data=data, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback URL we built
        pass
    print(f"Card payments go to localstripe at {base} (a local stand-in: no real money moves).")


def main() -> None:
    port = int(os.environ.get("PORT", "5000"))
    if not os.environ.get("STRIPE_SECRET_KEY"):
        start_localstripe(port)
    from app import create_app

    app = create_app()
    if not os.environ.get("STRIPE_SECRET_KEY"):
        from app import demo

        with app.app_context():
            cards = demo.attach_test_cards()
        print(f"Saved a test card at localstripe for {cards} card pledge(s), so they can be charged.")
    print(f"Pledgeline is running at http://127.0.0.1:{port}  (Ctrl+C to stop)")
    app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
