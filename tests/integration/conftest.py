from tests.browser.conftest import live_server  # noqa: F401  (shared fixture)
