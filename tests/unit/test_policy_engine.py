"""Policies evaluated for real: rego-cpp in the sandboxed child process. Results and which file
they came from, what is refused and where, limits, secrets, and what a pull request's own
policies can and cannot do to the operator's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.policy import (
    Limits,
    PolicyError,
    PolicyReport,
    PolicySource,
    build_input,
    evaluate_policies,
    fleet_from_plan,
    policy_sources,
    refusal,
)
from reconciler.policy.sandbox import Job, child_environment, run_workers

PLAN = {
    "format_version": "1",
    "applyable": True,
    "summary": {"add": 1, "change": 1, "destroy": 0, "drift": 0},
    "resource_changes": [
        {
            "address": "nodepool.gpu",
            "pool": "pool-prod",
            "name": "gpu",
            "actions": ["create"],
            "adopted": False,
            "before": None,
            "after": {"flavor": "modelarts.vm.cpu.8u32g", "count": 2, "labels": {"team": "ml"}},
        },
        {
            "address": "nodepool.train",
            "pool": "pool-prod",
            "name": "train",
            "actions": ["update"],
            "adopted": False,
            "before": {"flavor": "modelarts.vm.gpu.t4u8", "count": 2},
            "after": {"flavor": "modelarts.vm.gpu.t4u8", "count": 3},
        },
    ],
    "resource_drift": [],
}
SECRET = "sentinel-XYZ-3f9a"
FAST = Limits(cpu_seconds=2, wall_seconds=6, memory_mb=512)


def doc(workspace: str = "default") -> dict[str, object]:
    return build_input(PLAN, fleet_from_plan(PLAN), workspace, {"modelarts": {"region": "r"}})


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def source(directory: Path, shown: str, origin: str = "operator") -> PolicySource:
    return PolicySource(directory, shown, origin)  # type: ignore[arg-type]


def evaluate(directory: Path, files: dict[str, str], shown: str = "ops") -> PolicyReport:
    return evaluate_policies(doc(), [source(write(directory, files), shown)], FAST)


def error_of(directory: Path, files: dict[str, str], limits: Limits = FAST) -> str:
    with pytest.raises(PolicyError) as caught:
        evaluate_policies(doc(), [source(write(directory, files), "ops")], limits)
    return str(caught.value)


def test_denies_and_warns_say_which_file_they_came_from(tmp_path: Path) -> None:
    report = evaluate(
        tmp_path,
        {
            "flavors.rego": (
                "package main\nimport rego.v1\n\n"
                'deny contains {"msg": concat("", [rc.address, ": not allowed"]), '
                '"address": rc.address} if {\n'
                "  some rc in input.resource_changes\n"
                '  rc.after.flavor == "modelarts.vm.cpu.8u32g"\n'
                "}\n"
            ),
            "labels.rego": (
                "package main\nimport rego.v1\n\n"
                'warn contains concat("", [rc.address, ": no labels"]) if {\n'
                "  some rc in input.resource_changes\n"
                "  not rc.after.labels\n"
                "}\n"
                'deny contains "labels also denies" if input.workspace == "default"\n'
            ),
        },
    )
    assert [r.to_json() for r in report.results] == [
        {
            "policy": "ops/flavors.rego",
            "rule": "deny",
            "level": "deny",
            "msg": "nodepool.gpu: not allowed",
            "address": "nodepool.gpu",
        },
        {
            "policy": "ops/labels.rego",
            "rule": "deny",
            "level": "deny",
            "msg": "labels also denies",
            "address": None,
        },
        {
            "policy": "ops/labels.rego",
            "rule": "warn",
            "level": "warn",
            "msg": "nodepool.train: no labels",
            "address": None,
        },
    ]
    assert (report.denied, report.warned, report.policies_denying) == (2, 1, 2)
    assert refusal(report) == "Plan refused by 2 policies"
    assert [f.name for f in report.files] == ["ops/flavors.rego", "ops/labels.rego"]


def test_violation_is_deny_level_and_np_packages_count(tmp_path: Path) -> None:
    report = evaluate(
        tmp_path,
        {
            "a.rego": 'package np.flavors\nimport rego.v1\nviolation contains "v" if true\n',
            "b.rego": 'package np\nimport rego.v1\nwarn contains "w" if true\n',
            # another package is a library: loaded, never asked for deny
            "lib.rego": 'package lib.util\nimport rego.v1\ndeny contains "ignored" if true\n',
            "c.rego": (
                "package main\nimport rego.v1\nimport data.lib.util\n"
                'deny contains "from lib" if count(util.deny) == 1\n'
            ),
        },
    )
    got = {(r.policy, r.rule, r.level, r.msg) for r in report.results}
    assert got == {
        ("ops/a.rego", "violation", "deny", "v"),
        ("ops/b.rego", "warn", "warn", "w"),
        ("ops/c.rego", "deny", "deny", "from lib"),
    }
    assert refusal(report) == "Plan refused by 2 policies"


def test_rules_that_refer_to_the_whole_deny_set_still_see_every_file(tmp_path: Path) -> None:
    report = evaluate(
        tmp_path,
        {
            "a.rego": 'package main\nimport rego.v1\ndeny contains "a" if true\n',
            "b.rego": 'package main\nimport rego.v1\ndeny contains "b" if true\n',
            "count.rego": (
                "package main\nimport rego.v1\n"
                'warn contains concat("", ["denies: ", format_int(count(deny), 10)]) if true\n'
            ),
        },
    )
    assert ("ops/count.rego", "denies: 2") in {(r.policy, r.msg) for r in report.results}


def test_a_syntax_error_is_located(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        {
            "good.rego": 'package main\nimport rego.v1\ndeny contains "x" if false\n',
            "broken.rego": "package main\nimport rego.v1\n\nallowed := {\n",
        },
    )
    assert message.startswith("ops/broken.rego:4: ")


def test_a_file_without_a_package_is_refused(tmp_path: Path) -> None:
    assert error_of(tmp_path, {"x.rego": "deny := 1\n"}) == (
        "ops/x.rego:1: a policy must start with a package declaration"
    )


def test_refused_builtins_are_named_with_file_and_line(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        {
            "leak.rego": (
                "package main\nimport rego.v1\n# opa.runtime() in a comment is fine\n"
                "deny contains json.marshal(opa.runtime().env) if true\n"
                'warn contains x if { x := http.send({"url": "https://e.example"}) }\n'
            )
        },
    )
    assert message.splitlines() == [
        "ops/leak.rego:4: opa.runtime is refused: it reads the process environment",
        "ops/leak.rego:5: http.send is refused: it sends requests over the network",
    ]


def test_a_runtime_error_fails_closed_and_names_the_file(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        {"div.rego": 'package main\nimport rego.v1\n\ndeny contains "x" if 1 / 0 > 0\n'},
    )
    assert message.startswith("ops/div.rego")
    assert "divide by zero" in message


def test_a_deny_that_is_not_a_set_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, {"old.rego": 'package main\n\ndeny[msg] { msg := "v0 style" }\n'})
    assert message == (
        "ops/old.rego: deny is an object, not a set: write `deny contains msg if { ... }` (Rego v1)"
    )
    message = error_of(tmp_path, {"old.rego": "package main\n\ndeny := 3\n"})
    assert message == "ops/old.rego: deny must be a set of messages, not a number"


def test_a_looping_policy_is_stopped_with_one_clear_error(tmp_path: Path) -> None:
    limits = Limits(cpu_seconds=1, wall_seconds=8, memory_mb=512)
    message = error_of(
        tmp_path,
        {
            "fine.rego": 'package main\nimport rego.v1\nwarn contains "w" if true\n',
            "spin.rego": (
                "package main\nimport rego.v1\n"
                "deny contains x if {\n"
                "  some x in numbers.range(1, 100000)\n"
                "  some y in numbers.range(1, 100000)\n"
                "  x == y + 7\n"
                "}\n"
            ),
        },
        limits,
    )
    assert message.startswith("ops/spin.rego: policy evaluation stopped after 1 s of CPU")


def test_a_policy_building_huge_sets_is_stopped(tmp_path: Path) -> None:
    limits = Limits(cpu_seconds=5, wall_seconds=15, memory_mb=256)
    message = error_of(
        tmp_path,
        {"huge.rego": ('package main\n\ndeny := {"x": count(numbers.range(1, 400000000))}\n')},
        limits,
    )
    assert message.startswith("ops/huge.rego: policy evaluation ")
    assert "out of memory (limit 256 MB" in message or "s of CPU" in message


def test_no_secret_reaches_a_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The static refusal names the call and nothing else; and even a policy that got past it
    (run straight through the worker here) sees an environment without the secret."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", SECRET)
    monkeypatch.setenv("NP_PG_CONN_STR", f"postgresql://u:{SECRET}@db/np")
    message = error_of(
        tmp_path,
        {"leak.rego": 'package main\n\ndeny contains $"{opa.runtime()}" if true\n'},
    )
    assert SECRET not in message
    assert message.startswith("ops/leak.rego:3: opa.runtime is refused")

    request = {
        "modules": [("leak.rego", "package leak\n\nenv := opa.runtime().env\n")],
        "queries": [("leak.rego", "data.leak.env")],
        "input": None,
        "memory_mb": 512,
    }
    (response,) = run_workers([Job(request, lambda _i: "leak.rego")], FAST)
    env = response["answers"][0]["value"]
    assert env == child_environment()
    assert SECRET not in repr(response)
    assert os.environ["HUAWEICLOUD_SDK_SK"] == SECRET  # the parent still has it


def test_print_output_never_reaches_the_answer(tmp_path: Path) -> None:
    report = evaluate(
        tmp_path,
        {"p.rego": 'package main\nimport rego.v1\ndeny contains "d" if print("noise")\n'},
    )
    assert [r.msg for r in report.results] == ["d"]


OPERATOR = {
    "limits.rego": (
        "package main\nimport rego.v1\n\n"
        'allowed_flavors := {"modelarts.vm.gpu.t4u8"}\n'
        "default strict := true\n\n"
        'deny contains {"msg": concat("", [rc.address, ": flavor not allowed"]), '
        '"address": rc.address} if {\n'
        "  strict\n"
        "  some rc in input.resource_changes\n"
        "  not rc.after.flavor in allowed_flavors\n"
        "}\n"
    )
}
OPERATOR_DENY = ("/etc/np/policy/limits.rego", "nodepool.gpu: flavor not allowed")

ATTEMPTS = {
    "redefine a helper": (
        "package main\nimport rego.v1\n"
        'allowed_flavors := {"modelarts.vm.cpu.8u32g", "modelarts.vm.gpu.t4u8"}\n'
    ),
    "a default of its own": "package main\nimport rego.v1\ndefault strict := false\n",
    "turn it off": "package main\nimport rego.v1\nstrict := false\n",
    "an empty deny": "package main\nimport rego.v1\ndeny := set()\n",
    "shadow the rule": (
        'package main\nimport rego.v1\ndeny contains "harmless" if false\n'
        'allowed_flavors contains f if some f in ["modelarts.vm.cpu.8u32g"]\n'
    ),
}


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_a_pull_request_cannot_lift_an_operator_deny(tmp_path: Path, attempt: str) -> None:
    operator = write(tmp_path / "operator", OPERATOR)
    config = tmp_path / "config"
    write(config / "policy", {"override.rego": ATTEMPTS[attempt]})
    sources = [
        PolicySource(operator, "/etc/np/policy", "operator"),
        PolicySource(config / "policy", "policy", "configuration"),
    ]
    report = evaluate_policies(doc(), sources, FAST)
    assert OPERATOR_DENY in {(r.policy, r.msg) for r in report.results}
    assert report.policies_denying >= 1


def test_deleting_the_configuration_policy_directory_changes_nothing(tmp_path: Path) -> None:
    operator = write(tmp_path / "operator", OPERATOR)
    config = tmp_path / "config"
    config.mkdir()
    sources = policy_sources(config, {"NP_POLICY_PATH": str(operator)})
    assert [s.origin for s in sources] == ["operator"]
    report = evaluate_policies(doc(), sources, FAST)
    assert [(r.policy, r.msg) for r in report.results] == [
        (f"{operator}/limits.rego", "nodepool.gpu: flavor not allowed")
    ]


def test_the_configuration_can_add_denies(tmp_path: Path) -> None:
    operator = write(tmp_path / "operator", OPERATOR)
    config = tmp_path / "config"
    write(
        config / "policy",
        {"more.rego": 'package main\nimport rego.v1\ndeny contains "pr" if true\n'},
    )
    sources = policy_sources(config, {}, [operator])
    report = evaluate_policies(doc(), sources, FAST)
    assert [(r.policy, r.msg) for r in report.results] == [
        (f"{operator}/limits.rego", "nodepool.gpu: flavor not allowed"),
        ("policy/more.rego", "pr"),
    ]
    assert [(f.name, f.origin) for f in report.files] == [
        (f"{operator}/limits.rego", "operator"),
        ("policy/more.rego", "configuration"),
    ]


def test_a_broken_configuration_policy_fails_closed(tmp_path: Path) -> None:
    operator = write(tmp_path / "operator", OPERATOR)
    config = tmp_path / "config"
    write(config / "policy", {"bad.rego": "package main\nimport rego.v1\nx := [\n"})
    with pytest.raises(PolicyError, match=r"^policy/bad.rego:3: "):
        evaluate_policies(doc(), policy_sources(config, {}, [operator]), FAST)


def test_a_missing_operator_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"NP_POLICY_PATH: .*: no such policy directory"):
        policy_sources(tmp_path, {"NP_POLICY_PATH": str(tmp_path / "nope")})


def test_symlinks_out_of_a_policy_directory_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.rego"
    outside.write_text('package main\ndeny contains "x" if true\n')
    config = tmp_path / "config"
    (config / "policy").mkdir(parents=True)
    (config / "policy" / "link.rego").symlink_to(outside)
    sources = policy_sources(config, {})
    with pytest.raises(PolicyError) as caught:
        evaluate_policies(doc(), sources, FAST)
    assert str(caught.value) == (
        "policy/link.rego: refused: a symlink that points outside its policy directory"
    )
    (config / "policy" / "link.rego").unlink()
    (config / "policy" / "sub").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(PolicyError, match=r"^policy/sub: refused: a symlink"):
        evaluate_policies(doc(), sources, FAST)


def test_a_symlinked_policy_directory_is_refused(tmp_path: Path) -> None:
    elsewhere = write(tmp_path / "elsewhere", {"a.rego": "package main\n"})
    config = tmp_path / "config"
    config.mkdir()
    (config / "policy").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(PolicyError, match=r"^policy: refused"):
        policy_sources(config, {})


def test_policy_files_are_size_bounded(tmp_path: Path) -> None:
    big = "package main\n" + "# padding\n" * 120_000
    message = error_of(tmp_path, {"big.rego": big})
    assert message == "ops/big.rego: larger than 1 MiB"


def test_only_the_named_input_is_handed_over(tmp_path: Path) -> None:
    """A policy that names input.workspace still decides on it when the plan is large: the
    projection keeps what is named (and a bare `input` keeps everything)."""
    report = evaluate(
        tmp_path,
        {
            "w.rego": "package main\nimport rego.v1\nwarn contains input.workspace if true\n",
            "all.rego": (
                "package main\nimport rego.v1\nwarn contains k if { some k, _ in input }\n"
            ),
        },
    )
    assert {r.msg for r in report.results} == {
        "default",
        "plan",
        "resource_changes",
        "fleet",
        "workspace",
        "providers",
    }


def test_messages_are_cleaned_of_control_characters(tmp_path: Path) -> None:
    report = evaluate(
        tmp_path,
        {"esc.rego": 'package main\nimport rego.v1\ndeny contains "a\\u001b[31mred\\nb" if true\n'},
    )
    assert [r.msg for r in report.results] == ["a\ufffd[31mred b"]


def test_in_one_set_the_same_file_would_lift_it(tmp_path: Path) -> None:
    """The control for the test above: it is the separate evaluation that protects the
    operator's rule, since in one policy set the pull request's file does switch it off."""
    merged = write(tmp_path / "merged", {**OPERATOR, "override.rego": ATTEMPTS["turn it off"]})
    report = evaluate_policies(doc(), [source(merged, "/etc/np/policy")], FAST)
    assert report.results == []
