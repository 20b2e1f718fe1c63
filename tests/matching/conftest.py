"""The browser fixtures (live server, Chromium, axe-core) from tests/browser, for this folder's
own page checks. Nothing starts unless a test asks for it."""

from tests.browser.conftest import axe_source, browse, browser, context, live_server, playwright  # noqa: F401
