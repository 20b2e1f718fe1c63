"""The benchmark's arithmetic and its report: medians, ratios, the design's targets, the JSON
file and the markdown table. Pure functions of the measurements, so the tests can check them.

A ratio is the median of the ratios of paired samples (A and B measured in the same round, one
after the other), so that load from elsewhere on the machine, which changes from one round to the
next, cancels out as far as it can.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BACKEND_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
FLAT = 0.15  # "flat within ±15 %"

# name: (label, unit, what it is compared with)
HTTP = {
    "bare": ("bare Flask route", "req/s", None),
    "campaign_page": ("campaign page", "req/s", "bare"),
    "campaign_api": ("campaign API", "req/s", "bare"),
    "treasurer_pledges": ("treasurer's pledge table, first page (HTTP)", "req/s", "bare"),
    "treasurer_pledges_filtered": ("treasurer's pledge table, status=committed (HTTP)", "req/s", "bare"),
    "webhook_distinct": ("webhooks, distinct events", "req/s", "bare"),
    "webhook_duplicate": ("webhooks, the same event again", "req/s", "bare"),
}
IN_PROCESS = {
    "dashboard_app": ("dashboard aggregates (overview + chart data)", "s", "dashboard_raw"),
    "dashboard_raw": ("the same SQL, raw DBAPI cursor", "s", None),
    "table_first": ("pledge table, first page", "s", None),
    "table_committed": ("pledge table, status=committed", "s", None),
    "table_councils": ("pledge table, councils only", "s", None),
    "table_search_email": ("pledge table, search by email", "s", None),
    "table_search_rare_word": ("pledge table, search for a word no one has", "s", None),
    "report": ("impact report, uncached", "s", "report_pdf"),
    "report_pdf": ("WeasyPrint, the same HTML alone", "s", None),
    "report_figures": ("impact report's figures and template", "s", None),
}
MEMORY = {
    "worker_peak_rss": ("web worker, peak RSS (VmHWM)", "MB", None),
    "worker_rss": ("web worker, RSS after the runs (VmRSS)", "MB", None),
}
KINDS = {**HTTP, **IN_PROCESS, **MEMORY}
# How a baseline is named in "(× …)".
BASELINE_LABELS = {"bare": "bare route", "dashboard_raw": "raw SQL", "report_pdf": "WeasyPrint alone"}


def median(samples: Sequence[float]) -> float:
    if not samples:
        raise ValueError("no samples")
    return float(statistics.median(samples))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; NaN when the denominator is zero (nothing to compare with)."""
    return numerator / denominator if denominator else math.nan


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of the ratios of samples taken side by side (A and B in the same round), or the
    ratio of the medians when the samples are not in pairs.

    Pairs taken seconds apart share whatever else the machine was doing at the time, so their
    ratios vary less than the samples themselves.
    """
    if numerators and len(numerators) == len(denominators):
        return median([ratio(a, b) for a, b in zip(numerators, denominators, strict=True)])
    return ratio(median(numerators), median(denominators))


@dataclass(frozen=True)
class Measurement:
    name: str
    backend: str
    size: int
    samples: list[float]
    unit: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return median(self.samples)

    @property
    def label(self) -> str:
        return KINDS.get(self.name, (self.name, self.unit, None))[0]


@dataclass(frozen=True)
class Ratio:
    """A/B: for req/s the times the baseline's throughput; for seconds, the times its duration."""

    name: str
    backend: str
    size: int
    numerator: str
    denominator: str
    value: float


@dataclass(frozen=True)
class Target:
    name: str
    backend: str
    description: str
    value: float
    op: str  # ">=", "<=", "<" or "within"
    limit: float  # for "within": the allowed relative change (0.15)
    met: bool
    missed_by: float | None  # how far outside the limit (same unit as value), None if met


class Results:
    """All measurements of one run, keyed by (name, backend, size)."""

    def __init__(self, measurements: Iterable[Measurement] = ()) -> None:
        self.measurements: dict[tuple[str, str, int], Measurement] = {}
        for measurement in measurements:
            self.add(measurement)

    def add(self, measurement: Measurement) -> None:
        self.measurements[(measurement.name, measurement.backend, measurement.size)] = measurement

    def get(self, name: str, backend: str, size: int) -> Measurement | None:
        return self.measurements.get((name, backend, size))

    def datasets(self) -> list[tuple[str, int]]:
        """(backend, size) pairs measured, SQLite first, small sizes first."""
        order = list(BACKEND_LABELS)
        pairs = {(backend, size) for _, backend, size in self.measurements}
        return sorted(pairs, key=lambda p: (order.index(p[0]) if p[0] in order else 9, p[1]))

    def sizes(self, backend: str) -> list[int]:
        return sorted(size for b, size in self.datasets() if b == backend)

    def backends(self) -> list[str]:
        return list(dict.fromkeys(backend for backend, _ in self.datasets()))

    def ratio(self, name: str, baseline: str, backend: str, size: int) -> Ratio | None:
        a, b = self.get(name, backend, size), self.get(baseline, backend, size)
        if a is None or b is None:
            return None
        return Ratio(name, backend, size, name, baseline, paired_ratio(a.samples, b.samples))

    def ratios(self) -> list[Ratio]:
        found = []
        for backend, size in self.datasets():
            for name, (_, _, baseline) in KINDS.items():
                if baseline is not None:
                    found.extend(r for r in [self.ratio(name, baseline, backend, size)] if r is not None)
            duplicate = self.ratio("webhook_duplicate", "webhook_distinct", backend, size)
            if duplicate is not None:
                found.append(duplicate)
        return found

    def growth(self, name: str, backend: str, baseline: str | None = None) -> float | None:
        """Largest size over smallest: of the median, or of the ratio to `baseline` when given."""
        sizes = self.sizes(backend)
        if len(sizes) < 2:
            return None
        small, large = sizes[0], sizes[-1]
        if baseline is not None:
            a, b = self.ratio(name, baseline, backend, large), self.ratio(name, baseline, backend, small)
            return ratio(a.value, b.value) if a and b else None
        x, y = self.get(name, backend, large), self.get(name, backend, small)
        return ratio(x.median, y.median) if x and y else None

    def targets(self) -> list[Target]:
        """Each target in DESIGN.md ("Speed and memory"), for each backend measured."""
        found: list[Target] = []
        for backend in self.backends():
            sizes = self.sizes(backend)
            small, large = sizes[0], sizes[-1]
            span = f"{_size(small)} → {_size(large)} pledges"

            def add(name: str, description: str, value: float | None, op: str, limit: float) -> None:
                if value is not None and not math.isnan(value):
                    found.append(check(name, backend, description, value, op, limit))  # noqa: B023

            for name, label in (("campaign_page", "Campaign page"), ("campaign_api", "Campaign API")):
                r = self.ratio(name, "bare", backend, large)
                add(f"{name}_vs_bare", f"{label} ≥ 0.5× the bare route at {_size(large)}", r and r.value, ">=", 0.5)
                add(
                    f"{name}_flat",
                    f"{label} flat ±15 %, {span} (× bare)",
                    self.growth(name, backend, "bare"),
                    "within",
                    FLAT,
                )
            for size in sizes:
                r = self.ratio("dashboard_app", "dashboard_raw", backend, size)
                add(
                    "dashboard_vs_raw",
                    f"Dashboard aggregates ≤ 1.15× raw SQL at {_size(size)}",
                    r and r.value,
                    "<=",
                    1.15,
                )
            add(
                "table_first_flat",
                f"Pledge table first page flat ±15 %, {span}",
                self.growth("table_first", backend),
                "within",
                FLAT,
            )
            for size in sizes:
                r = self.ratio("webhook_distinct", "bare", backend, size)
                add(
                    "webhook_vs_bare",
                    f"Webhooks, distinct events ≥ 0.25× bare at {_size(size)}",
                    r and r.value,
                    ">=",
                    0.25,
                )
                d = self.ratio("webhook_duplicate", "webhook_distinct", backend, size)
                add(
                    "webhook_duplicates",
                    f"Webhook duplicates no slower than distinct at {_size(size)}",
                    d and d.value,
                    ">=",
                    1.0,
                )
            for size in sizes:
                r = self.ratio("report", "report_pdf", backend, size)
                add(
                    "report_vs_pdf", f"Impact report ≤ 1.3× WeasyPrint alone at {_size(size)}", r and r.value, "<=", 1.3
                )
            add(
                "report_flat",
                f"Impact report flat ±15 %, {span} (× WeasyPrint)",
                self.growth("report", backend, "report_pdf"),
                "within",
                FLAT,
            )
            peaks = [max(m.samples) for size in sizes if (m := self.get("worker_peak_rss", backend, size))]
            if peaks:
                add("worker_memory", "A web worker under 80 MB after load (peak RSS)", max(peaks), "<", 80.0)
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "measurements": [{**asdict(m), "label": m.label, "median": m.median} for m in self.measurements.values()],
            "ratios": [asdict(r) for r in self.ratios()],
            "targets": [asdict(t) for t in self.targets()],
        }


def check(name: str, backend: str, description: str, value: float, op: str, limit: float) -> Target:
    """Whether `value` meets the target, and by how much it misses if not."""
    if op == ">=":
        met, missed = value >= limit, limit - value
    elif op == "<=":
        met, missed = value <= limit, value - limit
    elif op == "<":
        met, missed = value < limit, value - limit
    elif op == "within":  # value is a growth factor; flat means within 1 ± limit
        change = value - 1
        met, missed = abs(change) <= limit, abs(change) - limit
    else:
        raise ValueError(f"unknown comparison {op!r}")
    return Target(name, backend, description, value, op, limit, met, None if met else round(missed, 4))


def _size(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return f"{size:,}"


def _number(value: float, unit: str) -> str:
    if unit == "req/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.2f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.3g}"


def _verdict(target: Target) -> str:
    if target.met:
        return "met"
    assert target.missed_by is not None  # noqa: S101 - set whenever a target is missed
    if target.op == "within":
        return f"missed by {target.missed_by * 100:.0f} points"
    if target.op in ("<", "<="):
        return f"missed by {target.missed_by:.2f}" + (" MB" if target.name == "worker_memory" else "×")
    return f"missed by {target.missed_by:.2f}×"


def _target_value(target: Target) -> str:
    if target.op == "within":
        return f"{(target.value - 1) * 100:+.0f} %"
    if target.name == "worker_memory":
        return f"{target.value:.0f} MB"
    return f"{target.value:.2f}×"


def markdown(results: Results) -> str:
    """Two short tables: every measurement by dataset (with its ratio), then the targets."""
    datasets = results.datasets()
    heading = [f"{BACKEND_LABELS.get(b, b)} {_size(s)}" for b, s in datasets]
    lines = ["| measurement | " + " | ".join(heading) + " |", "|---|" + "---|" * len(datasets)]
    for name, (label, unit, baseline) in KINDS.items():
        cells = []
        for backend, size in datasets:
            m = results.get(name, backend, size)
            if m is None:
                cells.append("–")
                continue
            cell = _number(m.median, unit)
            r = results.ratio(name, baseline, backend, size) if baseline else None
            if r is not None:
                cell = f"{r.value:.2f}× ({cell})"
            cells.append(cell)
        if any(cell != "–" for cell in cells):
            suffix = f" (× {BASELINE_LABELS.get(baseline, baseline)})" if baseline else ""
            lines.append(f"| {label}{suffix} | " + " | ".join(cells) + " |")
    lines += ["", "| target | database | measured | |", "|---|---|---|---|"]
    for target in results.targets():
        lines.append(
            f"| {target.description} | {BACKEND_LABELS.get(target.backend, target.backend)} | "
            f"{_target_value(target)} | {_verdict(target)} |"
        )
    return "\n".join(lines) + "\n"


def write(path: Path, results: Results, **context: Any) -> dict[str, Any]:
    """Write the results file: `context` (date, machine, settings, datasets…) and every measurement,
    ratio and target. Returns what it wrote."""
    document = {**context, **results.as_dict()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return document


def load(document: Mapping[str, Any]) -> Results:
    """The measurements of a results file, to print its table again."""
    return Results(
        Measurement(m["name"], m["backend"], m["size"], list(m["samples"]), m.get("unit", ""), m.get("detail", {}))
        for m in document["measurements"]
    )


def main() -> None:
    """Print the table of a results file again: python -m bench.results bench/results/latest.json"""
    import sys

    document = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    print(f"{document.get('date', '')[:10]}, {document.get('machine', {}).get('description', '')}\n")
    print(markdown(load(document)))


if __name__ == "__main__":
    main()
