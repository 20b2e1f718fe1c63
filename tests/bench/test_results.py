"""The benchmark's arithmetic and its report: medians, ratios, targets and the results file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import results
from bench.results import Measurement, Results


def test_median_and_ratio() -> None:
    assert results.median([3.0, 1.0, 2.0]) == 2.0
    assert results.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert results.ratio(1_450, 2_900) == 0.5
    assert math.isnan(results.ratio(1.0, 0.0))
    with pytest.raises(ValueError):
        results.median([])


@pytest.mark.parametrize(
    ("op", "value", "limit", "met", "missed_by"),
    [
        (">=", 0.6, 0.5, True, None),
        (">=", 0.4, 0.5, False, 0.1),
        ("<=", 1.1, 1.15, True, None),
        ("<=", 2.0, 1.15, False, 0.85),
        ("<", 81.0, 80.0, False, 1.0),
        ("within", 1.10, 0.15, True, None),
        ("within", 0.90, 0.15, True, None),
        ("within", 1.40, 0.15, False, 0.25),
        ("within", 0.50, 0.15, False, 0.35),
    ],
)
def test_a_target_is_met_or_missed_by_how_much(op: str, value: float, limit: float, met: bool, missed_by) -> None:  # type: ignore[no-untyped-def]
    target = results.check("t", "sqlite", "a target", value, op, limit)

    assert target.met is met
    assert target.missed_by == (None if missed_by is None else pytest.approx(missed_by))


def _run() -> Results:
    """Two dataset sizes on SQLite, medians chosen so the ratios are easy to check by hand."""
    found = Results()
    for size, page, table, report in ((1_000, 1_500.0, 0.002, 0.30), (1_000_000, 1_200.0, 0.004, 0.30)):
        found.add(Measurement("bare", "sqlite", size, [2_900.0, 3_000.0, 3_100.0], "req/s"))
        found.add(Measurement("campaign_page", "sqlite", size, [page - 10, page, page + 10], "req/s"))
        found.add(Measurement("webhook_distinct", "sqlite", size, [800.0], "req/s"))
        found.add(Measurement("webhook_duplicate", "sqlite", size, [1_200.0], "req/s"))
        found.add(Measurement("dashboard_app", "sqlite", size, [0.0030], "s"))
        found.add(Measurement("dashboard_raw", "sqlite", size, [0.0020], "s"))
        found.add(Measurement("table_first", "sqlite", size, [table], "s"))
        found.add(Measurement("report", "sqlite", size, [report], "s"))
        found.add(Measurement("report_pdf", "sqlite", size, [0.25], "s"))
        found.add(Measurement("worker_peak_rss", "sqlite", size, [70.0, 85.0], "MB"))
    return found


def test_a_ratio_is_the_median_of_side_by_side_pairs() -> None:
    # Round 2 ran while the machine was busy: both sides slowed down, the pair's ratio did not.
    assert results.paired_ratio([1_000.0, 400.0, 1_100.0], [2_000.0, 800.0, 2_000.0]) == 0.5
    assert results.ratio(results.median([1_000.0, 400.0, 1_100.0]), 2_000.0) == 0.5
    # Unpaired samples: the ratio of the medians.
    assert results.paired_ratio([1.0, 2.0, 3.0], [4.0, 4.0]) == 0.5


def test_ratios_compare_each_measurement_with_its_baseline() -> None:
    ratios = {(r.name, r.denominator, r.size): r.value for r in _run().ratios()}

    assert ratios[("campaign_page", "bare", 1_000)] == pytest.approx(0.5)
    assert ratios[("campaign_page", "bare", 1_000_000)] == pytest.approx(0.4)
    assert ratios[("dashboard_app", "dashboard_raw", 1_000)] == pytest.approx(1.5)
    assert ratios[("webhook_duplicate", "webhook_distinct", 1_000)] == pytest.approx(1.5)
    assert ratios[("report", "report_pdf", 1_000_000)] == pytest.approx(1.2)


def test_targets_follow_the_design() -> None:
    targets = {t.description: t for t in _run().targets()}

    page = targets["Campaign page ≥ 0.5× the bare route at 1M"]
    assert (page.met, page.missed_by) == (False, pytest.approx(0.1))
    flat = targets["Campaign page flat ±15 %, 1k → 1M pledges (× bare)"]  # 0.4 / 0.5: 20 % slower
    assert (flat.met, flat.missed_by) == (False, pytest.approx(0.05))
    assert not targets["Pledge table first page flat ±15 %, 1k → 1M pledges"].met  # twice as slow
    assert not targets["Dashboard aggregates ≤ 1.15× raw SQL at 1M"].met
    assert targets["Webhooks, distinct events ≥ 0.25× bare at 1k"].met
    assert targets["Webhook duplicates no slower than distinct at 1M"].met
    assert targets["Impact report ≤ 1.3× WeasyPrint alone at 1M"].met
    assert targets["Impact report flat ±15 %, 1k → 1M pledges (× WeasyPrint)"].met
    memory = targets["A web worker under 80 MB after load (peak RSS)"]  # the worse worker counts
    assert (memory.value, memory.met, memory.missed_by) == (85.0, False, pytest.approx(5.0))
    assert "Campaign API ≥ 0.5× the bare route at 1M" not in targets  # not measured: not judged


def test_the_results_file_holds_context_samples_medians_ratios_and_targets(tmp_path: Path) -> None:
    path = tmp_path / "results" / "latest.json"

    results.write(path, _run(), date="2026-11-28T12:00:00+00:00", machine={"cores": 2}, settings={"rounds": 3})
    document = json.loads(path.read_text())

    assert document["date"] == "2026-11-28T12:00:00+00:00"
    assert document["machine"] == {"cores": 2}
    bare = next(m for m in document["measurements"] if m["name"] == "bare" and m["size"] == 1_000)
    assert bare["samples"] == [2_900.0, 3_000.0, 3_100.0]
    assert bare["median"] == 3_000.0
    assert {"name", "backend", "size", "numerator", "denominator", "value"} <= set(document["ratios"][0])
    assert {"description", "value", "met", "missed_by"} <= set(document["targets"][0])
    assert results.load(document).get("bare", "sqlite", 1_000).samples == bare["samples"]


def test_the_table_shows_each_measurement_with_its_ratio_and_each_target() -> None:
    table = results.markdown(_run())

    assert "| measurement | SQLite 1k | SQLite 1M |" in table
    assert "| campaign page (× bare route) | 0.50× (1,500/s) | 0.40× (1,200/s) |" in table
    assert "| pledge table, first page | 2.0 ms | 4.0 ms |" in table
    assert "| Campaign page ≥ 0.5× the bare route at 1M | SQLite | 0.40× | missed by 0.10× |" in table
