"""The README's quickstart, as a new user runs it: plan, apply, then nothing left to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import Workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("language", ["hcl", "yaml"])
def test_quickstart_plans_applies_and_converges(tmp_path: Path, language: str) -> None:
    shutil.copytree(ROOT / "examples/quickstart", tmp_path / "quickstart")
    ws = Workspace(tmp_path / "quickstart" / language)
    plan = ws.np("plan")
    assert plan.code == 0, plan.stderr
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in plan.stdout
    applied = ws.np("apply", "--auto-approve")
    assert applied.code == 0, applied.stderr
    assert "Apply complete! Resources: 0 added, 2 changed, 0 destroyed." in applied.stdout
    again = ws.np("plan", "--detailed-exitcode")
    assert again.code == 0 and "No changes." in again.stdout
    world = (ws.root / "world.json").read_text()
    assert '"stage": "dev"' in world and '"cost-center"' in world  # unmanaged tag kept
