"""lifecycle.ignore_changes as Terraform users write it: bare names, strings, all, map keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.config.configuration import Lifecycle
from reconciler.config.schema import MANAGED_FIELDS
from reconciler.errors import ConfigError


def lifecycle_of(tmp_path: Path, name: str, text: str) -> Lifecycle:
    (tmp_path / name).write_text(text)
    return load_config(tmp_path, environ={}).nodepools[0].lifecycle


def hcl(ignore: str) -> str:
    return (
        f'nodepool "a" {{\n  pool = "p"\n  lifecycle {{\n    ignore_changes = {ignore}\n  }}\n}}\n'
    )


def yml(ignore: str) -> str:
    return f"nodepools:\n  a:\n    pool: p\n    lifecycle:\n      ignore_changes: {ignore}\n"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("main.hcl", hcl("[count]"), Lifecycle(("count",))),
        ("main.hcl", hcl('["count", max_count]'), Lifecycle(("count", "max_count"))),
        ("main.hcl", hcl("[count, count]"), Lifecycle(("count",))),
        (
            "main.hcl",
            hcl('[labels["team"], extend_params["x"], tags.owner, labels["app.io/name"]]'),
            Lifecycle(
                (),
                ignore_keys=(
                    ("labels", "team"),
                    ("extend_params", "x"),
                    ("tags", "owner"),
                    ("labels", "app.io/name"),
                ),
            ),
        ),
        (
            "main.hcl",
            hcl('[labels, "labels[\\"team\\"]", "tags.a.b"]'),
            Lifecycle(("labels",), ignore_keys=(("labels", "team"), ("tags", "a.b"))),
        ),
        ("main.hcl", hcl("all"), Lifecycle(MANAGED_FIELDS, ignore_all=True)),
        ("main.yaml", yml("all"), Lifecycle(MANAGED_FIELDS, ignore_all=True)),
        ("main.yaml", yml("[count]"), Lifecycle(("count",))),
        (
            "main.yaml",
            yml("[count, 'labels[\"team\"]', labels.tier]"),
            Lifecycle(("count",), ignore_keys=(("labels", "team"), ("labels", "tier"))),
        ),
        ("main.hcl", hcl("[]"), Lifecycle()),
    ],
)
def test_ignore_changes_forms(tmp_path: Path, name: str, text: str, expected: Lifecycle) -> None:
    assert lifecycle_of(tmp_path, name, text) == expected


def test_the_attribute_form_and_prevent_destroy_still_work(tmp_path: Path) -> None:
    text = 'nodepool "a" {\n  pool = "p"\n  lifecycle = { ignore_changes = [count], '
    text += "prevent_destroy = true }\n}\n"
    assert lifecycle_of(tmp_path, "main.hcl", text) == Lifecycle(("count",), True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            hcl("[cout]"),
            "main.hcl:4: nodepool.a: lifecycle.ignore_changes[0]: 'cout' is not a field np "
            "manages; did you mean count?",
        ),
        (
            hcl('[count["x"]]'),
            "main.hcl:4: nodepool.a: lifecycle.ignore_changes[0]: count is not a map: only "
            "single keys of labels, tags, extend_params can be ignored",
        ),
        (
            hcl("[all]"),
            "main.hcl:4: nodepool.a: lifecycle.ignore_changes[0]: all stands alone: write "
            "ignore_changes = all, not a list holding it",
        ),
        (
            hcl('"count"'),
            "main.hcl:4: nodepool.a: lifecycle.ignore_changes: expected a list of field names "
            '(count) or single map keys (labels["team"]), or all',
        ),
        (
            hcl("[var.x, labels[0]]"),
            "main.hcl:4: nodepool.a: lifecycle.ignore_changes[0]: 'var' is not a field np manages",
        ),
        (
            hcl('[upper("count")]'),
            "main.hcl:4: nodepool.a: lifecycle.ignore_changes[0]: ignore_changes lists field "
            'names (count) or single map keys (labels["team"])',
        ),
    ],
)
def test_ignore_changes_mistakes(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "main.hcl").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value).splitlines()[0] == expected


def test_ignore_changes_written_twice_is_refused_not_half_read(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(hcl("[count]\n    ignore_changes = [labels]"))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert str(info.value).splitlines() == [
        "main.hcl:5: nodepool.a: lifecycle.ignore_changes: set more than once (first at main.hcl:4)"
    ]
