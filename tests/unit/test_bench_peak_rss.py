"""bench.billing_cli_process reports the peak memory of its own process: Linux carries
``ru_maxrss`` over fork and exec, so a fresh process started by a bigger parent (bench.billing
after its set-up) reported the parent's peak as its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PARENT_MB = 300


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_a_fresh_process_reports_its_own_peak_not_its_parents() -> None:
    ballast = bytearray(PARENT_MB * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # touched: resident in this (parent) process
    script = "from bench.billing_cli_process import peak_rss_mb; print(peak_rss_mb())"
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root)
    assert 0 < float(child.stdout) < PARENT_MB / 2
    del ballast
