"""Run localstripe (the stateful Stripe stand-in from PyPI) on loopback only.

localstripe's own command listens on every interface; the demo and the tests only need it on
127.0.0.1, so this serves the same application object bound to loopback.

    python -m scripts.localstripe_server --port 8420
"""

from __future__ import annotations

import argparse
import logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    from aiohttp import web
    from localstripe.server import app

    logging.basicConfig(level=logging.WARNING)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
