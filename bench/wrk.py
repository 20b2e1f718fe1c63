"""Driving load with wrk (the Debian package `wrk`) and reading what it prints."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"
INSTALL_HINT = (
    "make bench needs wrk, the HTTP load generator, and it is not installed.\n"
    "On Debian or Ubuntu: sudo apt-get install wrk   (macOS: brew install wrk)"
)

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)"


class WrkError(RuntimeError):
    """wrk could not run, or printed something we cannot read."""


@dataclass(frozen=True)
class Result:
    """One wrk run: throughput, latency and anything that went wrong."""

    requests_per_second: float
    requests: int
    seconds: float
    latency_avg_ms: float
    latency_ms: dict[str, float] = field(default_factory=dict)  # percentile ("50%") -> ms
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)  # connect, read, write, timeout
    extra: dict[str, int] = field(default_factory=dict)  # "bench-<name>: n" lines our Lua scripts print

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def available() -> bool:
    return shutil.which("wrk") is not None


def _ms(number: str, unit: str) -> float:
    return float(number) * _UNITS_MS[unit]


def parse(text: str) -> Result:
    """Read wrk's report (with --latency or without)."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in " + _DURATION, text, re.MULTILINE)
    latency = re.search(r"^\s*Latency\s+" + _DURATION, text, re.MULTILINE)
    if not (rate and total and latency):
        raise WrkError(f"Could not read wrk's output:\n{text}")
    percentiles = {
        match[1] + "%": _ms(match[2], match[3])
        for match in re.finditer(r"^\s+(\d+(?:\.\d+)?)%\s+" + _DURATION, text, re.MULTILINE)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return Result(
        requests_per_second=float(rate[1]),
        requests=int(total[1]),
        seconds=_ms(total[2], total[3]) / 1000,
        latency_avg_ms=_ms(latency[1], latency[2]),
        latency_ms=percentiles,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True))
        if sockets
        else {},
        extra={m[1]: int(m[2]) for m in re.finditer(r"^bench-([a-z_]+):\s+(\d+)", text, re.MULTILINE)},
    )


def command(
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: float,
    script: Path | None = None,
    headers: Sequence[str] = (),
    script_args: Sequence[str] = (),
) -> list[str]:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    for header in headers:
        args += ["-H", header]
    if script is not None:
        args += ["-s", str(script)]
    args.append(url)
    return [*args, "--", *script_args] if script_args else args


def run(
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: float,
    script: Path | None = None,
    headers: Sequence[str] = (),
    script_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run wrk against `url` and return what it measured (errors included, never hidden)."""
    args = command(
        url,
        threads=threads,
        connections=connections,
        seconds=seconds,
        script=script,
        headers=headers,
        script_args=script_args,
    )
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, env=env, check=False)
    if done.returncode != 0:
        raise WrkError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)
