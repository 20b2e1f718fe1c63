"""Static analysis of the app's code, as `make security` runs it (plan L)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES: dict[str, int] = {}


def test_bandit_finds_nothing_of_medium_or_high_severity() -> None:
    bandit = Path(sys.executable).with_name("bandit")
    result = subprocess.run(
        [str(bandit), "-q", "-r", "app", "-ll", "-f", "json"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    report = json.loads(result.stdout)
    issues = [f"{i['filename']}:{i['line_number']} {i['test_id']} {i['issue_text']}" for i in report["results"]]
    assert not issues, "\n".join(issues)
    assert result.returncode == 0, result.stderr
    totals = report["metrics"]["_totals"]
    assert totals["loc"] > 1000, "bandit read almost nothing"
    FIGURES.update(lines=totals["loc"], files=len(report["metrics"]) - 1)
