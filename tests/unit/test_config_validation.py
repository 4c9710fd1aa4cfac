"""Every validation rule: a small configuration and the exact diagnostic line it must give."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.errors import ConfigError


def hcl(*lines: str) -> dict[str, str]:
    """A main.hcl with one node pool; the first extra line is line 3."""
    return {"main.hcl": "\n".join(['nodepool "a" {', '  pool = "p"', *lines, "}", ""])}


def yml(*lines: str) -> dict[str, str]:
    """A main.yaml with one node pool; the first extra line is line 4."""
    body = "".join(f"    {line}\n" for line in lines)
    return {"main.yaml": f"nodepools:\n  a:\n    pool: p\n{body}"}


def problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert [str(d) for d in info.value.diagnostics] == str(info.value).splitlines()
    return str(info.value).splitlines()


CASES = [
    # unknown fields, with did-you-mean for near misses and camelCase, at every level
    (
        hcl('flavour = "x"'),
        "main.hcl:3: nodepool.a: flavour: unknown field 'flavour'; did you mean flavor?",
    ),
    (
        hcl("maxCount = 2"),
        "main.hcl:3: nodepool.a: maxCount: unknown field 'maxCount'; did you mean max_count?",
    ),
    (hcl("zzz = 2"), "main.hcl:3: nodepool.a: zzz: unknown field 'zzz'"),
    (
        hcl("network {", '  securityGroups = ["sg"]', "}"),
        "main.hcl:4: nodepool.a: network.securityGroups: unknown field 'securityGroups';"
        " did you mean security_groups?",
    ),
    (
        hcl('taints = [{ key = "k", effect = "NoSchedule", efect = "x" }]'),
        "main.hcl:3: nodepool.a: taints[0].efect: unknown field 'efect'; did you mean effect?",
    ),
    (
        yml("os: {imageId: x}"),
        "main.yaml:4: nodepool.a: os.imageId: unknown field 'imageId'; did you mean image_id?",
    ),
    (
        yml("lifecycle:", "  preventDestroy: true"),
        "main.yaml:5: nodepool.a: lifecycle.preventDestroy: unknown field 'preventDestroy';"
        " did you mean prevent_destroy?",
    ),
    # strict types: no coercion
    (hcl('count = "2"'), 'main.hcl:3: nodepool.a: count: expected an integer, got string "2"'),
    (hcl("count = true"), "main.hcl:3: nodepool.a: count: expected an integer, got bool true"),
    (hcl("count = 2.0"), "main.hcl:3: nodepool.a: count: expected an integer, got number 2.0"),
    (yml('count: "2"'), 'main.yaml:4: nodepool.a: count: expected an integer, got string "2"'),
    (hcl("flavor = 4"), "main.hcl:3: nodepool.a: flavor: expected a string, got integer 4"),
    (
        hcl('os { auto_match = "true" }'),
        'main.hcl:3: nodepool.a: os.auto_match: expected true or false, got string "true"',
    ),
    (hcl('labels = ["a"]'), "main.hcl:3: nodepool.a: labels: expected an object, got a list"),
    (hcl('network = "n"'), 'main.hcl:3: nodepool.a: network: expected an object, got string "n"'),
    (
        hcl('taints = { key = "k" }'),
        "main.hcl:3: nodepool.a: taints: expected a list, got an object",
    ),
    (
        yml("labels: {team: true}"),
        "main.yaml:4: nodepool.a: labels.team: expected a string, got bool true",
    ),
    (
        hcl("count = null"),
        "main.hcl:3: nodepool.a: count: null is not allowed; leave the field out instead",
    ),
    # counts
    (hcl("count = -1"), "main.hcl:3: nodepool.a: count: must be at least 0, got integer -1"),
    (
        hcl("max_count = -2"),
        "main.hcl:3: nodepool.a: max_count: must be at least 0, got integer -2",
    ),
    (
        hcl("count = 4", "max_count = 2"),
        "main.hcl:4: nodepool.a: max_count: must be at least count (4), got 2",
    ),
    (
        hcl("count = 3", 'creating_step { step = 2 type = "rack" }'),
        "main.hcl:3: nodepool.a: count: must be a multiple of creating_step.step (2), got 3",
    ),
    (
        hcl("max_count = 4", 'creating_step { step = 3 type = "rack" }'),
        "main.hcl:3: nodepool.a: max_count: must be a multiple of creating_step.step (3), got 4",
    ),
    (
        hcl('creating_step { step = 0 type = "rack" }'),
        "main.hcl:3: nodepool.a: creating_step.step: must be at least 1, got integer 0",
    ),
    (
        hcl('creating_step { step = 1 type = "Rack" }'),
        "main.hcl:3: nodepool.a: creating_step.type: expected one of rack, hyperinstance,"
        ' got string "Rack"; did you mean rack?',
    ),
    (
        hcl("creating_step { step = 1 }"),
        "main.hcl:3: nodepool.a: creating_step.type: required field is missing",
    ),
    # taints
    (
        hcl("taints {", '  key = "k"', '  effect = "NoSchedul"', "}"),
        "main.hcl:5: nodepool.a: taints[0].effect: expected one of NoSchedule,"
        ' PreferNoSchedule, NoExecute, got string "NoSchedul"; did you mean NoSchedule?',
    ),
    (
        hcl('taints { effect = "NoSchedule" }'),
        "main.hcl:3: nodepool.a: taints[0].key: required field is missing",
    ),
    (
        hcl(
            'taints { key = "k" effect = "NoSchedule" }',
            'taints { key = "k" effect = "NoExecute" }',
            'taints { key = "k" value = "v" effect = "NoSchedule" }',
        ),
        "main.hcl:5: nodepool.a: taints[2]: duplicate taint 'k:NoSchedule' (also taints[0])",
    ),
    (
        yml("taints: [{key: 'a b', effect: NoSchedule}]"),
        "main.yaml:4: nodepool.a: taints[0].key: taint key 'a b' must consist of letters,"
        " digits, '-', '_' or '.', starting and ending with a letter or digit",
    ),
    # labels by Kubernetes rules
    (
        hcl('labels = { "bad key" = "x" }'),
        "main.hcl:3: nodepool.a: labels[\"bad key\"]: label key 'bad key' must consist of"
        " letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
    ),
    (
        hcl('labels = { "Bad_Prefix/x" = "v" }'),
        "main.hcl:3: nodepool.a: labels[\"Bad_Prefix/x\"]: label key prefix 'Bad_Prefix' must"
        " be a lowercase DNS subdomain of at most 253 characters",
    ),
    (
        hcl('labels = { "example.com/" = "v" }'),
        "main.hcl:3: nodepool.a: labels[\"example.com/\"]: label key 'example.com/' has an"
        " empty name",
    ),
    (
        hcl(f'labels = {{ {"k" * 64} = "v" }}'),
        f"main.hcl:3: nodepool.a: labels.{'k' * 64}: label key '{'k' * 64}': the name is"
        " longer than 63 characters",
    ),
    (
        hcl(f'labels = {{ k = "{"v" * 64}" }}'),
        "main.hcl:3: nodepool.a: labels.k: label value is longer than 63 characters",
    ),
    (
        hcl('labels = { k = "-v" }'),
        "main.hcl:3: nodepool.a: labels.k: label value '-v' must consist of letters, digits,"
        " '-', '_' or '.', starting and ending with a letter or digit",
    ),
    # tags
    (
        hcl('tags = { "CCE-x" = "1" }'),
        "main.hcl:3: nodepool.a: tags.CCE-x: tag key 'CCE-x' must not start with 'CCE-' (reserved)",
    ),
    (
        yml("tags: {__type_baremetal_x: '1'}"),
        "main.yaml:4: nodepool.a: tags.__type_baremetal_x: tag key '__type_baremetal_x' must"
        " not start with '__type_baremetal' (reserved)",
    ),
    (hcl('tags = { "" = "1" }'), 'main.hcl:3: nodepool.a: tags[""]: tag key must not be empty'),
    (
        hcl("tags = {", *(f'  t{i} = "v"' for i in range(21)), "}"),
        "main.hcl:3: nodepool.a: tags: must have at most 20 entries, got 21",
    ),
    # azs
    (
        hcl('azs = [{ az = "z1", count = 1 }, { az = "z1", count = 2 }]'),
        "main.hcl:3: nodepool.a: azs[1].az: duplicate az 'z1' (also azs[0])",
    ),
    (
        hcl('azs = [{ az = "", count = 1 }]'),
        "main.hcl:3: nodepool.a: azs[0].az: must not be empty",
    ),
    (
        yml("azs:", "  - az: z1", "    count: -1"),
        "main.yaml:6: nodepool.a: azs[0].count: must be at least 0, got integer -1",
    ),
    # lifecycle
    (
        hcl('lifecycle { ignore_changes = ["cout"] }'),
        "main.hcl:3: nodepool.a: lifecycle.ignore_changes[0]: 'cout' is not a field np"
        " manages; did you mean count?",
    ),
    (
        yml("lifecycle: {ignore_changes: [count, maxCount]}"),
        "main.yaml:4: nodepool.a: lifecycle.ignore_changes[1]: 'maxCount' is not a field np"
        " manages; did you mean max_count?",
    ),
    (
        hcl('lifecycle { prevent_destroy = "yes" }'),
        "main.hcl:3: nodepool.a: lifecycle.prevent_destroy: expected true or false,"
        ' got string "yes"',
    ),
    # pool and name
    (
        {"main.hcl": 'nodepool "a" {\n  flavor = "f"\n}\n'},
        "main.hcl:1: nodepool.a: pool: required field is missing",
    ),
    (yml(), None),  # valid: a pool alone is enough (checked by the happy-path assertion)
    (hcl('name = ""'), "main.hcl:3: nodepool.a: name: must not be empty"),
    (
        {"main.yaml": "nodepools:\n  a:\n    pool: ''\n"},
        "main.yaml:3: nodepool.a: pool: must not be empty",
    ),
    # duplicates inside one block
    (
        hcl('flavor = "a"', 'flavor = "b"'),
        "main.hcl:4: nodepool.a: flavor: set more than once (first at main.hcl:3)",
    ),
    (
        hcl('network { vpc = "a" }', 'network { vpc = "b" }'),
        "main.hcl:4: nodepool.a: network: set more than once (first at main.hcl:3)",
    ),
    (
        hcl('taints = [{ key = "a", effect = "NoSchedule" }]', 'taints { key = "b" }'),
        "main.hcl:4: nodepool.a: taints: set more than once (first at main.hcl:3)",
    ),
    (
        hcl('labels = { a = "1", a = "2" }'),
        "main.hcl:3: nodepool.a: labels.a: set more than once (first at main.hcl:3)",
    ),
    (
        yml("flavor: x", "flavor: y"),
        "main.yaml:5: nodepool.a: flavor: set more than once (first at main.yaml:4)",
    ),
    # duplicates across blocks, files and languages
    (
        {
            "a.hcl": 'nodepool "a" {\n  pool = "p"\n}\n',
            "b.yaml": "nodepools:\n  a: {pool: q}\n",
        },
        "b.yaml:2: nodepool.a: declared more than once (first at a.hcl:1)",
    ),
    (
        {
            "a.hcl": 'nodepool "a" {\n  pool = "p"\n}\n'
            'nodepool "b" {\n  pool = "p"\n  name = "a"\n}\n'
        },
        "a.hcl:4: nodepool.b: manages the same node pool p/a as nodepool.a (a.hcl:1)",
    ),
    (
        {"a.hcl": 'provider "modelarts" {}\n', "b.yaml": "provider: {region: r}\n"},
        "b.yaml:1: provider: declared more than once (first at a.hcl:1)",
    ),
    (
        {"main.hcl": 'variable "x" {}\nvariable "x" {}\n'},
        "main.hcl:2: variable.x: declared more than once (first at main.hcl:1)",
    ),
    # structure
    (
        {"main.hcl": 'nodepools "a" {\n  pool = "p"\n}\n'},
        "main.hcl:1: unknown block type 'nodepools'; did you mean nodepool?",
    ),
    (
        {"main.hcl": 'region = "x"\n'},
        "main.hcl:1: unexpected attribute 'region' at top level; expected blocks provider,"
        " backend, variable, locals, nodepool or moved; a file of name = value lines is a"
        " variable file: name it np.npvars or NAME.auto.npvars, or pass it with --var-file",
    ),
    (
        {"main.hcl": 'nodepool {\n  pool = "p"\n}\n'},
        'main.hcl:1: a nodepool block needs exactly one label: nodepool "NAME" { ... }',
    ),
    (
        {"main.hcl": 'provider "aws" {}\n'},
        "main.hcl:1: unknown provider 'aws'; only \"modelarts\" is supported",
    ),
    (
        hcl('network "x" { vpc = "v" }'),
        "main.hcl:3: nodepool.a: network: a nested network block takes no labels",
    ),
    (
        {"main.hcl": 'nodepool "a.b" {\n  pool = "p"\n}\n'},
        "main.hcl:1: nodepool name 'a.b' must start with a letter or _ and contain only"
        " letters, digits, _ and -",
    ),
    (
        {"main.yaml": "nodepool:\n  a: {pool: p}\n"},
        "main.yaml:1: unknown top-level key 'nodepool'; did you mean nodepools?",
    ),
    (
        {"main.yaml": "nodepools: [a]\n"},
        "main.yaml:1: nodepools must be a mapping of names to blocks",
    ),
    (
        {"main.yaml": "nodepools:\n  a: p\n"},
        "main.yaml:2: nodepool.a: expected a mapping of fields",
    ),
    (
        {"main.yaml": "- a\n"},
        "main.yaml:1: expected a mapping with provider, providers, backend, variables, locals, "
        "nodepools"
        " and moved",
    ),
    (
        {"main.yaml": "nodepools: {}\nnodepools: {}\n"},
        "main.yaml:2: nodepools is set more than once (first at main.yaml:1)",
    ),
    # expressions: what goes wrong is named where it is
    *(
        (hcl(f"flavor = {expr}"), f"main.hcl:3: nodepool.a: flavor: {message}")
        for expr, message in [
            ('upper("x", "y")', "upper() takes 1 argument(s), got 2"),
            ("1 + 2", "expected a string, got integer 3"),
            ("!true", "expected a string, got bool false"),
            ('true ? 1 : "b"', "expected a string, got integer 1"),
            ("local.x", "undeclared local value local.x"),
            ("var.x.y", "undeclared variable var.x"),
            ('["a"][1]', "index 1 is out of range: the list has 1"),
            ('[for s in ["a"] : s]', "expected a string, got a list"),
            ('"${upper(var.x)}"', "undeclared variable var.x"),
            ('"x" + 1', 'operator + expects a number, got string "x"'),
            (
                "uuid()",
                "function uuid() is not allowed: it reads the world outside the "
                "configuration, and np configurations stay pure and reproducible",
            ),
            ('lowr("X")', "unknown function lowr(); did you mean lower?"),
        ]
    ),
    (
        hcl("flavor = gpu"),
        'main.hcl:3: nodepool.a: flavor: bare name gpu is not a value; write a string as "gpu"'
        " and a variable as var.NAME",
    ),
    (
        yml("flavor: ${upper(x)}"),
        'main.yaml:4: nodepool.a: flavor: bare name x is not a value; write a string as "x"'
        " and a variable as var.NAME",
    ),
    *(
        (
            hcl(f"flavor = {expr}"),
            "main.hcl:3: nodepool.a: flavor: splat expressions (x[*].y, x.*.y) are not"
            " supported; use a for expression",
        )
        for expr in ("var.x[*].y", "var.x.*.y")
    ),
    (
        hcl('flavor = "%{if true}x%{endif}"'),
        "main.hcl:3: nodepool.a: flavor: template directives (%{if}, %{for}) are not supported;"
        " use a conditional or a for expression inside ${...}",
    ),
    (
        yml("flavor: !!binary aGVsbG8="),
        "main.yaml:4: nodepool.a: flavor: the YAML tag !!binary is not allowed",
    ),
    (
        hcl('flavor = "a\\qb"'),
        "main.hcl:3: nodepool.a: flavor: invalid escape sequence \\q in a string",
    ),
    (
        hcl('labels = { (var.k) = "v" }'),
        "main.hcl:3: nodepool.a: labels: object keys must be names or literal strings; compute"
        " keys with a for expression",
    ),
    (
        hcl("flavor = <<EOT", "${var.x}", "EOT"),
        "main.hcl:3: nodepool.a: flavor: interpolation inside a heredoc is not supported;"
        " use a quoted string",
    ),
]


@pytest.mark.parametrize(("files", "expected"), CASES)
def test_each_rule_names_file_line_address_and_field(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    if expected is None:
        for name, text in files.items():
            (tmp_path / name).write_text(text)
        assert load_config(tmp_path, environ={}).nodepools[0].pool == "p"
    else:
        assert expected in problems(tmp_path, files)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "a.hcl": 'nodepool "a" {\n  pool = "p"\n  count = "1"\n  labelz = {}\n}\n',
            "b.yaml": "nodepools:\n  b:\n    pool: p\n    max_count: -1\n",
        },
    )
    assert found == [
        'a.hcl:3: nodepool.a: count: expected an integer, got string "1"',
        "a.hcl:4: nodepool.a: labelz: unknown field 'labelz'; did you mean labels?",
        "b.yaml:4: nodepool.b: max_count: must be at least 0, got integer -1",
    ]


def test_a_failed_value_is_reported_once(tmp_path: Path) -> None:
    found = problems(tmp_path, hcl("labels = { team = var.nope }", "pool = 3"))
    assert found == [
        "main.hcl:4: nodepool.a: pool: set more than once (first at main.hcl:2)",
        "main.hcl:3: nodepool.a: labels.team: undeclared variable var.nope",
    ]


PROVIDER_CASES = [
    (
        "sk",
        "main.hcl:2: provider: sk: credentials must not be written in configuration; set"
        " HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead",
    ),
    ("ak", "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead"),
    ("access_key", "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead"),
    ("secret_key", "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead"),
    ("password", "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead"),
    ("secretAccessKey", "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead"),
    ("client_credentials", "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead"),
    (
        "token",
        "main.hcl:2: provider: token: credentials must not be written in configuration;"
        " set HW_AUTH_TOKEN instead",
    ),
    ("auth_token", "set HW_AUTH_TOKEN instead"),
    (
        "security_token",
        "set HUAWEICLOUD_SDK_SECURITY_TOKEN (with HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK)",
    ),
]


@pytest.mark.parametrize(("field", "expected"), PROVIDER_CASES)
@pytest.mark.parametrize("value", ['"S3cr3tV4lue"', "S3cr3tV4lue", "upper(S3cr3tV4lue)"])
def test_secrets_in_the_provider_are_refused_without_echo(
    tmp_path: Path, field: str, expected: str, value: str
) -> None:
    text = f'provider "modelarts" {{\n  {field} = {value}\n  region = "r"\n}}\n'
    found = problems(tmp_path, {"main.hcl": text})
    assert len(found) == 1 and expected in found[0]
    assert "S3cr3tV4lue" not in found[0]


def test_secrets_in_yaml_provider_are_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, {"main.yaml": "provider:\n  region: r\n  sk: S3cr3tV4lue\n"})
    assert found == [
        "main.yaml:3: provider: sk: credentials must not be written in configuration; set"
        " HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead"
    ]


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("ftp://host", "endpoint must be sim://PATH, https://HOST or http://127.0.0.1:PORT"),
        ("world.json", "endpoint must be sim://PATH, https://HOST or http://127.0.0.1:PORT"),
        ("https://", "endpoint must be sim://PATH, https://HOST or http://127.0.0.1:PORT"),
        ("sim://", "sim:// endpoint needs a world file path, e.g. sim://world.json"),
        ("https://user:pw@host", "endpoint must not contain credentials"),
        ("http://[::1", "endpoint is not a valid URL"),
    ],
)
def test_bad_endpoints(tmp_path: Path, endpoint: str, expected: str) -> None:
    text = f'provider "modelarts" {{\n  endpoint = "{endpoint}"\n}}\n'
    assert problems(tmp_path, {"main.hcl": text}) == [f"main.hcl:2: provider: endpoint: {expected}"]


@pytest.mark.parametrize(
    "endpoint",
    [
        "sim://world.json",
        "https://modelarts.cn-north-4.myhuaweicloud.com",
        "http://127.0.0.1:8787",
        "http://127.0.0.2",
        "http://[::1]:8787",
        "http://localhost:8787/",
    ],
)
def test_good_endpoints(tmp_path: Path, endpoint: str) -> None:
    (tmp_path / "main.hcl").write_text(f'provider "modelarts" {{\n  endpoint = "{endpoint}"\n}}\n')
    assert load_config(tmp_path, environ={}).provider.endpoint == endpoint


def test_unknown_provider_field(tmp_path: Path) -> None:
    found = problems(tmp_path, {"main.yaml": "provider: {regoin: cn-north-4}\n"})
    assert found == ["main.yaml:1: provider: regoin: unknown field 'regoin'; did you mean region?"]
