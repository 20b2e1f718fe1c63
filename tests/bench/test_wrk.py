"""Reading wrk's report, from output captured from real runs (tests/bench/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import wrk

DATA = Path(__file__).parent / "data"


def test_a_clean_run() -> None:
    result = wrk.parse((DATA / "wrk_ok.txt").read_text())

    assert result.requests_per_second == 3616.08
    assert result.requests == 7599
    assert result.seconds == pytest.approx(2.10)
    assert result.latency_avg_ms == pytest.approx(1.19)
    assert result.latency_ms == {"50%": 0.96, "75%": 1.27, "90%": 1.71, "99%": 6.04}
    assert result.errors == 0


def test_error_responses_are_counted_not_hidden() -> None:
    result = wrk.parse((DATA / "wrk_non_2xx.txt").read_text())

    assert result.non_2xx == 4904 == result.requests
    assert result.errors == 4904


def test_socket_errors_and_the_event_scripts_own_line() -> None:
    result = wrk.parse((DATA / "wrk_socket_errors.txt").read_text())

    assert result.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 4}
    assert result.latency_avg_ms == pytest.approx(43.52)
    assert result.extra == {"wrapped": 71}
    assert result.requests_per_second == 22.59


def test_output_without_a_report_is_refused() -> None:
    with pytest.raises(wrk.WrkError):
        wrk.parse((DATA / "wrk_refused.txt").read_text())


def test_the_command_line() -> None:
    script = wrk.LUA_DIR / "post_events.lua"

    args = wrk.command(
        "http://127.0.0.1:8000/webhooks/stripe",
        threads=2,
        connections=4,
        seconds=4,
        script=script,
        headers=["User-Agent: bench"],
        script_args=["events.txt", "2"],
    )

    assert args[:4] == ["wrk", "-t2", "-c4", "-d4s"]
    assert args[args.index("-H") + 1] == "User-Agent: bench"
    assert args[args.index("-s") + 1] == str(script)
    assert args[-4:] == ["http://127.0.0.1:8000/webhooks/stripe", "--", "events.txt", "2"]
    assert script.is_file()
