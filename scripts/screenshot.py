"""Take a full-page screenshot of a running page.

    python -m scripts.screenshot URL OUT.png [--mobile] [--sign-in EMAIL:PASSWORD [--stay]]

With --sign-in the script first signs in on the same site's /account/sign-in page, so signed-in
pages (treasurer, sponsor, admin) can be captured. Uses the system Chromium (/usr/bin/chromium by
default, or $CHROMIUM).
"""

from __future__ import annotations

import argparse
import os
from urllib.parse import urlsplit, urlunsplit

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 375, "height": 812}


def _site_root(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description="Full-page screenshot of a running Pledgeline page.")
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--mobile", action="store_true", help="375×812 viewport instead of 1280×900")
    parser.add_argument("--sign-in", metavar="EMAIL:PASSWORD", help="sign in first with this demo account")
    parser.add_argument(
        "--stay", action="store_true", help="with --sign-in, capture the page the sign-in form leads to (its errors)"
    )
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=MOBILE if args.mobile else DESKTOP)
        page = context.new_page()
        if args.sign_in:
            email, _, password = args.sign_in.partition(":")
            page.goto(_site_root(args.url) + "/account/sign-in", wait_until="networkidle")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", password)
            with page.expect_navigation(wait_until="networkidle"):
                page.click("button[type=submit]")
        if not (args.sign_in and args.stay):
            page.goto(args.url, wait_until="networkidle")
        page.screenshot(path=args.out, full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
