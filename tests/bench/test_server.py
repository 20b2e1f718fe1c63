"""Reading a worker's memory from /proc, and finding gunicorn's workers under its master."""

from __future__ import annotations

import os
import subprocess
import sys

from bench import server

STATUS = """Name:\tgunicorn
VmPeak:\t  312000 kB
VmHWM:\t   131072 kB
VmRSS:\t   125952 kB
Threads:\t1
"""


def test_peak_and_current_rss_in_kb() -> None:
    assert server.parse_status(STATUS) == {"VmHWM": 131_072, "VmRSS": 125_952}


def test_the_children_of_a_process_are_found() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in server.children(os.getpid())
        assert "VmHWM" in server.read_status(child.pid)
    finally:
        child.kill()
        child.wait()
