"""The benchmark harness still runs end to end (sizes too small to judge the targets)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_quick_measures_every_target(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["id"] for row in json.loads(out.read_text())["rows"]}
    assert {"1a", "1b", "2a", "2b", "3", "4", "5a", "5b", "f1", "f2"} <= rows
