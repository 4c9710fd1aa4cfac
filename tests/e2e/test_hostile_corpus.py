"""Every file in tests/hostile/ through the real CLI: `np validate` and `np plan` exit 1 fast,
with exactly one located `Error:` line per problem, no traceback, no state, no world change.

Each corpus file is one case. Files named `provider-*` bring their own provider block; the
others get a `provider.hcl` that points at an in-process simulator world, so that a case that
wrongly passed validation would go on to plan against it (and fail this test).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from support import PROVIDER, Run, Workspace, pool_world

CORPUS = Path(__file__).parents[1] / "hostile"
SECRET = re.compile(rb"[A-Z]+HOSTILE-do-not-echo-\d")
IMPURE = (
    "function %s() is not allowed: it reads the world outside the configuration, and np "
    "configurations stay pure and reproducible"
)
K8S_CHARS = (
    "must consist of letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
)
ENDPOINTS = "endpoint must be sim://PATH, https://HOST or http://127.0.0.1:PORT"
AKSK = (
    "credentials must not be written in configuration; "
    "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead"
)
OTHER_TOOL = (
    "if this file belongs to another tool, keep np's files in a directory of their own and run "
    "np -C DIR"
)
NOT_UTF8 = "file is not UTF-8 text (binary file?)"
ANCHORS = "YAML anchors and aliases (&name, *name) are not supported"
BYTES = "evaluation makes more than 64 MiB of values; simplify the expressions"
STEPS = "evaluation needs more than 1,000,000 steps; simplify the expressions"

# file -> the problems np must report, as (line, message after "FILE:LINE: ")
CASES: dict[str, list[tuple[int, str]]] = {
    "count-huge.hcl": [
        (
            4,
            "nodepool.train: count: must be at most 2147483647, got integer " + "9" * 26,
        )
    ],
    "provider-http-remote.hcl": [
        (
            2,
            "provider: endpoint: http://10.1.2.3:8787: plain http is only allowed to a loopback "
            "host (127.0.0.1, ::1, localhost), not '10.1.2.3'; use https://, or pass "
            "--allow-insecure-http if you really mean it",
        )
    ],
    # syntax
    "syntax-unclosed-block.hcl": [(5, "syntax error: unexpected end of file")],
    "syntax-unclosed-map.hcl": [(7, "syntax error: unexpected end of file")],
    "syntax-unterminated-string.hcl": [(5, "syntax error: unexpected end of file")],
    "syntax-missing-equals.hcl": [(6, "syntax error: unexpected '}'")],
    "syntax-unterminated-heredoc.hcl": [(2, "syntax error: unexpected '<'")],
    "syntax-unclosed-flow.yaml": [(5, "syntax error: expected ',' or '}', but got ':'")],
    "syntax-bad-indent.yaml": [
        (4, "syntax error: expected <block end>, but found '<block mapping start>'")
    ],
    "yaml-top-level-list.yaml": [
        (
            1,
            "expected a mapping with provider, providers, backend, variables, locals, nodepools "
            "and moved",
        )
    ],
    "unknown-block.hcl": [
        (
            1,
            "not an np configuration file: it has block type 'resource', np's are provider, "
            "backend, variable, locals, nodepool and moved; " + OTHER_TOOL,
        )
    ],
    "block-without-label.hcl": [
        (1, 'a nodepool block needs exactly one label: nodepool "NAME" { ... }')
    ],
    "block-two-labels.hcl": [
        (1, 'a nodepool block needs exactly one label: nodepool "NAME" { ... }')
    ],
    "provider-wrong-name.hcl": [(1, "unknown provider 'aws'; only \"modelarts\" is supported")],
    # encodings and binary files
    "invalid-utf8.hcl": [(5, NOT_UTF8)],
    "invalid-utf8.yml": [(3, NOT_UTF8)],
    "utf16.hcl": [(1, NOT_UTF8)],
    "binary-gzip.hcl": [(1, NOT_UTF8)],
    "nul-byte.yaml": [(3, "file is not text (it contains NUL bytes)")],
    # duplicates
    "dup-attribute.hcl": [
        (5, "nodepool.train: flavor: set more than once (first at dup-attribute.hcl:3)")
    ],
    "dup-block.hcl": [(7, "nodepool.train: declared more than once (first at dup-block.hcl:1)")],
    "dup-nested-block.hcl": [
        (8, "nodepool.train: network: set more than once (first at dup-nested-block.hcl:5)")
    ],
    "dup-map-key.hcl": [
        (5, "nodepool.train: labels.team: set more than once (first at dup-map-key.hcl:5)")
    ],
    "dup-key.yaml": [(6, "nodepool.train: count: set more than once (first at dup-key.yaml:5)")],
    "dup-nodepool.yaml": [
        (5, "nodepool.train: declared more than once (first at dup-nodepool.yaml:2)")
    ],
    "dup-same-nodepool.hcl": [
        (
            7,
            "nodepool.b: manages the same node pool pool-prod/train as nodepool.train "
            "(dup-same-nodepool.hcl:1)",
        )
    ],
    # references, interpolation, functions, arithmetic, conditionals
    "unterminated-interpolation.hcl": [(5, "syntax error: unexpected '\"'")],
    "unterminated-interpolation.yaml": [
        (
            4,
            "nodepool.train: labels.tier: the interpolation ${var.tier-gpu has no closing }",
        )
    ],
    "interpolation-function.hcl": [(5, "nodepool.train: labels.tier: " + IMPURE % "timestamp")],
    "interpolated-key.hcl": [
        (
            5,
            "nodepool.train: labels: object keys must be names or literal strings; compute keys "
            "with a for expression",
        )
    ],
    "function-call.hcl": [(4, "nodepool.train: count: " + IMPURE % "file")],
    "arithmetic.hcl": [(4, "nodepool.train: count: division by zero")],
    "yaml-arithmetic.yaml": [(4, "nodepool.train: count: undeclared variable var.n")],
    "conditional.hcl": [
        (8, 'nodepool.train: count: a condition must be true or false, got string "yes"')
    ],
    "for-expression.hcl": [
        (
            5,
            'nodepool.train: labels: two elements have the key "a"; write ... after the value '
            "to group them",
        )
    ],
    "other-reference.hcl": [
        (
            4,
            "nodepool.train: count: unknown reference nodepool.b; np knows var.NAME, "
            "local.NAME, each.key, each.value and np.workspace",
        )
    ],
    # expressions: bounded, pure, typed
    "expr-nested-calls.hcl": [(4, "values are nested deeper than 32 levels")],
    "expr-huge-for-each.hcl": [
        (2, "nodepool.train: for_each makes 100,000 instances; at most 10,000 per block")
    ],
    "expr-step-bomb.hcl": [
        (2, "local.grid: evaluation needs more than 1,000,000 steps; simplify the expressions")
    ],
    # each took minutes or gigabytes before its work was charged (steps, bytes, hint searches)
    "expr-format-serialise-bomb.hcl": [(4, f"local.bomb: {STEPS}")],
    "expr-for-string-bomb.hcl": [(3, f"local.bomb: {BYTES}")],
    "expr-join-walk-bomb.hcl": [(3, f"local.bomb: {STEPS}")],
    "expr-format-verbs-bomb.hcl": [(3, f"local.bomb: {STEPS}")],
    "expr-field-bytes-bomb.hcl": [(11, f'nodepool.train["p1"]: extend_params: {BYTES}')],
    "expr-did-you-mean-long-keys.hcl": [
        (
            11,
            f'nodepool.train["p0"]: count: no key "{" " * 61}..." in the map (and in 99 more '
            "instances)",
        )
    ],
    "expr-doubling.hcl": [(7, "local.l5: a value holds more than 1,000,000 elements in all")],
    "expr-string-bomb.yaml": [
        (3, "local.bigger: join(): a string would be longer than 65536 characters")
    ],
    "expr-local-cycle.hcl": [
        (2, "local.a: local values refer to each other in a cycle: local.a, local.b, local.c")
    ],
    "expr-bad-type.hcl": [
        (4, 'variable.specs: default.small.count: expected a number, got string "two"')
    ],
    "expr-impure-file.hcl": [(5, "nodepool.train: labels.key: " + IMPURE % "file")],
    "expr-impure-templatefile.yaml": [
        (6, "nodepool.train: extend_params.script: " + IMPURE % "templatefile")
    ],
    "expr-unknown-function.yaml": [
        (
            4,
            "nodepool.train: flavor: unknown function sha256(); np offers abs, ceil, coalesce, "
            "concat, contains, distinct, flatten, floor, format, join, keys, length, lookup, "
            "lower, max, merge, min, range, replace, split, tobool, tolist, tomap, tonumber, "
            "toset, tostring, trimspace, upper, values, zipmap",
        )
    ],
    "expr-for-each-list.hcl": [
        (
            2,
            "nodepool.train: for_each needs a map or a set of strings, got a list; use toset(...)",
        )
    ],
    "expr-overflow.hcl": [
        (
            8,
            "nodepool.train: count: the result is out of range (at most 9223372036854775807 in "
            "magnitude)",
        )
    ],
    "expr-regex-replace.hcl": [
        (
            3,
            "nodepool.train: flavor: replace(): regular expressions (/.../) are not supported: "
            "give the literal text",
        )
    ],
    "expr-each-outside.yaml": [
        (
            4,
            "nodepool.train: name: each.key and each.value exist only in a nodepool block with "
            "for_each",
        )
    ],
    "undeclared-variable.hcl": [(4, "nodepool.train: count: undeclared variable var.missing")],
    "variable-without-value.hcl": [
        (
            8,
            "nodepool.train: count: variable n has no value; give it a default or set it "
            "with NP_VAR_n, --var-file or --var",
        )
    ],
    "variable-wrong-type.hcl": [(3, 'variable.n: default: expected a number, got string "four"')],
    # wrong types and counts
    "count-string.hcl": [(4, 'nodepool.train: count: expected an integer, got string "2"')],
    "count-bool.yaml": [(5, "nodepool.train: count: expected an integer, got bool true")],
    "count-float.hcl": [(4, "nodepool.train: count: expected an integer, got number 2.5")],
    "count-float.yaml": [(5, "nodepool.train: count: expected an integer, got number 1000.0")],
    "count-negative.hcl": [(4, "nodepool.train: count: must be at least 0, got integer -1")],
    "max-count-below-count.hcl": [
        (5, "nodepool.train: max_count: must be at least count (4), got 2")
    ],
    "count-not-multiple-of-step.hcl": [
        (4, "nodepool.train: count: must be a multiple of creating_step.step (2), got 3")
    ],
    "null-value.hcl": [
        (4, "nodepool.train: count: null is not allowed; leave the field out instead")
    ],
    "labels-list.hcl": [(5, "nodepool.train: labels: expected an object, got a list")],
    "extend-params-int.yaml": [
        (4, "nodepool.train: extend_params.dockerBaseSize: expected a string, got integer 0")
    ],
    "camelcase-field.hcl": [
        (5, "nodepool.train: maxCount: unknown field 'maxCount'; did you mean max_count?")
    ],
    "unknown-field.hcl": [
        (5, "nodepool.train: lables: unknown field 'lables'; did you mean labels?")
    ],
    "missing-pool.yaml": [(3, "nodepool.train: pool: required field is missing")],
    # Kubernetes labels, tags, taints, azs
    "label-key-space.hcl": [
        (5, f"nodepool.train: labels[\"team name\"]: label key 'team name' {K8S_CHARS}")
    ],
    "label-key-homoglyph.hcl": [
        (5, f"nodepool.train: labels[\"t\\u0435am\"]: label key 't\u0435am' {K8S_CHARS}")
    ],
    "label-prefix-uppercase.hcl": [
        (
            5,
            "nodepool.train: labels[\"Example.COM/team\"]: label key prefix 'Example.COM' "
            "must be a lowercase DNS subdomain of at most 253 characters",
        )
    ],
    "label-value-too-long.yaml": [
        (4, "nodepool.train: labels.team: label value is longer than 63 characters")
    ],
    "label-value-leading-dash.yaml": [
        (4, f"nodepool.train: labels.team: label value '-ml' {K8S_CHARS}")
    ],
    "tag-reserved-cce.hcl": [
        (
            5,
            "nodepool.train: tags.CCE-owner: tag key 'CCE-owner' must not start with 'CCE-' "
            "(reserved)",
        )
    ],
    "tag-reserved-baremetal.yaml": [
        (
            4,
            "nodepool.train: tags.__type_baremetal: tag key '__type_baremetal' must not start "
            "with '__type_baremetal' (reserved)",
        )
    ],
    "tags-21.hcl": [(5, "nodepool.train: tags: must have at most 20 entries, got 21")],
    "taint-bad-effect.hcl": [
        (
            5,
            "nodepool.train: taints[0].effect: expected one of NoSchedule, PreferNoSchedule, "
            'NoExecute, got string "NoWay"',
        )
    ],
    "taint-duplicate.yaml": [
        (6, "nodepool.train: taints[1]: duplicate taint 'gpu:NoSchedule' (also taints[0])")
    ],
    "az-duplicate.hcl": [
        (5, "nodepool.train: azs[1].az: duplicate az 'cn-north-4a' (also azs[0])")
    ],
    # the provider block: secrets and endpoints
    "provider-secret-key.hcl": [(3, f"provider: secret_key: {AKSK}")],
    "provider-aksk.yaml": [(3, f"provider: ak: {AKSK}"), (4, f"provider: sk: {AKSK}")],
    "provider-token.hcl": [
        (
            3,
            "provider: token: credentials must not be written in configuration; "
            "set HW_AUTH_TOKEN instead",
        )
    ],
    "provider-endpoint-userinfo.hcl": [
        (2, "provider: endpoint: endpoint must not contain credentials")
    ],
    "provider-unknown-scheme.hcl": [(2, f"provider: endpoint: {ENDPOINTS}")],
    "provider-file-scheme.hcl": [(2, f"provider: endpoint: {ENDPOINTS}")],
    # YAML specials and nesting
    "yaml-billion-laughs.yaml": [(1, ANCHORS)],
    "yaml-merge-key.yaml": [(1, ANCHORS)],
    "yaml-python-object.yaml": [(1, "nodepools must be a mapping of names to blocks")],
    "yaml-python-tagged-list.yaml": [
        (4, "nodepool.train: taints: the YAML tag !!python/object/new:list is not allowed")
    ],
    "yaml-binary-tag.yaml": [(3, "nodepool.train: pool: the YAML tag !!binary is not allowed")],
    "yaml-tab.yaml": [(4, "syntax error: found character '\\t' that cannot start any token")],
    "deep-nesting.hcl": [(5, "values are nested deeper than 32 levels")],
    "deep-nesting.yaml": [(4, "YAML is nested deeper than 32 levels")],
    # literals np could neither print nor send (issue 26, item 10): refused where written
    "escape-surrogate.hcl": [
        (4, "a string holds \\ud800 (half of a UTF-16 surrogate pair), which is not a character")
    ],
    "escape-nul.hcl": [(3, "a string holds \\u0000 (NUL), which is not a character")],
    "number-digits.hcl": [(4, f"the integer {'7' * 61}... is longer than 4,300 digits")],
    "number-infinite.hcl": [(4, "1e400 is not a finite number")],
    "yaml-infinity.yaml": [(5, ".inf is not a finite number")],
    "yaml-nan.yaml": [(6, ".nan is not a finite number")],
    "yaml-hex-digits.yaml": [(5, f"the integer 0x{'f' * 59}... is longer than 4,300 digits")],
    "yaml-merge-key-plain.yaml": [
        (3, "YAML merge keys (<<) are not supported; write the keys out")
    ],
    "yaml-escape-nul.yaml": [(4, "a string holds \\u0000 (NUL), which is not a character")],
    "yaml-escape-surrogate.yaml": [
        (5, "a string holds \\udc00 (half of a UTF-16 surrogate pair), which is not a character")
    ],
}

# Corpus files that np wrongly accepts today; see the reason of each.


@pytest.fixture(autouse=True)
def _no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NP_ENDPOINT", raising=False)


def run_both(ws: Workspace, *args: str) -> list[tuple[Run, float]]:
    """`np validate` then `np plan`, each with the CPU time it took (not wall time: other work
    on a shared machine slows a run down, but does not make it compute more)."""
    runs = []
    for command in ("validate", "plan"):
        started = time.process_time()
        run = ws.np(command, *args)
        runs.append((run, time.process_time() - started))
    return runs


def hostile_workspace(tmp_path: Path, name: str, data: bytes | None = None) -> Workspace:
    ws = Workspace(tmp_path)
    ws.world(pool_world({"infer": {"flavor": "modelarts.vm.gpu.t4u8", "count": 1, "maxCount": 1}}))
    if not name.startswith("provider-"):
        (tmp_path / "provider.hcl").write_text(PROVIDER)
    if data is None:
        shutil.copyfile(CORPUS / name, tmp_path / name)
    else:
        (tmp_path / name).write_bytes(data)
    return ws


def assert_refused(
    ws: Workspace, expected: list[str], secrets: Sequence[bytes] = (), args: Sequence[str] = ()
) -> None:
    """Both commands: exit 1 within 5 s of CPU, exactly `expected` on stderr, nothing written."""
    world_before = ws.world_path.read_bytes()
    for run, seconds in run_both(ws, *args):
        assert (run.code, run.stdout) == (1, "")
        assert run.stderr.splitlines() == [f"Error: {line}" for line in expected]
        assert seconds < 5
        for secret in secrets:
            assert secret.decode() not in run.stdout + run.stderr
    assert not (ws.root / "state").exists()
    assert ws.world_path.read_bytes() == world_before


def test_the_corpus_is_big_and_every_file_has_an_expectation() -> None:
    files = {path.name for path in CORPUS.iterdir()}
    assert len(files) >= 40
    assert files == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_is_refused(tmp_path: Path, name: str) -> None:
    ws = hostile_workspace(tmp_path, name)
    expected = [f"{name}:{line}: {message}" for line, message in CASES[name]]
    assert_refused(ws, expected, SECRET.findall((CORPUS / name).read_bytes()))


def test_secret_cases_really_carry_secrets() -> None:
    """The no-echo assertion above is only worth something if the values are there."""
    carriers = [n for n in CASES if SECRET.search((CORPUS / n).read_bytes())]
    assert sorted(carriers) == [
        "provider-aksk.yaml",
        "provider-endpoint-userinfo.hcl",
        "provider-secret-key.hcl",
        "provider-token.hcl",
    ]


TEN_MB = 10 * 1024 * 1024


LABEL_HEAD = b'nodepool "train" {\n  pool = "pool-prod"\n  labels = { a = "'
LONG_LINE = "line is longer than 1,048,576 characters"
TOO_LONG = "string is longer than 65536 characters"


@pytest.mark.parametrize(
    ("name", "head", "size", "tail", "expected"),
    [
        (
            "big.hcl",
            b'nodepool "train" {\n  pool = "pool-prod"\n  flavor = "',
            TEN_MB,
            b'"\n}\n',
            f"3: {LONG_LINE}",
        ),
        (
            "big.yaml",
            b"nodepools:\n  train:\n    pool: pool-prod\n    flavor: ",
            TEN_MB,
            b"\n",
            f"4: nodepool.train: flavor: {TOO_LONG}",
        ),
        ("label.hcl", LABEL_HEAD, TEN_MB, b'" }\n}\n', f"3: {LONG_LINE}"),
        ("short.hcl", LABEL_HEAD, 100_000, b'" }\n}\n', f"3: nodepool.train: labels.a: {TOO_LONG}"),
    ],
)
def test_long_string_in_a_config_file(
    tmp_path: Path, name: str, head: bytes, size: int, tail: bytes, expected: str
) -> None:
    """No file-size limit stops it (real configurations may be large): in YAML the field's
    rule does; in HCL a line that long is refused before any parser reads it, and a string
    on a line of legal length by the field's rule."""
    ws = hostile_workspace(tmp_path, name, head + b"x" * size + tail)
    assert_refused(ws, [f"{name}:{expected}"])


VAR_CONFIG = """
variable "tier" {
  type = string
}

nodepool "train" {
  pool   = "pool-prod"
  labels = { tier = var.tier }
}
"""


def test_ten_megabyte_variable_on_the_command_line(tmp_path: Path) -> None:
    ws = hostile_workspace(tmp_path, "main.hcl", VAR_CONFIG.encode())
    too_long = "variable.tier: --var tier: value is longer than 65536 characters"
    assert_refused(ws, [too_long], args=("--var", "tier=" + "x" * TEN_MB))


def test_ten_megabyte_var_file(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    ws = hostile_workspace(config, "main.hcl", VAR_CONFIG.encode())
    var_file = tmp_path / "vars.json"
    var_file.write_text(json.dumps({"tier": "x" * TEN_MB}))
    too_long = f"{var_file}:1: variable.tier: string is longer than 65536 characters"
    assert_refused(ws, [too_long], args=("--var-file", str(var_file)))


OCTAL_YAML = """
nodepools:
  train:
    pool: pool-prod
    flavor: modelarts.vm.gpu.t4u8
    count: 010
"""


def test_leading_zero_count_means_the_same_in_yaml_as_in_hcl(tmp_path: Path) -> None:
    ws = hostile_workspace(tmp_path, "main.yaml", OCTAL_YAML.encode())
    run = ws.np("plan", "--json")
    if run.code == 0:
        [change] = [c for c in run.json()["resource_changes"] if c["address"] == "nodepool.train"]
        assert change["after"]["count"] == 10
    else:
        assert run.stderr.startswith("Error: main.yaml:6: nodepool.train: count: ")


def test_dangling_config_symlink_is_an_error_not_a_destroy(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shared = config / "shared"  # a link may lead anywhere inside the directory
    shared.mkdir(parents=True)
    ws = Workspace(config)
    ws.world(pool_world({n: {"flavor": "f", "count": 1, "maxCount": 1} for n in ("a", "b")}))
    ws.write("main.hcl", PROVIDER + 'nodepool "a" {\n  pool = "pool-prod"\n}\n')
    (shared / "b.hcl").write_text('nodepool "b" {\n  pool = "pool-prod"\n}\n')
    (config / "b.hcl").symlink_to(shared / "b.hcl")
    assert ws.np("apply", "--auto-approve").code == 0
    assert sorted(ws.state()["resources"]) == ["nodepool.a", "nodepool.b"]
    (shared / "b.hcl").unlink()  # e.g. a shared checkout that is not there in CI
    run = ws.np("plan")
    assert (run.code, run.stdout) == (1, "")
    assert run.stderr.startswith("Error: b.hcl:")
