"""Fuzzing `np validate` through the real CLI: whatever the bytes, np answers exit 0 or 1 with
clean `Error:` lines, never a traceback.

Inputs come from four sources: token soups built from the HCL and YAML grammars (the
characters and keywords that drive the parsers into their corners), expression soups in a
local and in a node pool's fields (operators, functions, for, references), valid
configurations mutated byte by byte, and raw random bytes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import cli

# Whitespace-separated words, then the tokens that contain blanks or are blanks themselves.
HCL_WORDS = """
    { } [ ] ( ) = , : ? => ... " ' ${ %{ $${ var.n var. local.x pool flavor count max_count
    labels tags taints azs extend_params ignore_changes prevent_destroy endpoint secret_key
    type default number string "pool-prod" "sim://world.json" "http://10.0.0.1" "CCE-x"
    "NoSchedule" 0 1 -1 2.5 1e309 99999999999999999999999 true false null <<EOT EOT # // /* */
    \\ lifecycle network local.a local.b each.key each.value each.value.n for_each locals
    merge( concat( join( format( toset( lookup( range( file( timestamp( ) ... && || ! == != <
    >= + - * / % if in for
"""
HCL_TOKENS = [
    *HCL_WORDS.split(),
    'nodepool "train" {', 'provider "modelarts" {', 'variable "n" {', "max(1, 2)", "1 + 2",
    "for k in x : k", "\n", "\n", "\n", " ", "\t", "\r", "\u00e9", "\u200b", "\U0001f600",
    "\x7f", "\ufeff",
]  # fmt: skip
YAML_WORDS = """
    nodepools: provider: variables: train: pool: flavor: count: max_count: labels: tags:
    taints: lifecycle: ignore_changes: endpoint: sk: default: type: { } [ ] , *a
    !!python/object:os.system --- ... | > |- " ' ${var.n} ${var.n ${max(1)} pool-prod
    sim://world.json 0 010 0x1f 1_000 -1 2.5 .inf .nan ~ null yes no on 2024-01-01 NoSchedule
    CCE-x # \\ locals: moved: for_each: ${local.a} ${each.key} ${each.value.n} ${var.n+1}
    ${[for x in var.l : x]} ${merge({},{})} ${file("x")} ${ } }
"""
YAML_TOKENS = [
    *YAML_WORDS.split(),
    "- ", "? ", ": ", "  ", "    ", "\n", "\n", "\n", "\t", "&a ", "<<: ", "!!binary ",
    "!custom ", "!!int ", "!!str ", "%YAML 1.1", "%TAG ! tag:x,2000:", "\u00e9", "\u200b",
    "\U0001f600", "\x85", "\ufeff",
]  # fmt: skip
VALID_HCL = b"""provider "modelarts" {
  endpoint = "sim://world.json"
}

variable "n" {
  type    = number
  default = 2
}

locals {
  zones = { a = 1, b = 2 }
  team  = upper("ml")
}

nodepool "train" {
  pool      = "pool-prod"
  flavor    = "modelarts.vm.gpu.t4u8"
  count     = var.n
  max_count = var.n > 1 ? var.n * 2 : 4
  labels    = { team = lower(local.team), tier = "${var.n}-gpu" }
  taints    = [{ key = "gpu", value = "yes", effect = "NoSchedule" }]
  tags      = { for k, v in local.zones : "z-${k}" => tostring(v) }
  lifecycle {
    ignore_changes = [count, labels["team"]]
  }
}

nodepool "zone" {
  for_each = local.zones
  pool     = "pool-prod"
  name     = "zone-${each.key}"
  count    = each.value
}
"""
VALID_YAML = b"""provider: {endpoint: "sim://world.json"}
variables:
  n: {type: number, default: 2}
locals:
  zones: {a: 1, b: 2}
nodepools:
  train:
    pool: pool-prod
    flavor: modelarts.vm.gpu.t4u8
    count: ${var.n}
    max_count: ${max(var.n * 2, 4)}
    labels: {team: ml, tier: "${var.n}-gpu"}
    taints:
      - {key: gpu, value: "yes", effect: NoSchedule}
    lifecycle: {ignore_changes: [count]}
  zone:
    for_each: ${local.zones}
    pool: pool-prod
    name: zone-${each.key}
    count: ${each.value}
"""


def soup(tokens: list[str]) -> st.SearchStrategy[bytes]:
    pieces = st.lists(st.sampled_from(tokens) | st.text(max_size=4), max_size=60)
    return pieces.map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """`valid` with a few bytes inserted, deleted or overwritten."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        chunk = draw(st.binary(min_size=1, max_size=4) | st.sampled_from([b"{", b"}", b'"', b"\n"]))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        if kind == "insert":
            data[at:at] = chunk
        elif kind == "delete":
            del data[at : at + len(chunk)]
        else:
            data[at : at + len(chunk)] = chunk
    return bytes(data)


EXPRESSION_WORDS = """
    var.n local.a local.b each.key each.value 1 2 0 -1 2.5 "a" "b" "" true false null
    [ ] { } ( ) , : ? => ... + - * / % == != < > <= >= && || ! . [0] ["a"] for in if
    merge concat lookup keys values length contains coalesce format join split lower upper
    replace min max tostring tonumber tobool toset tomap tolist range flatten distinct
    file templatefile timestamp uuid nope "%s" "%d" "${" "}" "$${"
"""
EXPRESSION_TOKENS = [*EXPRESSION_WORDS.split(), " ", "\n"]


@st.composite
def expression_configs(draw: st.DrawFn) -> bytes:
    """An expression soup as a local, a count and a for_each, with things to refer to."""
    soup_ = draw(st.lists(st.sampled_from(EXPRESSION_TOKENS), max_size=30))
    expr = " ".join(soup_) or "1"
    text = (
        'variable "n" {\n  default = 2\n}\n'
        f"locals {{\n  a = {expr}\n  b = [1, 2]\n}}\n"
        f'nodepool "train" {{\n  pool = "pool-prod"\n  count = {expr}\n}}\n'
        f'nodepool "each" {{\n  for_each = {expr}\n  pool = "p"\n  name = "e-${{each.key}}"\n'
        f"  count = {expr}\n}}\n"
    )
    return text.encode("utf-8", "surrogatepass")


hcl_inputs = soup(HCL_TOKENS) | expression_configs() | mutated(VALID_HCL) | st.binary(max_size=200)
yaml_inputs = soup(YAML_TOKENS) | mutated(VALID_YAML) | st.binary(max_size=200)
cases = st.tuples(st.just("main.hcl"), hcl_inputs) | st.tuples(st.just("main.yaml"), yaml_inputs)


def validate(name: str, data: bytes) -> tuple[int, str, str, BaseException | None]:
    with tempfile.TemporaryDirectory() as root:
        Path(root, name).write_bytes(data)
        result = CliRunner().invoke(cli, ["-C", root, "--no-color", "validate"], env={})
    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, result.stderr, crash


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_validate_never_crashes(case: tuple[str, bytes]) -> None:
    code, stdout, stderr, crash = validate(*case)
    assert crash is None, f"{type(crash).__name__}: {crash}"
    assert "Traceback" not in stdout + stderr
    if code == 0:
        assert stdout.startswith("Success! The configuration is valid") and stderr == ""
    else:
        assert code == 1
        assert stdout == ""
        lines = stderr.splitlines()
        assert lines and all(line.startswith("Error: ") for line in lines), stderr


def test_the_seed_configurations_are_valid() -> None:
    """The mutations start from valid files, so the fuzzer explores near the accepted inputs."""
    for name, data in (("main.hcl", VALID_HCL), ("main.yaml", VALID_YAML)):
        code, stdout, stderr, _ = validate(name, data)
        assert (code, stderr) == (0, "")
        assert stdout == "Success! The configuration is valid (3 node pools in 1 file).\n"


@pytest.mark.parametrize("value", ['!!int "x"', '!!int ""', '!!float "x"', '!!bool "x"'])
def test_explicit_yaml_scalar_tag_with_a_bad_value(value: str) -> None:
    data = f"nodepools:\n  train:\n    pool: pool-prod\n    count: {value}\n".encode()
    code, stdout, stderr, crash = validate("main.yaml", data)
    assert crash is None
    assert (code, stdout) == (1, "")
    assert stderr.startswith("Error: main.yaml:4: nodepool.train: count: ")
