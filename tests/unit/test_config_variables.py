"""Variables: declarations, precedence of value sources, type conversion, references."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_config
from reconciler.config.configuration import Configuration
from reconciler.config.evaluation.variables import Variable
from reconciler.config.evaluation.vartypes import ANY, VarType
from reconciler.errors import ConfigError, Pos

DECLS = """\
variable "n" {
  type    = number
  default = 1
}
variable "s" {
  default = "d"
}
"""


def write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (directory / name).write_text(text)


def pool_using(*lines: str, decls: str = DECLS) -> dict[str, str]:
    """Variables in vars.hcl and one node pool in main.hcl whose first extra line is line 3."""
    return {
        "vars.hcl": decls,
        "main.hcl": "\n".join(['nodepool "a" {', '  pool = "p"', *lines, "}", ""]),
    }


def load(tmp_path: Path, files: dict[str, str], **options: Any) -> Configuration:
    directory = Path(tempfile.mkdtemp(dir=tmp_path))
    write(directory, files)
    options.setdefault("environ", {})
    return load_config(directory, **options)


def fields(tmp_path: Path, files: dict[str, str], **options: Any) -> dict[str, Any]:
    return load(tmp_path, files, **options).nodepools[0].fields


def problems(tmp_path: Path, files: dict[str, str], **options: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, files, **options)
    return str(info.value).splitlines()


def test_precedence_default_env_var_file_var(tmp_path: Path) -> None:
    files = pool_using("count = var.n")
    (tmp_path / "one.hcl").write_text("n = 3\n")
    (tmp_path / "two.yaml").write_text("n: 4\n")
    env = {"NP_VAR_n": "2"}
    one, two = tmp_path / "one.hcl", tmp_path / "two.yaml"
    assert fields(tmp_path, files)["count"] == 1
    assert fields(tmp_path, files, environ=env)["count"] == 2
    assert fields(tmp_path, files, environ=env, var_files=[one])["count"] == 3
    assert fields(tmp_path, files, environ=env, var_files=[one, two])["count"] == 4
    assert fields(tmp_path, files, environ=env, var_files=[two, one])["count"] == 3
    assert fields(tmp_path, files, environ=env, var_files=[one], var_args=["n=5"])["count"] == 5
    assert fields(tmp_path, files, var_args=["n=5", "n=6"])["count"] == 6


def test_var_files_in_each_language(tmp_path: Path) -> None:
    files = pool_using("count = var.n", "flavor = var.s")
    (tmp_path / "v.json").write_text('{\n  "n": 7,\n  "s": "from-json"\n}\n')
    (tmp_path / "v.tfvars").write_text('n = 8\ns = "from-hcl"\n')
    (tmp_path / "v.yml").write_text("n: 9\ns: from-yaml\n")
    for name, count, flavor in [("v.json", 7, "from-json"), ("v.tfvars", 8, "from-hcl")]:
        got = fields(tmp_path, files, var_files=[tmp_path / name])
        assert (got["count"], got["flavor"]) == (count, flavor)
    got = fields(tmp_path, files, var_files=[tmp_path / "v.yml"])
    assert (got["count"], got["flavor"]) == (9, "from-yaml")


@pytest.mark.parametrize(
    ("type_", "text", "value"),
    [
        ("number", "4", 4),
        ("number", "-4", -4),
        ("number", "2.5", 2.5),
        ("number", "1e3", 1000.0),
        ("bool", "true", True),
        ("bool", "false", False),
        ("string", "4", "4"),
        (None, "true", "true"),
        ("list", '["a", "b"]', ["a", "b"]),
        ("map", '{"a": "b"}', {"a": "b"}),
    ],
)
def test_env_and_var_strings_are_converted_by_type(
    type_: str | None, text: str, value: object
) -> None:
    declared = ANY if type_ is None else VarType(type_, ANY if type_ in ("list", "map") else None)
    converted = Variable("v", declared, Pos("main.hcl", 1)).from_text(text)
    assert converted == value and type(converted) is type(value)


def test_converted_values_reach_the_configuration(tmp_path: Path) -> None:
    decls = 'variable "l" {\n  type = map\n}\nvariable "b" {\n  type = bool\n}\n'
    files = pool_using("labels = var.l", 'extend_params = { b = "${var.b}" }', decls=decls)
    got = fields(tmp_path, files, environ={"NP_VAR_l": '{"team": "ml"}'}, var_args=["b=true"])
    assert (got["labels"], got["extend_params"]) == ({"team": "ml"}, {"b": "true"})


@pytest.mark.parametrize(
    ("type_", "text", "expected"),
    [
        ("number", "4x", "expected a number, got a string"),
        ("number", "", "expected a number, got a string"),
        ("number", "nan", "expected a number, got a string"),
        ("bool", "yes", "expected true or false, got a string"),
        ("bool", "1", "expected true or false, got a string"),
        ("list", "a,b", "expected a list written as JSON or HCL"),
        ("list", '{"a": 1}', "expected a list, got an object"),
        ("map", "[1]", "expected a map, got a list"),
        ("list", "[" * 40 + "]" * 40, "value is nested deeper than 32 levels"),
    ],
)
def test_bad_env_and_var_strings(tmp_path: Path, type_: str, text: str, expected: str) -> None:
    files = {"main.hcl": f'variable "v" {{\n  type = {type_}\n}}\n'}
    assert problems(tmp_path, files, environ={"NP_VAR_v": text}) == [
        f"variable.v: NP_VAR_v: {expected}"
    ]
    assert problems(tmp_path, files, var_args=[f"v={text}"]) == [f"variable.v: --var v: {expected}"]


def test_whole_reference_keeps_the_type_and_template_stringifies(tmp_path: Path) -> None:
    decls = (
        'variable "sgs" {\n  type = list\n  default = ["sg-1", "sg-2"]\n}\n'
        'variable "n" {\n  default = 4\n}\n'
        'variable "f" {\n  default = 2.5\n}\n'
        'variable "b" {\n  default = true\n}\n'
    )
    files = pool_using(
        "count = var.n",
        "network { security_groups = var.sgs }",
        'labels = { n = "n${var.n}", f = "f${var.f}", b = "${var.b}" }',
        decls=decls,
    )
    got = fields(tmp_path, files)
    assert got["count"] == 4
    assert got["network"] == {"security_groups": ["sg-1", "sg-2"]}
    assert got["labels"] == {"n": "n4", "f": "f2.5", "b": "true"}


def test_quoted_interpolation_in_hcl_is_a_string_but_bare_yaml_reference_is_not(
    tmp_path: Path,
) -> None:
    found = problems(tmp_path, pool_using('count = "${var.n}"'))
    assert found == ['main.hcl:3: nodepool.a: count: expected an integer, got string "1"']
    yaml = "variables: {n: {type: number, default: 3}}\nnodepools:\n  a:\n    count: ${var.n}\n"
    yaml += "    pool: p\n"
    assert fields(tmp_path, {"main.yaml": yaml})["count"] == 3


def test_escapes_of_interpolation(tmp_path: Path) -> None:
    hcl = pool_using(
        'labels = { a = "x" }', 'extend_params = { t = "$${var.n} \\"q\\" \\u00e9\\t" }'
    )
    assert fields(tmp_path, hcl)["extend_params"] == {"t": '${var.n} "q" é\t'}
    yaml = "nodepools:\n  a: {pool: p, extend_params: {t: '$${var.n}-${var.n}'}}\n"
    yaml = "variables: {n: {default: 1}}\n" + yaml
    assert fields(tmp_path, {"main.yaml": yaml})["extend_params"] == {"t": "${var.n}-1"}


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ["count = var.nonee"],
            "main.hcl:3: nodepool.a: count: undeclared variable var.nonee; did you mean var.none?",
        ),
        (["count = var.zzz"], "main.hcl:3: nodepool.a: count: undeclared variable var.zzz"),
        (
            ['flavor = "f-${var.ll}"'],
            "main.hcl:3: nodepool.a: flavor: undeclared variable var.ll; did you mean var.l?",
        ),
        (
            ['flavor = "f-${var.l}"'],
            "main.hcl:3: nodepool.a: flavor: var.l is a list and cannot go in a string; use "
            "join(SEPARATOR, LIST)",
        ),
        (
            ["count = var.none"],
            "main.hcl:3: nodepool.a: count: variable none has no value; give it a default or set"
            " it with NP_VAR_none, --var-file or --var",
        ),
    ],
)
def test_bad_references(tmp_path: Path, lines: list[str], expected: str) -> None:
    decls = 'variable "n" {}\nvariable "l" {\n  default = []\n}\nvariable "none" {}\n'
    found = problems(tmp_path, pool_using(*lines, decls=decls), var_args=["n=1"])
    assert found == [expected]


@pytest.mark.parametrize(
    ("decl", "expected"),
    [
        (
            'variable "v" {\n  type = number\n  default = "4"\n}\n',
            'main.hcl:3: variable.v: default: expected a number, got string "4"',
        ),
        (
            'variable "v" {\n  type = numbr\n}\n',
            "main.hcl:2: variable.v: type: expected a type: string, number, bool, any, list(T),"
            " set(T), map(T) or object({name = T, ...}); did you mean number?",
        ),
        (
            'variable "v" {\n  type = list(strin)\n}\n',
            "main.hcl:2: variable.v: type: expected a type: string, number, bool, any, list(T),"
            " set(T), map(T) or object({name = T, ...}); did you mean string?",
        ),
        (
            'variable "v" {\n  defualt = 1\n}\n',
            "main.hcl:2: variable.v: defualt: unknown field 'defualt'; did you mean default?",
        ),
        (
            'variable "w" {\n  default = 1\n}\nvariable "v" {\n  default = var.w\n}\n',
            "main.hcl:5: variable.v: default: only literal values can be written here: a default"
            " is a literal value (it cannot refer to anything)",
        ),
        (
            "variables:\n  v: {type: bool, default: 'true'}\n",
            'main.yaml:2: variable.v: default: expected true or false, got string "true"',
        ),
    ],
)
def test_bad_declarations(tmp_path: Path, decl: str, expected: str) -> None:
    name = "main.yaml" if decl.startswith("variables:") else "main.hcl"
    assert problems(tmp_path, {name: decl}) == [expected]


def test_a_broken_variable_is_reported_once_not_at_each_use(tmp_path: Path) -> None:
    decls = 'variable "n" {\n  type = number\n  default = "x"\n}\n'
    found = problems(tmp_path, pool_using("count = var.n", "max_count = var.n", decls=decls))
    assert found == ['vars.hcl:3: variable.n: default: expected a number, got string "x"']
    found = problems(tmp_path, pool_using("count = var.n"), var_args=["n=x"])
    assert found == ["variable.n: --var n: expected a number, got a string"]


def test_var_file_problems(tmp_path: Path) -> None:
    files = pool_using()
    bad_hcl, bad_json, bad_yaml = tmp_path / "b.hcl", tmp_path / "b.json", tmp_path / "b.yaml"
    bad_hcl.write_text('n = "x"\nsz = 1\nn2 = upper("x")\n')
    bad_json.write_text('{\n  "n": 1,\n  "m": 2\n}\n')
    bad_yaml.write_text("n: [1\n")
    found = problems(
        tmp_path, files, var_files=[bad_hcl, bad_json, bad_yaml, tmp_path / "missing.hcl"]
    )
    assert found == [
        f"{bad_hcl}:3: variable.n2: only literal values can be written here: a var file holds"
        " values, not expressions",
        f"{bad_hcl}:1: variable.n: expected a number, got a string",
        f"{bad_yaml}:2: syntax error: expected ',' or ']', but got '<stream end>'",
        f"{tmp_path / 'missing.hcl'}: the file does not exist",  # no line: never read
    ]


def test_json_var_file_problems(tmp_path: Path) -> None:
    files = pool_using()
    dup, syntax, shape = tmp_path / "d.json", tmp_path / "s.json", tmp_path / "l.json"
    dup.write_text('{"s": "a",\n "s": "b"}\n')
    syntax.write_text('{"s": }\n')
    shape.write_text("[1]\n")
    assert problems(tmp_path, files, var_files=[dup, syntax, shape]) == [
        f"{dup}:1: key 's' is set more than once",
        f"{syntax}:1: syntax error: Expecting value",
        f"{shape}:1: a var file must map variable names to values",
    ]


def test_var_arg_problems(tmp_path: Path) -> None:
    found = problems(tmp_path, pool_using(), var_args=["nn=1", "novalue"])
    assert found == [
        "variable.nn: --var nn: variable nn is not declared; did you mean n?",
        "--var must look like NAME=VALUE (--var 2 does not)",
    ]


def test_environment_variables_for_undeclared_names_are_ignored(tmp_path: Path) -> None:
    config = load(tmp_path, pool_using("count = var.n"), environ={"NP_VAR_other": "x"})
    assert config.nodepools[0].fields["count"] == 1


def test_null_default_means_no_default(tmp_path: Path) -> None:
    decls = 'variable "n" {\n  default = null\n}\n'
    found = problems(tmp_path, pool_using("count = var.n", decls=decls))
    assert found == [
        "main.hcl:3: nodepool.a: count: variable n has no value; give it a default or set it"
        " with NP_VAR_n, --var-file or --var"
    ]


def test_yaml_follows_the_yaml_1_2_core_schema(tmp_path: Path) -> None:
    """`yes` is a word and `010` is ten, as in HCL; PyYAML's YAML 1.1 would say True and 8."""
    yaml = "nodepools:\n  a:\n    pool: p\n    count: 010\n    labels: {enabled: yes, v: 1_0}\n"
    got = fields(tmp_path, {"main.yaml": yaml})
    assert got["count"] == 10
    assert got["labels"] == {"enabled": "yes", "v": "1_0"}
