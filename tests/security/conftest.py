"""Print what the security checks measured, for the README's security section."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.security import test_bad_input, test_logs, test_static

    figures = test_bad_input.FIGURES
    if figures["submissions"] or figures["JSON submissions"]:
        terminalreporter.write_line(
            f"bad input: {figures['submissions']} submissions of up to {figures['kinds']} kinds over "
            f"{figures['forms']} POST forms ({figures['forms with fields to fill']} with fields to fill) and "
            f"{figures['JSON submissions']} bodies to {figures['JSON endpoints']} JSON endpoint"
        )
    logs = test_logs.FIGURES
    if logs:
        terminalreporter.write_line(
            f"logs: {logs['records']} records from {logs['loggers']} loggers searched for "
            f"{logs['secrets']} secrets of the run (keys, card number, passwords, cookies, links): none found"
        )
    static = test_static.FIGURES
    if static:
        terminalreporter.write_line(
            f"bandit -r app -ll: 0 issues of medium or high severity "
            f"in {static['lines']} lines of {static['files']} files"
        )
