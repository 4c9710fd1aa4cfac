"""What a configuration directory may make np read and print (issue 26, items 4, 10 and 11), as
a user or an attacker meets it through `np validate` and `np plan`.

- Configuration and variable files that are symlinks leading out of the directory are refused,
  naming the file; a `--var-file` path the operator writes outside the directory is read.
- A value given from outside the configuration (var files, `--var`, `NP_VAR_`) is never echoed
  in an error: the variable, where it was set, and the types are named.
- Numbers that are not the language's (NaN, infinities, 2^63 or more, thousands of digits)
  end in one message wherever they enter, never in a traceback.
- A value an error shows is cut to 64 characters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import PROVIDER, Run, Workspace, pool_world

SECRET = "s3cr3t-HOSTILE-value"
OUTSIDE = (
    "resolves (through a symbolic link) to a file outside the configuration directory; np "
    "reads configuration and variable files only from inside it"
)
NUMBER = """
variable "n" {
  type = number
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = var.n
}
"""
WORLD = pool_world({"train": {"flavor": "modelarts.vm.gpu.t4u8", "count": 1, "maxCount": 1}})


@pytest.fixture
def config(tmp_path: Path) -> Workspace:
    """A configuration directory (``cfg``) next to a directory it must not reach (``outside``)."""
    (tmp_path / "outside").mkdir()
    ws = Workspace(tmp_path / "cfg")
    ws.root.mkdir()
    ws.world(WORLD)
    ws.write("provider.hcl", PROVIDER)
    ws.write("main.hcl", NUMBER)
    return ws


def refused(
    ws: Workspace, expected: list[str], *args: str, env: dict[str, str] | None = None
) -> None:
    """validate and plan: exit 1, exactly ``expected``, no secret, nothing written or sent."""
    world = ws.world_path.read_bytes()
    for command in ("validate", "plan"):
        run = ws.np(command, *args, env=env)
        assert (run.code, run.stdout) == (1, "")
        assert run.stderr.splitlines() == [f"Error: {line}" for line in expected]
        assert SECRET not in run.stderr
    assert not (ws.root / "state").exists()
    assert ws.world_path.read_bytes() == world


def planned_count(run: Run) -> int:
    assert run.code == 0, run.stderr
    [change] = run.json()["resource_changes"]
    count: int = change["after"]["count"]
    return count


# -- item 4: files that lead out of the directory ------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("np.npvars", f'n = "{SECRET}"\n'),
        ("np.npvars.json", json.dumps({"n": SECRET})),
        ("prod.auto.npvars", f'n = "{SECRET}"\n'),
        ("prod.auto.npvars.json", json.dumps({"n": SECRET})),
        ("extra.hcl", f'nodepool "x" {{\n  pool = "{SECRET}"\n}}\n'),
        ("extra.yaml", f"nodepools:\n  x:\n    pool: {SECRET}\n"),
        ("extra.YML", f"nodepools:\n  x:\n    pool: {SECRET}\n"),
    ],
)
def test_a_file_that_leads_out_of_the_directory_is_refused_by_name(
    config: Workspace, name: str, text: str
) -> None:
    target = config.root.parent / "outside" / name
    target.write_text(text)
    (config.root / name).symlink_to(Path("..") / "outside" / name)
    refused(config, [f"{name}: {OUTSIDE}"], "--var", "n=1")


def test_a_link_through_a_linked_directory_is_refused_too(config: Workspace) -> None:
    (config.root.parent / "outside" / "np.npvars").write_text(f'n = "{SECRET}"\n')
    (config.root / "shared").symlink_to(config.root.parent / "outside")
    (config.root / "np.npvars").symlink_to("shared/np.npvars")
    refused(config, [f"np.npvars: {OUTSIDE}"])


def test_a_link_that_stays_inside_the_directory_is_read(config: Workspace) -> None:
    (config.root / "vars").mkdir()
    (config.root / "vars" / "prod.npvars").write_text("n = 3\n")
    (config.root / "np.npvars").symlink_to("vars/prod.npvars")
    assert planned_count(config.np("plan", "--json")) == 3


def test_a_var_file_path_inside_the_directory_must_not_lead_out(config: Workspace) -> None:
    (config.root.parent / "outside" / "prod.npvars").write_text(f'n = "{SECRET}"\n')
    (config.root / "vars").symlink_to(config.root.parent / "outside")
    hint = "; to read it anyway, give --var-file the path it resolves to"
    path = config.root / "vars" / "prod.npvars"
    refused(config, [f"{path}: {OUTSIDE}{hint}"], "--var-file", "vars/prod.npvars")


def test_a_var_file_the_operator_names_outside_the_directory_is_read(config: Workspace) -> None:
    outside = config.root.parent / "outside"
    (outside / "real.npvars").write_text("n = 4\n")
    (outside / "link.npvars").symlink_to("real.npvars")
    for given in (str(outside / "link.npvars"), "../outside/real.npvars"):
        assert planned_count(config.np("plan", "--json", "--var-file", given)) == 4


# -- item 4: values from outside the configuration are not echoed --------------------------

TYPED = """
variable "n" {
  type = number
}

variable "zones" {
  type = list(object({ az = string, count = number }))
  default = []
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = var.n
}
"""


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("np.npvars", f'n = "{SECRET}"\nzones = [{{ az = "a", count = "{SECRET}" }}]\n'),
        ("np.npvars.json", json.dumps({"n": SECRET, "zones": [{"az": "a", "count": SECRET}]})),
        ("vars.auto.npvars.json", json.dumps({"n": [SECRET], "zones": [{"az": SECRET}]})),
    ],
)
def test_a_var_file_value_of_the_wrong_type_is_named_by_type(
    config: Workspace, name: str, text: str
) -> None:
    config.write("main.hcl", TYPED)
    config.write(name, text)
    got = "a list" if name.startswith("vars") else "a string"
    zones = (
        "[0]: attribute 'count' is required"
        if name.startswith("vars")
        else "[0].count: expected a number, got a string"
    )
    line = 2 if name == "np.npvars" else 1
    refused(
        config,
        [
            f"{name}:1: variable.n: expected a number, got {got}",
            f"{name}:{line}: variable.zones: {zones}",
        ],
    )


def test_var_and_environment_values_of_the_wrong_type_are_named_by_type(
    config: Workspace,
) -> None:
    config.write("main.hcl", TYPED)
    refused(
        config, ["variable.n: --var n: expected a number, got a string"], "--var", f"n={SECRET}"
    )
    refused(
        config,
        ["variable.n: NP_VAR_n: expected a number, got a string"],
        env={"NP_VAR_n": SECRET},
    )
    zones = json.dumps([{"az": "a", "count": SECRET}])
    refused(
        config,
        ["variable.zones: --var zones: [0].count: expected a number, got a string"],
        "--var",
        "n=1",
        "--var",
        f"zones={zones}",
    )
    refused(
        config,
        ["--var must look like NAME=VALUE (--var 2 does not)"],
        "--var",
        "n=1",
        "--var",
        SECRET,
    )


# -- item 10: numbers that are not the language's -------------------------------------------

NOT_FINITE = "the number is not a finite number"
OUT_OF_RANGE = "the number is out of range (at most 9223372036854775807 in magnitude)"
RANGE = """
variable "n" {
  type = number
}

variable "l" {
  type    = list(number)
  default = []
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = length(range(floor(var.n))) + length(var.l)
  labels = { a = "${ceil(var.n)}" }
}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"n": 1e400}', NOT_FINITE),
        ('{"n": -1e400}', NOT_FINITE),
        ('{"n": NaN}', NOT_FINITE),
        ('{"n": Infinity}', NOT_FINITE),
        ('{"n": -Infinity}', NOT_FINITE),
        ('{"n": 9223372036854775808}', OUT_OF_RANGE),
        ('{"n": ' + "9" * 5000 + "}", OUT_OF_RANGE),
        ('{"n": -' + "9" * 5000 + "}", OUT_OF_RANGE),
        ('{"n": ' + "9" * 5000 + ".5}", NOT_FINITE),
        ('{"n": 1, "l": [1, 2, 1e400]}', f"[2]: {NOT_FINITE}"),
    ],
)
def test_a_json_var_file_number_out_of_the_language_is_one_message(
    config: Workspace, text: str, expected: str
) -> None:
    config.write("main.hcl", RANGE)
    config.write("np.npvars.json", text)
    variable = "l" if '"l"' in text else "n"
    refused(config, [f"np.npvars.json:1: variable.{variable}: {expected}"])


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("n", "1e400", NOT_FINITE),
        ("n", "-1e400", NOT_FINITE),
        ("n", "9" * 5000, OUT_OF_RANGE),
        ("n", "-9223372036854775808", OUT_OF_RANGE),
        ("l", "[1e400]", f"[0]: {NOT_FINITE}"),
        ("l", "[NaN]", f"[0]: {NOT_FINITE}"),
        ("l", "[" + "9" * 5000 + "]", f"[0]: {OUT_OF_RANGE}"),
    ],
)
def test_a_var_or_environment_number_out_of_the_language_is_one_message(
    config: Workspace, name: str, text: str, expected: str
) -> None:
    config.write("main.hcl", RANGE)
    others = ["--var", "n=1"] if name != "n" else []
    refused(
        config, [f"variable.{name}: --var {name}: {expected}"], *others, "--var", f"{name}={text}"
    )
    env = {f"NP_VAR_{name}": text} | ({"NP_VAR_n": "1"} if name != "n" else {})
    refused(config, [f"variable.{name}: NP_VAR_{name}: {expected}"], env=env)


def test_a_deeply_nested_json_var_file_is_one_message(config: Workspace) -> None:
    config.write("main.hcl", RANGE)
    config.write("np.npvars.json", '{"n": 1, "l": ' + "[" * 100_000 + "]" * 100_000 + "}")
    refused(config, ["np.npvars.json:1: JSON is nested too deeply"])
    config.write("np.npvars.json", '{"n": 1, "l": ' + "[" * 40 + "]" * 40 + "}")
    refused(config, ["np.npvars.json:1: variable.l: value is nested deeper than 32 levels"])


def test_a_json_var_file_of_many_keys_loads_in_one_pass(config: Workspace) -> None:
    """Duplicate keys and the lines of keys were looked for key by key: 50,000 keys took 145 s
    of CPU."""
    config.write("main.hcl", RANGE)
    entries = ",\n".join(f'"v{i}": {i}' for i in range(50_000))
    config.write("np.npvars.json", '{"n": 2,\n' + entries + "\n}\n")
    run = config.np("validate")
    assert run.code == 0
    warnings = run.stderr.splitlines()
    assert len(warnings) == 50_000
    assert warnings[-1] == (
        "Warning: np.npvars.json:50001: variable v49999 is not declared, so this value is ignored"
    )
    config.write("np.npvars.json", '{"n": 1,\n' + entries + ',\n"v5": 0}\n')
    refused(config, ["np.npvars.json:7: key 'v5' is set more than once"])


# -- item 11: what errors show is cut ---------------------------------------------------------

DIGITS = """
locals {
  digits = join("", [for i in range(5000) : "9"])
  long   = { for key in [local.digits] : key => 1 }
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = %s
}
"""


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        ("local.digits", 'count: expected an integer, got string "{}..."'),
        ("tonumber(local.digits)", 'count: tonumber(): cannot convert string "{}..." to a number'),
        ('local.long["${local.digits}0"]', 'count: no key "{}..." in the map'),
        (
            'lookup(local.long, "${local.digits}0")',
            'count: lookup(): no key "{}..." in the map, and no default given',
        ),
    ],
)
def test_a_long_value_in_an_error_is_cut(config: Workspace, count: str, expected: str) -> None:
    config.write("main.hcl", DIGITS % count)
    refused(config, [f"main.hcl:9: nodepool.train: {expected.format('9' * 61)}"])
