"""tools/mutate.py's verdict: the score table CI reads, and the exit code that fails it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import mutate


def _meta(root: Path, path: str, verdicts: dict[str, int | None]) -> None:
    file = root / f"{path}.meta"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps({"exit_code_by_key": verdicts}))


def _diff_run(root: Path, diff_alive: int) -> None:
    """19 diff.py mutants and 1 of jsonmerge.py; ``diff_alive`` of them survived."""
    codes = [0] * diff_alive + [1] * (18 - diff_alive) + [36]  # 36: timed out, counts as killed
    _meta(
        root,
        "reconciler/diff.py",
        {f"reconciler.diff.x_f__mutmut_{i}": c for i, c in enumerate(codes)},
    )
    _meta(root, "reconciler/jsonmerge.py", {"reconciler.jsonmerge.x_g__mutmut_1": 1})


def test_a_group_at_its_threshold_passes_and_the_table_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _diff_run(tmp_path, diff_alive=1)  # 19 of 20: 95 %
    assert mutate.report((mutate.DIFF,), tmp_path) == 0
    out = capsys.readouterr().out
    assert "reconciler/diff.py              19      18      1   94.7%\n" in out
    assert "diff + jsonmerge                20      19      1   95.0%    95%\n" in out
    assert "  reconciler.diff.x_f__mutmut_0: survived\n" in out
    assert "BELOW" not in out


def test_a_group_below_its_threshold_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _diff_run(tmp_path, diff_alive=2)
    assert mutate.report((mutate.DIFF,), tmp_path) == 1
    assert "diff + jsonmerge                20      18      2   90.0%    95%  BELOW\n" in (
        capsys.readouterr().out
    )


def test_a_mutant_no_test_ran_counts_as_alive(tmp_path: Path) -> None:
    _diff_run(tmp_path, diff_alive=0)
    _meta(tmp_path, "reconciler/jsonmerge.py", {"reconciler.jsonmerge.x_g__mutmut_1": 33})
    assert mutate.report((mutate.DIFF,), tmp_path) == 0  # no tests: 19 of 20 killed
    _meta(tmp_path, "reconciler/diff.py", {"reconciler.diff.x_f__mutmut_1": None})
    assert mutate.report((mutate.DIFF,), tmp_path) == 1  # not checked either: 0 of 2


def test_ci_scores_only_the_three_way_diff_and_jsonmerge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diff = {f"reconciler.diff.{f}__mutmut_1": 1 for f in mutate.THREE_WAY}
    diff["reconciler.diff.x_drift_of__mutmut_1"] = 0  # make mutate's, not CI's
    _meta(tmp_path, "reconciler/diff.py", diff)
    _meta(tmp_path, "reconciler/jsonmerge.py", {"reconciler.jsonmerge.x_g__mutmut_1": 1})
    assert mutate.report(mutate.CI, tmp_path) == 0
    out = capsys.readouterr().out
    assert "three-way diff + jsonmerge       5       5      0  100.0%    95%\n" in out
    assert "drift_of" not in out


def test_only_the_mapping_of_model_py_is_scored_and_a_renamed_function_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f.removeprefix("x_") for f in mutate.MAPPING]
    model = {f"reconciler.model.x_{name}__mutmut_1": 1 for name in names}
    model["reconciler.model.x_status_counts__mutmut_1"] = 0  # parsing answers: not in scope
    _meta(tmp_path, "reconciler/model.py", model)
    for name, function in (
        ("changes", "fingerprint"),
        ("moves", "find_moves"),
        ("planner", "make_plan"),
        ("rules", "consistent"),
        ("saved", "save_plan"),
    ):
        module = f"reconciler.plan.{name}"
        _meta(tmp_path, f"reconciler/plan/{name}.py", {f"{module}.x_{function}__mutmut_1": 1})
    assert mutate.report((mutate.REST,), tmp_path) == 0
    assert "status_counts" not in capsys.readouterr().out
    del model["reconciler.model.x_wire_to_config__mutmut_1"]
    _meta(tmp_path, "reconciler/model.py", model)
    assert mutate.report((mutate.REST,), tmp_path) == 1
    assert (
        "no mutants match reconciler.model.x_wire_to_config__mutmut_*: was the function "
        "renamed?" in capsys.readouterr().out
    )
