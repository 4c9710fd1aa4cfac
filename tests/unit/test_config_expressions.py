"""The expression language: operators, conditionals, for expressions, references, functions,
variable types and locals; failures name the field and the line; evaluation is bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_config
from reconciler.config.configuration import Configuration
from reconciler.config.evaluation.expr import Context, Evaluator, Names
from reconciler.config.evaluation.functions import FUNCTIONS
from reconciler.config.evaluation.limits import Budget
from reconciler.config.evaluation.values import EvalError
from reconciler.config.syntax.hcl_adapter import expression
from reconciler.errors import ConfigError, Pos

VARIABLES = {
    "n": 4,
    "s": "gpu",
    "m": {"a": 1, "b": 2},
    "l": ["x", "y"],
    "z": frozenset({"b", "a"}),
    "specs": {"small": {"count": 2, "zone": "a"}, "big": {"count": 8, "zone": "b"}},
}


def evaluate(text: str) -> Any:
    context = Context(Names(VARIABLES, VARIABLES), budget=Budget())
    return Evaluator(context).evaluate(expression(text, Pos("t.hcl", 1)))


def refused(text: str) -> str:
    with pytest.raises(EvalError) as info:
        evaluate(text)
    return info.value.message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # arithmetic: whole results are integers; HCL's sign for %
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("8 / 2", 4),
        ("5 / 2", 2.5),
        ("-7 % 3", -1),
        ("7 % 3", 1),
        ("var.n * 0.5", 2),
        ("-var.n", -4),
        # comparison and logic, with types: 1 is not "1", true is not 1
        ("var.n >= 4 && var.n < 5", True),
        ('1 == "1"', False),
        ("1 == 1.0", True),
        ("true == 1", False),
        ('["a", {b = 1}] == ["a", {b = 1}]', True),
        ("!(var.n == 4) || false", False),
        ("false && (1 / 0 == 1)", False),
        ("true || (1 / 0 == 1)", True),
        # conditionals evaluate only the branch taken
        ('var.s == "gpu" ? 8 : 1 / 0', 8),
        # references, index and attribute access
        ('var.m["b"]', 2),
        ("var.m.a", 1),
        ("var.l[1]", "y"),
        ("var.l.0", "x"),
        ("var.specs.big.count", 8),
        ('var.specs["small"]["zone"]', "a"),
        # templates
        ('"${var.s}-${var.n}-${true}-${2.5}"', "gpu-4-true-2.5"),
        ('"a$${b}"', "a${b}"),
        # for expressions: lists by index, maps and sets sorted
        ("[for x in var.l : upper(x)]", ["X", "Y"]),
        ("[for i, x in var.l : i]", [0, 1]),
        ("[for x in var.z : x]", ["a", "b"]),
        ('{for k, v in var.m : "${k}${k}" => v * 10}', {"aa": 10, "bb": 20}),
        ("[for k, v in var.specs : k if v.count > 4]", ["big"]),
        ("{for k, v in var.specs : v.zone => k...}", {"a": ["small"], "b": ["big"]}),
        ('{for x in ["p", "q", "p"] : x => 1...}', {"p": [1, 1], "q": [1]}),
        # expanding a list into arguments
        ("max(var.l == [] ? [0] : [3, 9, 2]...)", 9),
    ],
)
def test_operators_references_and_for_expressions(text: str, value: Any) -> None:
    result = evaluate(text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("merge({a = 1, b = 2}, null, {b = 3})", {"a": 1, "b": 3}),
        ('concat(["a"], [], tolist(toset(["c", "b"])))', ["a", "b", "c"]),
        ('lookup(var.m, "a")', 1),
        ('lookup(var.m, "zz", 0)', 0),
        ("keys(var.specs)", ["big", "small"]),
        ("values(var.m)", [1, 2]),
        ("length(var.specs)", 2),
        ('length("héllo")', 5),
        ("length(var.z)", 2),
        ('contains(var.l, "y")', True),
        ('contains(var.z, "c")', False),
        ('coalesce(null, "", "x", "y")', "x"),
        (
            'format("%s-%03d-%.1f-%t-%q-%v-%%", "a", 7, 2.25, true, "q", [1])',
            'a-007-2.2-true-"q"-[1]-%',
        ),
        ('format("%-4s|%4s|%+d|%-3d|%05.1f", "ab", "cd", 3, 7, -2.5)', "ab  |  cd|+3|7  |-02.5"),
        ('join("-", ["a", 1, true])', "a-1-true"),
        ('split(",", "a,,b")', ["a", "", "b"]),
        ('lower("AbC")', "abc"),
        ('upper("AbC")', "ABC"),
        ('replace("a.b.c", ".", "-")', "a-b-c"),
        ("min(3, 1.5, 2)", 1.5),
        ("max(3, 1.5, 2)", 3),
        ("tostring(5)", "5"),
        ("tostring(true)", "true"),
        ("tostring(null)", None),
        ('tonumber("42")', 42),
        ('tonumber("-2.5")', -2.5),
        ("tonumber(7)", 7),
        ('tobool("true")', True),
        ("tobool(false)", False),
        ('toset(["b", "a", "b"])', frozenset({"a", "b"})),
        ("tomap({a = 1})", {"a": 1}),
        ("tolist(var.z)", ["a", "b"]),
        ("abs(-3)", 3),
        ("ceil(1.2)", 2),
        ("floor(-1.2)", -2),
        ('distinct(["a", "b", "a"])', ["a", "b"]),
        ('flatten([["a", ["b"]], [], "c"])', ["a", "b", "c"]),
        ("range(3)", [0, 1, 2]),
        ("range(1, 7, 3)", [1, 4]),
        ("range(3, 0, -1)", [3, 2, 1]),
        ('trimspace("  a b  ")', "a b"),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
    ],
)
def test_functions(text: str, value: Any) -> None:
    result = evaluate(text)
    assert result == value and type(result) is type(value)


def test_every_function_of_the_contract_is_offered() -> None:
    contract = {
        "merge", "concat", "lookup", "keys", "values", "length", "contains", "coalesce",
        "format", "join", "split", "lower", "upper", "replace", "min", "max", "tostring",
        "tonumber", "tobool", "toset", "tomap", "tolist",
    }  # fmt: skip
    assert contract <= set(FUNCTIONS)


IMPURE = "it reads the world outside the configuration, and np configurations stay pure and "
IMPURE += "reproducible"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('file("/etc/passwd")', f"function file() is not allowed: {IMPURE}"),
        ('templatefile("t.tpl", {})', f"function templatefile() is not allowed: {IMPURE}"),
        ('fileset(".", "*")', f"function fileset() is not allowed: {IMPURE}"),
        ("timestamp()", f"function timestamp() is not allowed: {IMPURE}"),
        ("uuid()", f"function uuid() is not allowed: {IMPURE}"),
        (
            "jsonencode({})",
            "unknown function jsonencode(); np offers " + ", ".join(sorted(FUNCTIONS)),
        ),
        ('lenght("x")', "unknown function lenght(); did you mean length?"),
        (
            'provider::aws::arn("x")',
            "provider functions (provider::NAME::FUNCTION) are not supported",
        ),
        ('upper("a", "b")', "upper() takes 1 argument(s), got 2"),
        ("merge()", None),
        ('lookup(var.m, "zz")', 'lookup(): no key "zz" in the map, and no default given'),
        ('join(",", [["a"]])', "join(): the list must hold strings, numbers or bools, got a list"),
        (
            'replace("abc", "/b/", "x")',
            "replace(): regular expressions (/.../) are not supported: give the literal text",
        ),
        ('format("%d", "x")', 'format(): %d needs a whole number, got string "x"'),
        ('format("%s %s", "x")', "format(): the format needs more than 1 argument(s)"),
        ('format("%x", 1)', "format(): unsupported verb %x (np knows %s %d %f %t %v %q and %%)"),
        ('tonumber("12abc")', 'tonumber(): cannot convert string "12abc" to a number'),
        ('toset([1, "a"])', "toset(): a set holds values of one type only, got number and string"),
        ('coalesce(null, "")', "coalesce(): every argument is null or an empty string"),
        ("1 / 0", "division by zero"),
        ('"a" + 1', 'operator + expects a number, got string "a"'),
        ("!1", "operator ! expects true or false, got integer 1"),
        ("1 ? 2 : 3", "a condition must be true or false, got integer 1"),
        ('var.m["c"]', 'no key "c" in the map'),
        ("var.specs.smal", 'no attribute "smal" in the map; did you mean small?'),
        ("var.l[2]", "index 2 is out of range: the list has 2"),
        ("var.l[0.5]", "a list's index is a whole number, got number 0.5"),
        ("var.z[0]", "a set has no order to index; convert it with tolist(...)"),
        ('var.s["x"]', 'string "gpu" cannot be indexed'),
        ("var.n.x", "integer 4 has no attribute 'x'"),
        ('"${var.l}"', "var.l is a list and cannot go in a string; use join(SEPARATOR, LIST)"),
        ('"${var.m}"', "var.m is an object and cannot go in a string"),
        ("[for x in var.s : x]", 'a for expression needs a list, set or map, got string "gpu"'),
        (
            '{for x in ["a", "a"] : x => 1}',
            'two elements have the key "a"; write ... after the value to group them',
        ),
        ("[for var in var.l : var]", "a for variable cannot be named var: it hides var.NAME"),
        ("each.key", "each.key and each.value exist only in a nodepool block with for_each"),
        (
            "count.index",
            "unknown reference count.index; np knows var.NAME, local.NAME, each.key, each.value "
            "and np.workspace",
        ),
        ("var", "var is not a value by itself; write var.NAME"),
        ("var.nn", "undeclared variable var.nn; did you mean var.n?"),
        ("x[*].y", "splat expressions (x[*].y, x.*.y) are not supported; use a for expression"),
        ("range(1, 5, 0)", "range(): the step must not be 0"),
        ('split("", "abc")', "split(): the separator must not be empty"),
        ('replace("abc", "", "x")', "replace(): the text to replace must not be empty"),
        ('format("%s", "a", "b")', "format(): 2 arguments given, but the format uses 1"),
        (
            'format("%2000d", 1)',
            "format(): widths and precisions in a format are at most 1000 and 100",
        ),
        ('format("%s", [1])', "format(): %s needs a string, number or bool, got a list"),
        ("length(1)", "length(): expected a string, list, set or map, got integer 1"),
        ('concat("a"...)', '... expands a list or a set, got string "a"'),
        ("[for x in [1] : x if 1]", "a for expression's if must be true or false, got integer 1"),
        ("toset([[1]])", "toset(): a set holds strings, numbers or bools only"),
        (
            "9223372036854775807 * 2",
            "the result is out of range (at most 9223372036854775807 in magnitude)",
        ),
    ],
)
def test_mistakes_are_named(text: str, message: str | None) -> None:
    if message is None:
        assert evaluate(text) == {}
    else:
        assert refused(text) == message


# -- through the configuration: fields, lines, locals, types --------------------------------


def load(tmp_path: Path, files: dict[str, str], **options: Any) -> Configuration:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    options.setdefault("environ", {})
    return load_config(tmp_path, **options)


def problems(tmp_path: Path, files: dict[str, str], **options: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, files, **options)
    return str(info.value).splitlines()


FLEET_HCL = """\
variable "tier" {
  type    = string
  default = "prod"
}

variable "gpus" {
  type = map(object({
    count     = number
    max_count = optional(number)
    zones     = optional(set(string), ["cn-north-4a"])
  }))
  default = {
    t4   = { count = 2 }
    a100 = { count = 4, max_count = 8, zones = ["cn-north-4b", "cn-north-4a"] }
  }
}

locals {
  spec   = var.gpus["a100"]
  labels = merge(local.common, { tier = "${var.tier}-gpu" })
  common = { team = "ml", managed-by = "np" }
}

nodepool "train" {
  pool      = "pool-${var.tier}"
  flavor    = "modelarts.vm.gpu.a100"
  count     = local.spec.count * (var.tier == "prod" ? 2 : 1)
  max_count = local.spec.max_count != null ? local.spec.max_count * 2 : null
  azs       = [for z in local.spec.zones : { az = z, count = local.spec.count }]
  labels    = local.labels
  tags      = { for name, spec in var.gpus : "gpus-${name}" => tostring(spec.count) }
  lifecycle {
    prevent_destroy = var.tier == "prod"
  }
}
"""

FLEET_YAML = """\
variables:
  tier: {type: string, default: prod}
  gpus:
    type: >-
      map(object({count = number, max_count = optional(number),
      zones = optional(set(string), ["cn-north-4a"])}))
    default:
      t4: {count: 2}
      a100: {count: 4, max_count: 8, zones: [cn-north-4b, cn-north-4a]}
locals:
  spec: ${var.gpus["a100"]}
  labels: '${merge(local.common, { tier = "${var.tier}-gpu" })}'
  common: {team: ml, managed-by: np}
nodepools:
  train:
    pool: pool-${var.tier}
    flavor: modelarts.vm.gpu.a100
    count: '${local.spec.count * (var.tier == "prod" ? 2 : 1)}'
    max_count: '${local.spec.max_count != null ? local.spec.max_count * 2 : null}'
    azs: '${[for z in local.spec.zones : { az = z, count = local.spec.count }]}'
    labels: ${local.labels}
    tags: '${{ for name, spec in var.gpus : "gpus-${name}" => tostring(spec.count) }}'
    lifecycle:
      prevent_destroy: ${var.tier == "prod"}
"""

FLEET_FIELDS = {
    "flavor": "modelarts.vm.gpu.a100",
    "count": 8,
    "max_count": 16,
    "azs": [{"az": "cn-north-4a", "count": 4}, {"az": "cn-north-4b", "count": 4}],
    "labels": {"team": "ml", "managed-by": "np", "tier": "prod-gpu"},
    "tags": {"gpus-a100": "4", "gpus-t4": "2"},
}


@pytest.mark.parametrize(("name", "text"), [("main.hcl", FLEET_HCL), ("main.yaml", FLEET_YAML)])
def test_a_configuration_with_expressions_in_either_language(
    tmp_path: Path, name: str, text: str
) -> None:
    [train] = load(tmp_path, {name: text}).nodepools
    assert (train.pool, train.fields, train.lifecycle.prevent_destroy) == (
        "pool-prod",
        FLEET_FIELDS,
        True,
    )


def test_null_leaves_a_field_out(tmp_path: Path) -> None:
    config = load(tmp_path, {"main.hcl": FLEET_HCL}, var_args=["tier=dev"])
    [train] = config.nodepools
    assert train.fields["count"] == 4
    assert train.fields["max_count"] == 16
    config = load(tmp_path, {"main.hcl": FLEET_HCL.replace('var.gpus["a100"]', 'var.gpus["t4"]')})
    [train] = config.nodepools
    assert "max_count" not in train.fields and "max_count" not in train.field_pos
    assert train.lifecycle.prevent_destroy is True


def test_type_errors_name_the_field_and_line(tmp_path: Path) -> None:
    text = 'variable "c" {\n  default = "two"\n}\nnodepool "a" {\n  pool = "p"\n'
    text += "  count = var.c\n  max_count = length(var.c) * 1.5\n}\n"
    assert problems(tmp_path, {"main.hcl": text}) == [
        'main.hcl:6: nodepool.a: count: expected an integer, got string "two"',
        "main.hcl:7: nodepool.a: max_count: expected an integer, got number 4.5",
    ]


def test_locals_in_any_order_and_cycles_naming_every_local(tmp_path: Path) -> None:
    text = """\
locals {
  a = local.b + 1
  b = local.c * 2
  c = 3
  x = local.y
  y = local.z
  z = local.x
  self = local.self
  uses_cycle = local.x
  broken = local.nope
}
nodepool "a" {
  pool  = "p"
  count = local.a + local.uses_cycle
}
"""
    assert problems(tmp_path, {"main.hcl": text}) == [
        "main.hcl:5: local.x: local values refer to each other in a cycle: local.x, local.y, "
        "local.z",
        "main.hcl:8: local.self: local values refer to each other in a cycle: local.self",
        "main.hcl:10: local.broken: undeclared local value local.nope",
    ]
    fixed = text.replace("local.x\n  broken = local.nope", "1").replace(
        "  x = local.y\n  y = local.z\n  z = local.x\n  self = local.self\n", ""
    )
    assert load(tmp_path, {"main.hcl": fixed}).nodepools[0].fields == {"count": 8}


def test_locals_in_yaml_and_a_local_set_twice(tmp_path: Path) -> None:
    files = {
        "a.yaml": "locals: {n: 2}\nnodepools:\n  a: {pool: p, count: '${local.n * 3}'}\n",
        "b.hcl": "locals {\n  m = 1\n}\n",
    }
    assert load(tmp_path, files).nodepools[0].fields == {"count": 6}
    files["b.hcl"] = "locals {\n  n = 1\n}\n"
    assert problems(tmp_path, files) == ["b.hcl:2: local.n: set more than once (first at a.yaml:1)"]


@pytest.mark.parametrize(
    ("decl", "value", "size"),
    [
        ("list(string)", '["a", "b"]', 2),
        ("set(string)", '["b", "a", "b"]', 2),
        ("map(number)", '{"a": 1}', 1),
        ("map(number)", "{a = 1, b = 2.5}", 2),
        ('object({n = number, s = optional(string, "d")})', '{"n": 1}', 2),
        ("any", '["kept", "as", "text"]', 22),
    ],
)
def test_variable_types_from_the_command_line(
    tmp_path: Path, decl: str, value: str, size: int
) -> None:
    """Structured values are JSON or HCL; ``any`` keeps the text as a string."""
    text = f'variable "v" {{\n  type = {decl}\n}}\n'
    text += 'nodepool "a" {\n  pool = "p"\n  count = length(var.v)\n}\n'
    config = load(tmp_path, {"main.hcl": text}, var_args=[f"v={value}"])
    assert config.nodepools[0].fields["count"] == size


@pytest.mark.parametrize(
    ("decl", "default", "expected"),
    [
        ("list(string)", '["a", 1]', "default[1]: expected a string, got integer 1"),
        ("map(number)", '{a = "1"}', 'default.a: expected a number, got string "1"'),
        ("set(list(string))", "[]", None),
        ("object({n = number})", "{}", "default: attribute 'n' is required"),
        (
            "object({n = number})",
            "{n = 1, m = 2}",
            "default: unexpected attribute 'm' (the type has n)",
        ),
        ("list(number)", "{}", "default: expected a list(number), got an object"),
        ("bool", '"true"', 'default: expected true or false, got string "true"'),
        (
            "set(any)",
            '["a", 1]',
            "default: a set holds values of one type only, got number and string",
        ),
        ("set(any)", "[[1]]", "default: a set holds strings, numbers or bools only"),
    ],
)
def test_defaults_are_checked_against_the_type(
    tmp_path: Path, decl: str, default: str, expected: str | None
) -> None:
    text = f'variable "v" {{\n  type = {decl}\n  default = {default}\n}}\n'
    if expected is None:
        load(tmp_path, {"main.hcl": text})
    else:
        assert problems(tmp_path, {"main.hcl": text}) == [f"main.hcl:3: variable.v: {expected}"]


def test_var_file_values_are_checked_against_the_type(tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text('{"v": {"a": ["x", 2]}}')
    text = 'variable "v" {\n  type = map(list(string))\n}\n'
    config_dir = tmp_path / "c"
    config_dir.mkdir()
    assert problems(config_dir, {"main.hcl": text}, var_files=[tmp_path / "v.json"]) == [
        f"{tmp_path / 'v.json'}:1: variable.v: a[1]: expected a string, got an integer"
    ]


# -- bounds: hostile expressions end in a clear error, quickly ------------------------------


def deep(n: int) -> str:
    return "[" * n + "1" + "]" * n


@pytest.mark.parametrize(
    ("local_lines", "message"),
    [
        ("a = range(200000)", "range(): a collection would hold more than 100,000 elements"),
        (
            "a = [for x in range(1000) : [for y in range(1000) : [for z in range(10) : 1]]]",
            "evaluation needs more than 1,000,000 steps; simplify the expressions",
        ),
        (
            'a = join("", [for x in range(70) : format("%1000s", "")])',
            "join(): a string would be longer than 65536 characters",
        ),
        (
            "a = [local.b, local.b]\n  b = [local.c, local.c]\n  c = [local.d, local.d]\n"
            "  d = [local.e, local.e]\n  e = range(100000)",
            "a value holds more than 1,000,000 elements in all",
        ),
        ("a = 1e308 * 10", "the result is not a finite number"),
        (
            "a = 9223372036854775807 + 1",
            "the result is out of range (at most 9223372036854775807 in magnitude)",
        ),
    ],
)
def test_hostile_expressions_end_in_a_clear_error(
    tmp_path: Path, local_lines: str, message: str
) -> None:
    found = problems(tmp_path, {"main.hcl": f"locals {{\n  {local_lines}\n}}\n"})
    assert len(found) == 1 and found[0].endswith(message), found


def test_nesting_is_bounded_in_values_and_in_expressions(tmp_path: Path) -> None:
    chain = "\n".join(f"  v{i} = [local.v{i + 1}]" for i in range(40)) + "\n  v40 = 1"
    found = problems(tmp_path, {"main.hcl": f"locals {{\n{chain}\n}}\n"})
    assert found[0].endswith("a value is nested deeper than 32 levels")
    sums = " + ".join(["1"] * 100)
    found = problems(tmp_path, {"main.hcl": f"locals {{\n  s = {sums}\n}}\n"})
    assert found == ["main.hcl:2: values are nested deeper than 32 levels"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"main.hcl": 'nodepool "a" {\n  for_each = toset([1, 2])\n  pool = "p"\n}\n'},
            "main.hcl:2: nodepool.a: for_each needs a set of strings; convert: "
            "toset([for x in X : tostring(x)])",
        ),
        (
            {
                "main.hcl": 'locals {\n  none = null\n}\nnodepool "a" {\n  pool = "p"\n'
                '  name = "aa"\n  labels = {\n    a = "1"\n  }\n  network {\n    vpc = "v"\n'
                '    subnet = "s"\n    security_groups = ["a", local.none]\n  }\n}\n'
            },
            "main.hcl:13: nodepool.a: network.security_groups[1]: null is not allowed in a list",
        ),
        (
            {"main.hcl": 'variable "v" {\n  type = optional(string)\n}\n'},
            "main.hcl:2: variable.v: type: optional(...) is only allowed for an attribute of "
            "object({...})",
        ),
        (
            {"main.hcl": 'variable "v" {\n  type = object(string)\n}\n'},
            "main.hcl:2: variable.v: type: object(...) takes attribute types: "
            "object({name = string, ...})",
        ),
        (
            {"main.hcl": 'variable "v" {\n  type = object({a = string, a = number})\n}\n'},
            "main.hcl:2: variable.v: type: object(...) lists an attribute twice",
        ),
        (
            {"main.yaml": "locals: [1]\n"},
            "main.yaml:1: locals must be a mapping of names to values",
        ),
        (
            {"main.yaml": 'nodepools:\n  aa:\n    pool: "${a b}"\n'},
            "main.yaml:3: nodepool.aa: pool: syntax error in 'a b': unexpected 'b'",
        ),
    ],
)
def test_configuration_mistakes_name_the_line_and_field(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert problems(tmp_path, files) == [expected]
