"""The blocks beside node pools: backend, the provider's workspace, and files that are not np's."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Workspace

from reconciler.config import load_config
from reconciler.config.configuration import Backend
from reconciler.errors import ConfigError, Pos

PG_ENV = "NP_PG_CONN_STR (a libpq URI or key=value string; PG* variables work too)"
OTHER_TOOL = (
    "if this file belongs to another tool, keep np's files in a directory of their own and run "
    "np -C DIR"
)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def problems(root: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(root, files), environ={})
    return str(info.value).splitlines()


S3_HCL = """\
backend "s3" {
  bucket   = "infra-state"
  key      = "modelarts/np.state.json"
  region   = "cn-north-4"
  endpoint = "https://obs.cn-north-4.myhuaweicloud.com"
}
"""
S3_YAML = """\
backend:
  s3:
    bucket: infra-state
    key: modelarts/np.state.json
    region: cn-north-4
    endpoint: https://obs.cn-north-4.myhuaweicloud.com
"""
S3_SETTINGS = {
    "bucket": "infra-state",
    "key": "modelarts/np.state.json",
    "region": "cn-north-4",
    "endpoint": "https://obs.cn-north-4.myhuaweicloud.com",
}


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("main.hcl", S3_HCL, Backend("s3", S3_SETTINGS, Pos("main.hcl", 1))),
        ("main.yaml", S3_YAML, Backend("s3", S3_SETTINGS, Pos("main.yaml", 2))),
        (
            "main.hcl",
            'backend "pg" {\n  schema_name = "np_prod"\n}\n',
            Backend("pg", {"schema_name": "np_prod"}, Pos("main.hcl", 1)),
        ),
        ("main.hcl", 'backend "pg" {}\n', Backend("pg", {}, Pos("main.hcl", 1))),
        ("main.yaml", "backend: {pg: {}}\n", Backend("pg", {}, Pos("main.yaml", 1))),
        ("main.hcl", 'nodepool "a" {\n  pool = "p"\n}\n', None),
    ],
)
def test_backend_block_in_either_language(
    tmp_path: Path, name: str, text: str, expected: Backend | None
) -> None:
    (tmp_path / name).write_text(text)
    assert load_config(tmp_path, environ={}).backend == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'backend "s3" {\n  region = "r"\n}\n',
            [
                "main.hcl:1: backend.s3: bucket: required field is missing",
                "main.hcl:1: backend.s3: key: required field is missing",
            ],
        ),
        (
            'backend "s3" {\n  bukcet = "b"\n  key = "k"\n}\n',
            [
                "main.hcl:1: backend.s3: bucket: required field is missing",
                "main.hcl:2: backend.s3: bukcet: unknown field 'bukcet'; did you mean bucket?",
            ],
        ),
        (
            'backend "pg" {\n  schema_name = "Prod-State"\n}\n',
            [
                "main.hcl:2: backend.pg: schema_name: 'Prod-State' is not a schema name np uses: "
                "lowercase letters, digits and _, starting with a letter or _, at most 63 "
                "characters"
            ],
        ),
        (
            'backend "gcs" {}\n',
            ["main.hcl:1: unknown backend 'gcs'; np offers pg and s3"],
        ),
        (
            "backend {}\n",
            [
                "main.hcl:1: a backend block needs exactly one label: "
                'backend "pg" { ... } or backend "s3" { ... }'
            ],
        ),
        (
            'backend "pg" {}\nbackend "s3" {\n  bucket = "b"\n  key = "k"\n}\n',
            ["main.hcl:2: backend.s3: only one backend block is allowed (first at main.hcl:1)"],
        ),
        (
            'backend "s3" {\n  bucket = "b"\n  key = "k"\n  endpoint = "sim://w.json"\n}\n',
            [
                "main.hcl:4: backend.s3: endpoint: endpoint must be https://HOST or "
                "http://127.0.0.1:PORT"
            ],
        ),
        (
            'backend "s3" {\n  bucket = "b"\n  key = "k"\n  endpoint = "https://u:p@h"\n}\n',
            ["main.hcl:4: backend.s3: endpoint: endpoint must not contain credentials"],
        ),
        (
            'variable "b" {}\nbackend "s3" {\n  bucket = var.b\n  key = "k"\n}\n',
            [
                "main.hcl:3: backend.s3: bucket: only literal values can be written here: np "
                "chooses the backend before it evaluates anything"
            ],
        ),
    ],
)
def test_backend_mistakes(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, {"main.hcl": text}) == expected


def test_two_backends_in_two_files(tmp_path: Path) -> None:
    found = problems(tmp_path, {"a.hcl": 'backend "pg" {}\n', "b.yaml": "backend: {pg: {}}\n"})
    assert found == ["b.yaml:1: backend.pg: only one backend block is allowed (first at a.hcl:1)"]


@pytest.mark.parametrize(
    "text",
    ["backend: {pg: {}, s3: {bucket: b, key: k}}\n", "backend: pg\n", "backend: {}\n"],
)
def test_yaml_backend_takes_exactly_one_kind(tmp_path: Path, text: str) -> None:
    found = problems(tmp_path, {"main.yaml": text})
    assert len(found) == 1
    assert found[0].endswith("backend must be a mapping with one key, pg or s3")


AWS = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"


@pytest.mark.parametrize(
    ("kind", "field", "expected"),
    [
        (
            "pg",
            "password",
            f"credentials must not be written in configuration; set {PG_ENV} instead",
        ),
        (
            "pg",
            "conn_str",
            f"credentials must not be written in configuration; set {PG_ENV} instead",
        ),
        ("pg", "secret", f"credentials must not be written in configuration; set {PG_ENV} instead"),
        (
            "pg",
            "host",
            f"the connection comes from the environment, not the configuration: set {PG_ENV}",
        ),
        (
            "pg",
            "user",
            f"the connection comes from the environment, not the configuration: set {PG_ENV}",
        ),
        (
            "s3",
            "access_key",
            f"credentials must not be written in configuration; set {AWS} instead",
        ),
        (
            "s3",
            "secret_key",
            f"credentials must not be written in configuration; set {AWS} instead",
        ),
        ("s3", "secretAccessKey", f"set {AWS} instead"),
        ("s3", "sk", f"set {AWS} instead"),
        ("s3", "token", f"set AWS_SESSION_TOKEN (with {AWS}) instead"),
        ("s3", "session_token", f"set AWS_SESSION_TOKEN (with {AWS}) instead"),
    ],
)
@pytest.mark.parametrize("language", ["hcl", "yaml"])
def test_secrets_in_a_backend_are_refused_without_echo(
    tmp_path: Path, kind: str, field: str, expected: str, language: str
) -> None:
    required = 'bucket = "b"\n  key = "k"\n' if kind == "s3" else ""
    if language == "hcl":
        text = f'backend "{kind}" {{\n  {field} = "S3cr3tV4lue"\n  {required}}}\n'
        name, line = "main.hcl", 2
    else:
        extra = "{bucket: b, key: k, " if kind == "s3" else "{"
        text = f"backend:\n  {kind}: {extra}{field}: S3cr3tV4lue}}\n"
        name, line = "main.yaml", 2
    found = problems(tmp_path, {name: text})
    assert len(found) == 1
    assert found[0].startswith(f"{name}:{line}: backend.{kind}: {field}: ")
    assert expected in found[0]
    assert "S3cr3tV4lue" not in found[0]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("main.hcl", 'provider "modelarts" {\n  region = "r"\n  workspace_id = "ws-1"\n}\n'),
        ("main.yaml", "provider: {region: r, workspace_id: ws-1}\n"),
    ],
)
def test_provider_workspace_id(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    assert load_config(tmp_path, environ={}).provider.workspace_id == "ws-1"


def test_empty_workspace_id_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, {"main.yaml": 'provider: {workspace_id: ""}\n'})
    assert found == ["main.yaml:1: provider: workspace_id: must not be empty"]


NODEPOOL = 'nodepool "a" {\n  pool = "p"\n}\n'


def test_another_tools_yaml_is_named_with_the_way_out(tmp_path: Path) -> None:
    compose = "version: '3'\nservices:\n  web:\n    image: nginx\n"
    found = problems(tmp_path, {"main.hcl": NODEPOOL, "docker-compose.yml": compose})
    assert found == [
        "docker-compose.yml:1: not an np configuration file: it has top-level key 'version', "
        "np's are provider, providers, backend, variables, locals, nodepools and moved; "
        f"{OTHER_TOOL}"
    ]


def test_another_tools_hcl_is_named_with_the_way_out(tmp_path: Path) -> None:
    packer = 'source "amazon-ebs" "x" {\n  region = "r"\n}\nbuild {\n  sources = []\n}\n'
    found = problems(tmp_path, {"main.hcl": NODEPOOL, "image.pkr.hcl": packer})
    assert found == [
        "image.pkr.hcl:1: not an np configuration file: it has block type 'source', np's are "
        f"provider, backend, variable, locals, nodepool and moved; {OTHER_TOOL}"
    ]


def test_a_near_miss_is_a_typo_not_another_tool(tmp_path: Path) -> None:
    found = problems(tmp_path, {"main.yaml": "nodepool:\n  a: {pool: p}\n"})
    assert found == ["main.yaml:1: unknown top-level key 'nodepool'; did you mean nodepools?"]


def test_a_stray_key_in_an_np_file_mentions_other_tools(tmp_path: Path) -> None:
    found = problems(tmp_path, {"main.yaml": "nodepools:\n  a: {pool: p}\nstages: [x]\n"})
    assert found == [f"main.yaml:3: unknown top-level key 'stages'; {OTHER_TOOL}"]


NAME_RULE = (
    "2-50 lowercase letters, digits and '-', starting with a letter, not ending with '-' or "
    "'-default'"
)


@pytest.mark.parametrize(
    ("label", "fix"),
    [
        ("cpu_batch", 'add name = "cpu-batch"'),
        ("Train", 'add name = "train"'),
        ("GPU_v100__x8", 'add name = "gpu-v100-x8"'),
        ("_9lives", 'add name = "lives"'),
        ("x", "set name to a valid name"),
        ("pool-default", "set name to a valid name"),
        ("a" * 51, f'add name = "{"a" * 50}"'),
    ],
)
def test_validate_applies_the_new_name_rule_to_labels_used_as_names(
    ws: Workspace, label: str, fix: str
) -> None:
    ws.write("main.hcl", f'nodepool "{label}" {{\n  pool = "p"\n}}\n')
    run = ws.np("validate")
    assert (run.code, run.stdout) == (1, "")
    assert run.stderr == (
        f'Error: main.hcl:1: nodepool.{label}: "{label}" is not a valid name for a new node pool: '
        f"{NAME_RULE}; the block label is the name when name is not set: {fix} "
        f'(or name = "{label}" for an existing node pool of that name)\n'
    )


def test_an_explicit_name_is_not_held_to_the_rule(ws: Workspace) -> None:
    """An existing node pool may have another name (default node pools often do)."""
    ws.write(
        "main.yaml",
        "nodepools:\n  cpu_batch: {pool: p, name: cpu-batch}\n"
        "  default: {pool: p, name: modelarts.vm.2u4g.dcc-Default}\n",
    )
    assert ws.np("validate").code == 0


def test_yaml_labels_are_held_to_the_rule_too(ws: Workspace) -> None:
    ws.write("main.yaml", "nodepools:\n  cpu_batch: {pool: p}\n")
    run = ws.np("validate")
    assert run.code == 1
    assert run.stderr.startswith('Error: main.yaml:2: nodepool.cpu_batch: "cpu_batch" is not')


def test_plan_loads_labels_that_name_existing_node_pools(tmp_path: Path) -> None:
    """Only validate applies the rule to every label: plan knows what exists, and checks the
    names of the node pools it creates."""
    (tmp_path / "main.hcl").write_text('nodepool "a" {\n  pool = "p"\n}\n')
    assert load_config(tmp_path, environ={}).nodepools[0].name == "a"
