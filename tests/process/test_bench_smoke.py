"""The benchmark harness still runs end to end (sizes too small to judge the targets), over
the sections that measure np itself. The apply-scaling, state-backend and parsing sections
start servers and fleets of their own (half a minute at quick sizes): `make bench` runs them,
and CI's time budget does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("startup", "plan", "validate", "sim", "apply", "cpu", "foreach")


@pytest.mark.slow
def test_bench_quick_measures_every_target(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--json", str(out), "--only", *SECTIONS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["id"] for row in json.loads(out.read_text())["rows"]}
    assert {"1a", "1b", "2a", "2b", "3", "4", "5a", "5b", "f1", "f2"} <= rows
