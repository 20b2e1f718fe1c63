"""Driving one browser tab: open pages, sign in, and check a page with axe-core."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import ConsoleMessage, Page

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa", "best-practice"]


class Browse:
    def __init__(self, page: Page, base_url: str, axe_source: str) -> None:
        self.page = page
        self.base_url = base_url
        self.console_errors: list[str] = []
        self._expected_status = 200
        # An init script runs through the DevTools protocol, so the page's Content-Security-Policy
        # (which would block an injected <script>) stays on and is tested too.
        page.add_init_script(script=axe_source)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"script error: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium logs the page's own status when it is an error; that is the point of a 404 page.
        if f"status of {self._expected_status}" in message.text and message.location.get("url") == self.page.url:
            return
        self.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def goto(self, path: str, *, status: int = 200) -> Page:
        """Open a page and check its status and that it logged no errors (CSP blocks, broken scripts)."""
        self._expected_status = status
        self.console_errors.clear()
        response = self.page.goto(self.base_url + path, wait_until="load")
        assert response is not None, f"no response for {path}"
        assert response.status == status, f"GET {path}: {response.status}, wanted {status}"
        self.assert_no_console_errors()
        return self.page

    def sign_in(self, email: str, password: str, *, expect_success: bool = True) -> Page:
        self.goto("/account/sign-in")
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_label("Password", exact=True).fill(password)
        self._expected_status = 200
        with self.page.expect_navigation(wait_until="load"):
            self.page.get_by_role("button", name="Sign in").click()
        if expect_success:
            assert "/account/sign-in" not in self.page.url, f"sign-in as {email} failed: still on {self.page.url}"
        return self.page

    def assert_no_console_errors(self) -> None:
        assert not self.console_errors, f"{self.page.url} logged errors:\n" + "\n".join(self.console_errors)

    def axe(self) -> list[dict[str, Any]]:
        """Run axe-core on the current page and return its violations."""
        result = self.page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
        return list(result["violations"])

    def assert_accessible(self) -> None:
        violations = self.axe()
        assert not violations, f"axe-core found problems on {self.page.url}:\n\n" + describe(violations)


def describe(violations: list[dict[str, Any]]) -> str:
    """axe-core's violations as text a person can act on: rule, impact, help link, each element."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation.get('impact') or 'no impact given'}): {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"  - {' '.join(str(t) for t in node['target'])}")
            lines.append(f"    {node['html'][:200]}")
            for summary_line in (node.get("failureSummary") or "").splitlines():
                lines.append(f"      {summary_line}")
        lines.append("")
    return "\n".join(lines)
