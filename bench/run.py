"""`make bench`: Pledgeline's speed and memory targets (DESIGN.md), measured side by side in one run.

    .venv/bin/python -m bench.run            # 1,000 and 1,000,000 pledges; PostgreSQL too if reachable
    .venv/bin/python -m bench.run --quick    # 1,000 and 20,000 pledges, SQLite only, short runs

For each database (SQLite; PostgreSQL when reachable) and each dataset size it:
  1. builds the dataset once (bench/dataset.py) and keeps it under bench/.data for later runs;
  2. measures in one process (bench/inprocess.py): the dashboard's aggregates against the same SQL
     run raw, pages of the pledge table, and an uncached impact report against WeasyPrint alone;
  3. serves the app with gunicorn (2 sync workers, loopback, production settings) beside a bare
     Flask route served the same way, and drives both with wrk, taking turns (bare, page, API,
     treasurer pages, webhooks; then again, for several rounds): req/s medians and their ratios
     to the bare route;
  4. reads each app worker's peak and current RSS after the runs.
Then it writes bench/results/latest.json and prints a markdown table, with each target met or
missed and by how much. Figures are medians of the rounds; a ratio is the median of the ratios
of pairs measured side by side (bench/results.py).

Environment: BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres), the
server on which scratch databases are created.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import events, results, server, store, wrk
from bench.dataset import CAMPAIGN_SLUG, DATASET_VERSION, ROOT
from bench.inprocess import USER_AGENT

RESULTS_DIR = ROOT / "bench" / "results"
LOG_DIR = store.DATA_DIR / "logs"  # the servers' logs from the latest run, and the builds'


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...]
    seconds: float  # one wrk run
    rounds: int  # how many times every HTTP target takes its turn
    warmup: float  # a wrk run per target before the rounds (0: a few requests only)
    repeat: int  # in-process samples of the dashboard and the pledge table
    report_repeat: int  # in-process samples of the impact report
    threads: int = 2
    connections: int = 4


FULL = Settings(sizes=(1_000, 1_000_000), seconds=3, rounds=5, warmup=2, repeat=30, report_repeat=5)
QUICK = Settings(sizes=(1_000, 20_000), seconds=1, rounds=3, warmup=0, repeat=10, report_repeat=2)


def say(message: str) -> None:
    print(message, flush=True)


# --- The machine -----------------------------------------------------------------------------


def load_average() -> float:
    """The 1-minute load average: other work on the machine skews every number."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return math.nan


def machine(versions: Mapping[str, str]) -> dict[str, Any]:
    """What the numbers were measured on (no host names, no paths)."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = math.nan
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout
    import gunicorn

    described = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "gunicorn": gunicorn.__version__,
        "wrk": wrk_version.split()[1] if wrk_version.split()[1:] else "unknown",
        **versions,
    }
    parts = [f"{described['cores']} cores ({cpu})", f"{memory_gb:g} GB RAM", f"Python {described['python']}"]
    parts += [f"{results.BACKEND_LABELS.get(k, k)} {v}" for k, v in versions.items()]
    described["description"] = ", ".join(parts)
    return described


# --- HTTP ------------------------------------------------------------------------------------


def fetch(url: str, *, method: str = "GET", body: str | None = None, headers: Mapping[str, str] | None = None) -> int:
    """One request, redirects NOT followed (a redirect to sign-in must not pass for a page)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@dataclass(frozen=True)
class Load:
    name: str
    url: str
    headers: tuple[str, ...] = ()
    webhook: str = ""  # "distinct" or "duplicate"


def loads(app: server.Server, bare: server.Server, cookie: str) -> list[Load]:
    treasurer = (f"Cookie: {cookie}", f"User-Agent: {USER_AGENT}")
    pledges = app.url(f"/treasurer/campaigns/{CAMPAIGN_SLUG}/pledges")
    return [
        Load("bare", bare.url("/")),
        Load("campaign_page", app.url(f"/campaigns/{CAMPAIGN_SLUG}")),
        Load("campaign_api", app.url(f"/api/v1/campaigns/{CAMPAIGN_SLUG}")),
        Load("treasurer_pledges", pledges, treasurer),
        Load("treasurer_pledges_filtered", f"{pledges}?status=committed", treasurer),
        Load("webhook_distinct", app.url("/webhooks/stripe"), webhook="distinct"),
        Load("webhook_duplicate", app.url("/webhooks/stripe"), webhook="duplicate"),
    ]


class Driver:
    """Runs wrk for each target in turn, writing fresh signed events before each webhook run."""

    def __init__(self, settings: Settings, webhook_secret: str, scratch: Path) -> None:
        self.settings = settings
        self.secret = webhook_secret
        self.scratch = scratch
        self.fastest = 3_000.0  # req/s: sizes the event files; raised to whatever the bare route reaches
        self.run_id = secrets.token_hex(3)
        self.files = 0

    def check(self, target: Load) -> None:
        """One request first: it must answer 200 (so wrk's numbers are of the real page)."""
        if target.webhook:
            path = self._events(target, count=1)
            signature, body = path.read_text().splitlines()[0].split("\t", 1)
            status = fetch(target.url, method="POST", body=body, headers={"Stripe-Signature": signature})
        else:
            status = fetch(target.url, headers=dict(h.split(": ", 1) for h in target.headers))
        if status != 200:
            raise RuntimeError(f"{target.name}: {target.url} answered {status}, not 200")

    def _events(self, target: Load, count: int) -> Path:
        self.files += 1
        path = self.scratch / f"events-{self.files}.txt"
        if target.webhook == "duplicate":
            # Every thread sends the one event already stored (by `check`, or the previous run).
            events.write(path, self.secret, prefix=f"{self.run_id}dup", count=self.settings.threads, repeat_first=True)
        else:
            events.write(path, self.secret, prefix=f"{self.run_id}n{self.files}", count=count)
        return path

    def run(self, target: Load, seconds: float) -> wrk.Result:
        script, script_args = None, ()
        if target.webhook:
            # Enough distinct events for this run even at the bare route's rate, with room to spare.
            count = int(self.fastest * seconds * 1.5) + 500
            script = wrk.LUA_DIR / "post_events.lua"
            script_args = (str(self._events(target, count)), str(self.settings.threads))
        result = wrk.run(
            target.url,
            threads=self.settings.threads,
            connections=self.settings.connections,
            seconds=seconds,
            script=script,
            headers=target.headers,
            script_args=script_args,
        )
        if target.name == "bare":
            self.fastest = max(self.fastest, result.requests_per_second)
        return result


def drive_http(driver: Driver, plan: list[Load], settings: Settings) -> dict[str, list[wrk.Result]]:
    for target in plan:
        driver.check(target)
    if settings.warmup:
        for target in plan:
            driver.run(target, settings.warmup)
    runs: dict[str, list[wrk.Result]] = {target.name: [] for target in plan}
    for round_number in range(settings.rounds):
        for target in plan:
            result = driver.run(target, settings.seconds)
            runs[target.name].append(result)
            wrapped = result.extra.get("wrapped", 0) if target.webhook == "distinct" else 0
            if result.errors or wrapped:
                say(
                    f"    warning: {target.name} round {round_number + 1}: {result.non_2xx} non-2xx, "
                    f"socket errors {result.socket_errors}, distinct events ran out {wrapped}×"
                )
        line = ", ".join(f"{name} {runs[name][-1].requests_per_second:,.0f}" for name in runs)
        say(f"    round {round_number + 1}/{settings.rounds} (req/s): {line}")
    return runs


# --- One dataset -----------------------------------------------------------------------------


def server_env(database_url: str, secret_key: str, webhook_secret: str) -> dict[str, str]:
    """Production settings from the environment, as a deployment would give them."""
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "VIRTUAL_ENV")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        PLEDGELINE_ENV="production",
        SECRET_KEY=secret_key,
        DATABASE_URL=database_url,
        STRIPE_WEBHOOK_SECRET=webhook_secret,
        # Test-mode keys that are never used: none of the measured routes calls Stripe.
        STRIPE_SECRET_KEY="sk_test_bench_never_used",  # noqa: S106 - not a real key
        STRIPE_PUBLISHABLE_KEY="pk_test_bench_never_used",
        PUBLIC_URL="https://pledgeline.example",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def measure_in_process(url: str, settings: Settings, secret_key: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.inprocess",
            "--url",
            url,
            "--repeat",
            str(settings.repeat),
            "--report-repeat",
            str(settings.report_repeat),
        ],
        cwd=ROOT,
        env={**os.environ, "BENCH_SECRET_KEY": secret_key},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"In-process measurements failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure_dataset(
    backend: str,
    size: int,
    url: str,
    settings: Settings,
    bare: server.Server,
    secrets_: tuple[str, str],
    scratch: Path,
) -> list[results.Measurement]:
    secret_key, webhook_secret = secrets_
    found: list[results.Measurement] = []

    def add(name: str, samples: list[float], unit: str, detail: dict[str, Any] | None = None) -> None:
        found.append(results.Measurement(name, backend, size, samples, unit, detail or {}))

    say(f"  in-process: dashboard, pledge table, impact report ({backend}, {size:,} pledges)")
    inproc = measure_in_process(url, settings, secret_key)
    for name in results.IN_PROCESS:
        detail = {"statements": inproc["dashboard_statements"]} if name == "dashboard_raw" else {}
        add(name, inproc[name], "s", detail)

    say(f"  HTTP: gunicorn, {server.WORKERS} sync workers, wrk -t{settings.threads} -c{settings.connections}")
    app = server.start(
        f"app_{backend}_{size}",
        "wsgi:app",
        server_env(url, secret_key, webhook_secret),
        LOG_DIR,
        ready_path="/healthz",
    )
    try:
        driver = Driver(settings, webhook_secret, scratch)
        runs = drive_http(driver, loads(app, bare, inproc["treasurer_cookie"]), settings)
        memory = app.memory()
    finally:
        app.stop()
    for name, runs_of in runs.items():
        add(
            name,
            [r.requests_per_second for r in runs_of],
            "req/s",
            {"runs": [r.as_dict() for r in runs_of]},
        )
    add("worker_peak_rss", [w["VmHWM"] / 1024 for w in memory], "MB", {"workers": memory})
    add("worker_rss", [w["VmRSS"] / 1024 for w in memory], "MB", {"workers": memory})
    return found


# --- The run ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs, SQLite only (< 2 minutes)")
    postgres = parser.add_mutually_exclusive_group()
    postgres.add_argument("--postgres", action="store_true", help="also PostgreSQL (an error if unreachable)")
    postgres.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--sizes", type=int, nargs="+", help="dataset sizes (pledges)")
    parser.add_argument("--seconds", type=float, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, help="how many times each HTTP target takes its turn")
    parser.add_argument(
        "--out", type=Path, help="results file (default bench/results/latest.json; quick.json with --quick)"
    )
    args = parser.parse_args(argv)
    args.out = args.out or RESULTS_DIR / ("quick.json" if args.quick else "latest.json")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not wrk.available():
        print(wrk.INSTALL_HINT, file=sys.stderr)
        return 2
    settings = QUICK if args.quick else FULL
    if args.sizes:
        settings = replace(settings, sizes=tuple(sorted(args.sizes)))
    if args.seconds:
        settings = replace(settings, seconds=args.seconds)
    if args.rounds:
        settings = replace(settings, rounds=args.rounds)

    stores: list[Any] = [store.SqliteStore()]
    postgres = store.PostgresStore(os.environ.get("BENCH_POSTGRES_URL", "").strip() or store.DEFAULT_POSTGRES_URL)
    if args.postgres or not (args.quick or args.no_postgres):
        if postgres.reachable():
            stores.append(postgres)
        elif args.postgres:
            print(f"PostgreSQL is not reachable at {postgres.server_url}", file=sys.stderr)
            return 2
        else:
            say(f"PostgreSQL is not reachable at {postgres.server_url}: SQLite only.")
    versions = {s.backend: s.version() for s in stores}
    about = machine(versions)
    started = time.perf_counter()
    load_before = load_average()
    say(f"Pledgeline benchmark{' (quick)' if args.quick else ''}: {about['description']}")
    if load_before > 0.5:
        say(f"Note: the load average is {load_before:.1f} before starting; other work will skew the figures.")

    secret_key = secrets.token_urlsafe(48)
    webhook_secret = "whsec_" + secrets.token_hex(24)
    measured = results.Results()
    datasets: list[dict[str, Any]] = []
    events_dir = tempfile.TemporaryDirectory(prefix="pledgeline-bench-")
    scratch = Path(events_dir.name)
    bare = server.start("bare", "bench.bare:app", server_env("", secret_key, webhook_secret), LOG_DIR)
    try:
        for kept in stores:
            for size in settings.sizes:
                say(f"Dataset: {kept.backend}, {size:,} pledges")
                began = time.perf_counter()
                info, cached = kept.ensure(size)
                say(f"  {'kept from an earlier run' if cached else f'built in {time.perf_counter() - began:.0f} s'}")
                datasets.append({"backend": kept.backend, "cached": cached, **info})
            for size in settings.sizes:
                say(f"Measuring: {kept.backend}, {size:,} pledges")
                url = kept.work_copy(size)
                try:
                    for m in measure_dataset(
                        kept.backend, size, url, settings, bare, (secret_key, webhook_secret), scratch
                    ):
                        measured.add(m)
                finally:
                    kept.drop(url)
    finally:
        bare.stop()
        events_dir.cleanup()

    now = datetime.now(UTC)
    document = results.write(
        args.out,
        measured,
        date=now.isoformat(timespec="seconds"),
        quick=args.quick,
        seconds=round(time.perf_counter() - started),
        machine={**about, "load_average": {"before": load_before, "after": load_average()}},
        settings={**asdict(settings), "workers": server.WORKERS, "dataset_version": DATASET_VERSION},
        datasets=datasets,
    )
    table = results.markdown(measured)
    say("")
    loads = document["machine"]["load_average"]
    say(
        f"{now:%-d %B %Y}, {about['description']}; {document['seconds']} s; "
        f"load average {loads['before']:.1f} before, {loads['after']:.1f} after"
    )
    say("")
    say(table)
    say(f"Results: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
