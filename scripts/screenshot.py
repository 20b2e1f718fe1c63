"""Take full-page screenshots of running pages: python -m scripts.screenshot URL OUT.png [--mobile]."""

from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--mobile", action="store_true")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        viewport = {"width": 390, "height": 844} if args.mobile else {"width": 1280, "height": 900}
        page = browser.new_page(viewport=viewport)
        page.goto(args.url, wait_until="networkidle")
        page.screenshot(path=args.out, full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
