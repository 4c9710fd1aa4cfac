"""What np reads out of a policy before rego-cpp does (in-process, no child): the refused
builtins wherever code can hide, rule heads, packages, the input paths a policy can reach, and
the projection of the input onto them."""

from __future__ import annotations

import pytest

from reconciler.policy.inputdoc import build_input, fleet_from_plan, project
from reconciler.policy.lexer import LexError, tokenize
from reconciler.policy.scan import (
    forbidden_calls,
    input_paths,
    package_path,
    rule_heads,
)


def forbidden(source: str) -> list[tuple[int, str]]:
    return [(line, name) for line, name, _why in forbidden_calls(tokenize(source))]


def test_refused_builtins_are_found_with_their_line() -> None:
    source = (
        "package main\n"
        "\n"
        "env := opa.runtime().env\n"
        'r := http.send({"method": "get", "url": "https://x"})\n'
        'ips := net.lookup_ip_addr("example.com")\n'
        'ok := net.cidr_contains("10.0.0.0/8", "10.1.2.3")\n'
        "s := providers.aws.sign_req({}, {}, 0)\n"
    )
    assert forbidden(source) == [
        (3, "opa.runtime"),
        (4, "http.send"),
        (5, "net.lookup_ip_addr"),
        (6, "net.cidr_contains"),
        (7, "providers.aws.sign_req"),
    ]


def test_comments_and_strings_are_not_code() -> None:
    source = (
        "package main\n"
        "# opa.runtime() would leak the environment\n"
        'msg := "do not call opa.runtime() or http.send"\n'
        "raw := `net.lookup_ip_addr(x)`\n"
    )
    assert forbidden(source) == []


def test_code_inside_a_template_string_is_scanned() -> None:
    source = 'package main\n\nx := $"leak: {opa.runtime().env} and {1 + 1}"\n'
    assert forbidden(source) == [(3, "opa.runtime")]


def test_a_call_spread_over_lines_or_in_brackets_is_found() -> None:
    assert forbidden("package main\nx := opa\n  .runtime()\n") == [(2, "opa.runtime")]
    assert forbidden('package main\nx := opa["runtime"]()\n') == [(2, "opa.runtime")]
    assert forbidden("package main\nx := net.anything_new(1)\n") == [(2, "net.anything_new")]


def test_names_that_only_look_alike_are_allowed() -> None:
    source = (
        "package main\n"
        "net := input.network\n"
        "vpc := net.vpc\n"  # a local variable with a field, not a builtin
        "r := input.providers.modelarts.region\n"
        "o := input.opa.runtime\n"  # a field of the input
    )
    assert forbidden(source) == []


def test_lexer_locates_what_it_cannot_read() -> None:
    with pytest.raises(LexError) as caught:
        tokenize('package main\n\nmsg := "never closed\n')
    assert caught.value.line == 3
    with pytest.raises(LexError) as caught:
        tokenize("package main\nx := `raw\n\nstill")
    assert caught.value.line == 2


def test_rule_heads_at_the_top_level_only() -> None:
    source = (
        "package main\n"
        "import rego.v1\n"
        'deny contains msg if { msg := "a" }\n'
        "default warn := false\n"
        "helper if {\n"
        "  deny[_]\n"  # a reference inside a body, not a head
        "}\n"
        'violation contains {"msg": "v"} if true\n'
        "test_one if { true }\n"
    )
    tokens = tokenize(source)
    assert [(h.name, h.token.line) for h in rule_heads(tokens, {"deny", "warn", "violation"})] == [
        ("deny", 3),
        ("warn", 4),
        ("violation", 8),
    ]
    assert [h.name for h in rule_heads(tokens, ["test_*"])] == ["test_one"]


def test_package_paths() -> None:
    assert package_path(tokenize("# c\npackage main\n")) == ["main"]
    assert package_path(tokenize("package np.flavors\n")) == ["np", "flavors"]
    assert package_path(tokenize('package np["team-a"]\n')) == ["np", "team-a"]
    assert package_path(tokenize("x := 1\n")) is None


def test_input_paths_are_the_static_prefix_of_each_reference() -> None:
    source = (
        "package main\n"
        "a := input.resource_changes[_].after\n"
        'b := input["plan"].summary.destroy\n'
        "c := input.workspace\n"
        "d := x.input.fleet\n"  # a field named input, not the document
        '# input.fleet in a comment, "input.fleet" in a string\n'
    )
    assert input_paths(tokenize(source)) == {
        ("resource_changes",),
        ("plan", "summary", "destroy"),
        ("workspace",),
    }


def test_a_bare_or_dynamic_input_reference_reaches_everything() -> None:
    assert () in input_paths(tokenize("package main\nx := input\n"))
    assert () in input_paths(tokenize("package main\nx := input[k]\n"))
    assert () in input_paths(tokenize("package main\nx := walk(input)\n"))
    assert ("plan",) in input_paths(tokenize("package main\nimport input.plan\n"))
    template = input_paths(tokenize('package main\nx := $"{input.fleet}"\n'))
    assert template == {("fleet",)}


PLAN = {
    "format_version": "1",
    "summary": {"add": 1, "change": 0, "destroy": 1, "drift": 0},
    "resource_changes": [
        {
            "address": "nodepool.gpu",
            "pool": "pool-prod",
            "name": "gpu",
            "actions": ["create"],
            "before": None,
            "after": {
                "flavor": "f1",
                "count": 2,
                "maxCount": 4,
                "tags": [{"key": "owner", "value": "ml"}],
                "network": {"vpc": "v", "securityGroups": ["sg"]},
            },
        },
        {
            "address": "nodepool.old",
            "pool": "pool-prod",
            "name": "old",
            "actions": ["delete"],
            "before": {"flavor": "f1", "count": 1},
            "after": None,
        },
    ],
}


def test_fleet_is_every_declared_node_pool_in_configuration_names() -> None:
    assert fleet_from_plan(PLAN) == [
        {
            "address": "nodepool.gpu",
            "provider": "modelarts",
            "pool": "pool-prod",
            "name": "gpu",
            "action": "create",
            "flavor": "f1",
            "count": 2,
            "max_count": 4,
            "tags": {"owner": "ml"},
            "network": {"vpc": "v", "security_groups": ["sg"]},
        }
    ]


def test_the_input_shares_the_plan_and_projects_onto_named_paths() -> None:
    doc = build_input(PLAN, fleet_from_plan(PLAN), "production", {"modelarts": {}})
    assert doc["resource_changes"] is PLAN["resource_changes"]
    assert doc["plan"] is PLAN
    projected = project(doc, {("workspace",), ("plan", "summary")})
    assert projected == {"workspace": "production", "plan": {"summary": PLAN["summary"]}}
    assert project(doc, {("plan", "summary"), ()}) is doc
    assert project(doc, set()) == {}
    assert project(doc, {("no_such_key",)}) == {}
