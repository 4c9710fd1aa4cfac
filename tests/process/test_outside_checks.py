"""The recipes and examples as the outside tools see them: GitHub's and GitLab's own schemas
(check-jsonschema's vendored copies), actionlint with shellcheck for the workflow's scripts,
shellcheck for the GitLab jobs', and np's JSON Schema (the one editors use) for every example
configuration. Each check is also shown a broken copy, so that it is known to look."""

from __future__ import annotations

from pathlib import Path

import pytest
from outside import ROOT, run, tool
from recipes import GITHUB, GITLAB, gitlab_script, load

SCHEMA = ROOT / "schema" / "np-config.schema.json"
CI = ROOT / "examples" / "ci"


def example_configurations() -> list[Path]:
    """Every YAML file under examples/ that is not a CI recipe is an np configuration."""
    found = [
        path
        for suffix in ("*.yaml", "*.yml")
        for path in (ROOT / "examples").rglob(suffix)
        if CI not in path.parents
    ]
    return sorted(found)


def check_jsonschema(*args: str, cwd: Path = ROOT) -> tuple[int, str]:
    done = run([tool("check-jsonschema"), *args], cwd)
    return done.code, done.output


@pytest.mark.parametrize(
    ("schema", "recipe"),
    [("vendor.github-workflows", GITHUB), ("vendor.gitlab-ci", GITLAB)],
)
def test_recipes_match_their_ci_systems_schema(schema: str, recipe: Path) -> None:
    code, output = check_jsonschema("--builtin-schema", schema, str(recipe))
    assert (code, output.strip()) == (0, "ok -- validation done")


@pytest.mark.parametrize(
    ("schema", "recipe", "old", "new"),
    [
        ("vendor.github-workflows", GITHUB, "runs-on:", "run-on:"),
        ("vendor.gitlab-ci", GITLAB, "when: always", "when: sometimes"),
    ],
)
def test_the_ci_schemas_catch_a_mistake(
    tmp_path: Path, schema: str, recipe: Path, old: str, new: str
) -> None:
    broken = tmp_path / recipe.name
    broken.write_text(recipe.read_text().replace(old, new, 1))
    code, output = check_jsonschema("--builtin-schema", schema, str(broken))
    assert code == 1
    assert "Schema validation errors were encountered" in output


def test_every_example_configuration_matches_the_editors_schema() -> None:
    examples = example_configurations()
    assert ROOT / "examples" / "quickstart" / "yaml" / "main.yaml" in examples
    code, output = check_jsonschema("--schemafile", str(SCHEMA), *map(str, examples))
    assert (code, output.strip()) == (0, "ok -- validation done")


def test_the_editors_schema_catches_a_mistake(tmp_path: Path) -> None:
    quickstart = ROOT / "examples" / "quickstart" / "yaml" / "main.yaml"
    broken = tmp_path / "main.yaml"
    broken.write_text(quickstart.read_text().replace("count: 1", "count: one", 1))
    code, output = check_jsonschema("--schemafile", str(SCHEMA), str(broken))
    assert code == 1
    assert "$.nodepools.infer.count: 'one' is not of type 'integer'" in output


def test_actionlint_finds_nothing_in_the_github_workflow() -> None:
    done = run([tool("actionlint"), str(GITHUB)], ROOT)
    assert (done.code, done.output) == (0, "")


def test_actionlint_runs_shellcheck_on_the_workflows_scripts(tmp_path: Path) -> None:
    broken = tmp_path / GITHUB.name
    text = GITHUB.read_text()
    broken.write_text(text.replace('pip install "$NP_PACKAGE"', "pip install $NP_PACKAGE", 1))
    done = run([tool("actionlint"), str(broken)], tmp_path)
    assert done.code == 1
    assert "shellcheck reported issue in this script: SC2086" in done.output


def shellcheck(script: str, directory: Path) -> tuple[int, str]:
    path = directory / "job.sh"
    path.write_text(script)
    done = run([tool("shellcheck"), "--shell=bash", str(path)], directory)
    return done.code, done.output


@pytest.mark.parametrize("job", ["np-plan", "np-apply", "np-drift"])
def test_shellcheck_finds_nothing_in_the_gitlab_jobs(tmp_path: Path, job: str) -> None:
    assert shellcheck(gitlab_script(load(GITLAB), job), tmp_path) == (0, "")


def test_shellcheck_catches_a_mistake_in_a_gitlab_job(tmp_path: Path) -> None:
    script = gitlab_script(load(GITLAB), "np-plan").replace('"$NP_DIR"', "$NP_DIR", 1)
    code, output = shellcheck(script, tmp_path)
    assert code == 1
    assert "SC2086" in output
