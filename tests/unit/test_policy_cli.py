"""``np policy test`` through the command line: one line per test, a summary, exit codes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from reconciler.cli import cli

PASSING = """package main

import rego.v1

deny contains "big" if input.count > 3

test_small_passes if {
	count(deny) == 0 with input.count as 1
}
"""
FAILING = """package main

import rego.v1

test_wrong if {
	count(deny) == 1 with input.count as 1
}
"""


def np(root: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["-C", str(root), "--no-color", *args])
    assert "Traceback" not in result.output + result.stderr
    return result


def write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def test_passing_tests_exit_0(tmp_path: Path) -> None:
    write(tmp_path / "policy", {"size.rego": PASSING})
    result = np(tmp_path, "policy", "test")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "PASS  policy/size.rego: data.main.test_small_passes",
        "",
        "1 passed, 0 failed, 0 errors (1 tests).",
    ]


def test_a_failing_test_exits_1(tmp_path: Path) -> None:
    write(tmp_path / "rules", {"size.rego": PASSING, "size_test.rego": FAILING})
    result = np(tmp_path, "policy", "test", "rules")
    assert result.exit_code == 1
    assert "PASS  rules/size.rego: data.main.test_small_passes" in result.stdout
    assert "FAIL  rules/size_test.rego: data.main.test_wrong" in result.stdout
    assert result.stdout.rstrip().endswith("1 passed, 1 failed, 0 errors (2 tests).")


def test_an_erroring_test_exits_1_and_says_why(tmp_path: Path) -> None:
    erroring = "package main\nimport rego.v1\n\ntest_div if { 1 / 0 == 1 }\n"
    write(tmp_path / "policy", {"e_test.rego": erroring})
    result = np(tmp_path, "policy", "test")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "ERROR policy/e_test.rego: data.main.test_div"
    assert "divide by zero" in lines[1]


def test_a_syntax_error_is_one_error_line(tmp_path: Path) -> None:
    write(tmp_path / "policy", {"bad.rego": "package main\n\nx := {\n"})
    result = np(tmp_path, "policy", "test")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: policy/bad.rego:3: ")
    assert len(result.stderr.splitlines()) == 1


def test_a_refused_builtin_is_one_error_line(tmp_path: Path) -> None:
    write(tmp_path / "policy", {"leak.rego": "package main\n\ntest_env if opa.runtime().env\n"})
    result = np(tmp_path, "policy", "test")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: policy/leak.rego:3: opa.runtime is refused: it reads the process environment\n"
    )


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    result = np(tmp_path, "policy", "test")
    assert result.exit_code == 1
    assert result.stderr == "Error: policy: no such policy directory\n"


def test_no_tests_is_said_and_passes(tmp_path: Path) -> None:
    write(tmp_path / "policy", {"size.rego": 'package main\ndeny contains "x" if false\n'})
    result = np(tmp_path, "policy", "test")
    assert (result.exit_code, result.stdout) == (0, "No tests found (test_* rules).\n")


def test_a_crash_in_rego_cpp_is_an_error_line_not_a_traceback(tmp_path: Path) -> None:
    """rego-cpp 1.5 dies (SIGSEGV) on `with input as {...}` when rules call builtins: each test
    it takes down is an ERROR that says so, and the command still ends normally."""
    crashing = (
        "package main\nimport rego.v1\n\nd := count(input.x)\n\n"
        'test_whole_input if { d == 1 with input as {"x": [1]} }\n'
    )
    write(tmp_path / "policy", {"c_test.rego": crashing})
    result = np(tmp_path, "policy", "test")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "ERROR policy/c_test.rego: data.main.test_whole_input"
    assert "rego-cpp crashed (SIGSEGV)" in lines[1]
    assert "`with input as {...}`" in lines[1]
    assert lines[-1] == "0 passed, 0 failed, 1 errors (1 tests)."
