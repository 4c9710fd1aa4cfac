"""The CI recipes' jobs, run for real: each job's shell from examples/ci, with np against the
simulator and, for GitLab, a stand-in GitLab API on loopback. What a user's pipeline would do:
the saved plan is where the artifact upload looks for it, the plan reaches the merge request,
apply applies exactly the reviewed plan, drift becomes failed tests."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_gitlab import FakeGitLab
from recipes import (
    GITHUB,
    GITLAB,
    github_action_inputs,
    github_step,
    gitlab_env,
    gitlab_job,
    gitlab_script,
    load,
    shell,
    stub_pip,
)
from support import PROVIDER, pool_world

CONFIG = (
    PROVIDER
    + """
nodepool "train" {
  pool   = "pool-prod"
  count  = 3
  labels = { team = "ml" }
}
"""
)
LIVE = {
    "train": {"flavor": "modelarts.vm.cpu.8u", "count": 2, "maxCount": 2, "labels": {"team": "ml"}}
}
TOKEN = "glpat-sentinel-0123456789"
BOT, HUMAN = 900, 5
HEAD = "a" * 40
MERGED = "b" * 40
PLAN_JOB = 555


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A configuration repository's checkout: np's files in infra/."""
    root = tmp_path / "project"
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "main.hcl").write_text(CONFIG)
    (root / "infra" / "world.json").write_text(json.dumps(pool_world(LIVE)))
    return root


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    fake = FakeGitLab(TOKEN, BOT, "/projects/42/merge_requests/7/notes")
    with fake.serving():
        yield fake


def live(project: Path) -> dict[str, Any]:
    world = json.loads((project / "infra" / "world.json").read_text())
    spec: dict[str, Any] = world["pools"]["pool-prod"]["nodepools"]["train"]
    return spec


def gitlab_run(
    job: str, project: Path, gitlab: FakeGitLab, source: str, script: str | None = None
) -> tuple[int, str, str]:
    """One job of the GitLab recipe (or, with `script`, its before_script and then that)."""
    doc = load(GITLAB)
    ci = {
        "CI_PROJECT_DIR": str(project),
        "CI_API_V4_URL": gitlab.url,
        "CI_PROJECT_ID": "42",
        "CI_PIPELINE_SOURCE": source,
        "CI_DEFAULT_BRANCH": "main",
        "CI_COMMIT_SHA": HEAD if source == "merge_request_event" else MERGED,
        "NP_GITLAB_TOKEN": TOKEN,
        "NP_PLAN_AK": "plan-ak",
        "NP_PLAN_SK": "plan-sk",
        "NP_APPLY_AK": "apply-ak",
        "NP_APPLY_SK": "apply-sk",
    }
    if source == "merge_request_event":
        ci["CI_MERGE_REQUEST_IID"] = "7"
    else:
        ci["CI_COMMIT_BRANCH"] = "main"
    if script is None:
        script = gitlab_script(doc, job)
    else:
        script = "\n".join([*gitlab_job(doc, job)["before_script"], script])
    return shell(script, project, gitlab_env(doc, job, ci), stub_pip(project.parent / "stubs"))


def test_gitlab_plan_job_posts_the_plan_and_keeps_the_saved_plan(
    project: Path, gitlab: FakeGitLab
) -> None:
    stale = gitlab.note(BOT, "<!-- np plan: part 1 of 1 -->\nan earlier plan")
    kept = [
        gitlab.note(HUMAN, "<!-- np plan: part 1 of 1 -->\nquoted by a person"),
        gitlab.note(BOT, "a note of the bot that is no plan"),
        gitlab.note(HUMAN, "LGTM"),
    ]
    stale_on_page_3 = gitlab.note(BOT, "<!-- np plan: part 1 of 1 -->\nanother earlier plan")
    code, out, err = gitlab_run("np-plan", project, gitlab, "merge_request_event")
    assert code == 0, err
    for path in gitlab_job(load(GITLAB), "np-plan")["artifacts"]["paths"]:
        assert (project / path).is_file(), f"the artifact {path} is not where GitLab looks"
    markdown = (project / "plan.md").read_text()
    assert markdown.startswith("<!-- np plan: part 1 of 1 -->")
    assert "nodepool.train" in markdown
    posted = [r.body["body"] for r in gitlab.requests if r.method == "POST"]
    assert posted == [markdown]
    deleted = {r.path.rsplit("/", 1)[1] for r in gitlab.requests if r.method == "DELETE"}
    assert deleted == {str(stale), str(stale_on_page_3)}
    assert set(kept) < set(gitlab.notes)
    assert TOKEN not in out + err
    assert live(project)["count"] == 2  # a plan changes nothing


def test_gitlab_plan_job_posts_a_long_plan_as_one_note_per_part(
    project: Path, gitlab: FakeGitLab
) -> None:
    parts = ["<!-- np plan: part 1 of 2 -->\nfirst\n", "<!-- np plan: part 2 of 2 -->\nsecond\n"]
    (project / "plan.md").write_text("".join(parts))
    code, _, err = gitlab_run(
        "np-plan",
        project,
        gitlab,
        "merge_request_event",
        'python3 "$NP_GITLAB_API" post-plan plan.md',
    )
    assert code == 0, err
    assert [r.body["body"] for r in gitlab.requests if r.method == "POST"] == parts


def review(project: Path, gitlab: FakeGitLab) -> None:
    """The merge request's pipeline ran np-plan; it was merged as MERGED. Its plan.bin is the
    artifact of job PLAN_JOB; newer failed pipelines and other commits' plans are decoys."""
    code, _, err = gitlab_run("np-plan", project, gitlab, "merge_request_event")
    assert code == 0, err
    reviewed = (project / "plan.bin").read_bytes()
    for name in ("plan.bin", "plan.md"):
        (project / name).unlink()  # the apply job starts from a fresh checkout
    gitlab.lists = {
        f"/projects/42/repository/commits/{MERGED}/merge_requests": [
            {"iid": 3, "state": "closed", "sha": "c" * 40},
            {"iid": 7, "state": "merged", "sha": HEAD},
        ],
        "/projects/42/merge_requests/7/pipelines": [
            {"id": 103, "sha": HEAD, "status": "failed"},
            {"id": 102, "sha": "d" * 40, "status": "success"},
            {"id": 101, "sha": HEAD, "status": "success"},
            {"id": 100, "sha": HEAD, "status": "success"},
        ],
        "/projects/42/pipelines/101/jobs": [
            {"id": 554, "name": "lint", "status": "success"},
            {"id": PLAN_JOB, "name": "np-plan", "status": "success"},
        ],
    }
    gitlab.files = {f"/projects/42/jobs/{PLAN_JOB}/artifacts/plan.bin": reviewed}
    for decoy in (550, 551, 552):  # any other job's plan.bin is not a plan
        gitlab.files[f"/projects/42/jobs/{decoy}/artifacts/plan.bin"] = b"{}"


def test_gitlab_apply_job_applies_the_plan_reviewed_on_the_merge_request(
    project: Path, gitlab: FakeGitLab
) -> None:
    review(project, gitlab)
    code, out, err = gitlab_run("np-apply", project, gitlab, "push")
    assert code == 0, err
    assert "the plan reviewed on merge request !7" in out
    fetched = [r.path for r in gitlab.requests if "/artifacts/" in r.path]
    assert fetched == [f"/projects/42/jobs/{PLAN_JOB}/artifacts/plan.bin"]
    assert live(project)["count"] == 3
    assert "Apply complete" in out


def test_gitlab_apply_job_refuses_a_stale_reviewed_plan(project: Path, gitlab: FakeGitLab) -> None:
    review(project, gitlab)
    world = json.loads((project / "infra" / "world.json").read_text())
    world["pools"]["pool-prod"]["nodepools"]["train"]["labels"] = {"team": "ai"}
    (project / "infra" / "world.json").write_text(json.dumps(world))  # changed in the console
    code, _, err = gitlab_run("np-apply", project, gitlab, "push")
    assert code == 1
    assert "the saved plan is out of date" in err
    assert live(project)["count"] == 2


def test_gitlab_apply_job_applies_nothing_without_a_merge_request(
    project: Path, gitlab: FakeGitLab
) -> None:
    gitlab.lists = {f"/projects/42/repository/commits/{MERGED}/merge_requests": []}
    code, out, err = gitlab_run("np-apply", project, gitlab, "push")
    assert code == 1
    assert f"{MERGED} did not come from a merge request" in out
    assert f"no reviewed plan for {MERGED}" in err
    assert live(project)["count"] == 2


def test_gitlab_pipeline_run_by_hand_plans_and_applies(project: Path, gitlab: FakeGitLab) -> None:
    code, _, err = gitlab_run("np-apply", project, gitlab, "web")
    assert code == 0, err
    assert live(project)["count"] == 3
    assert gitlab.requests == []


def test_gitlab_drift_job_makes_each_drifted_node_pool_a_failed_test(
    project: Path, gitlab: FakeGitLab
) -> None:
    assert gitlab_run("np-apply", project, gitlab, "web")[0] == 0
    report = project / gitlab_job(load(GITLAB), "np-drift")["artifacts"]["reports"]["junit"]
    code, _, err = gitlab_run("np-drift", project, gitlab, "schedule")
    assert code == 0, err
    assert ET.parse(report).getroot().findall(".//failure") == []
    world = json.loads((project / "infra" / "world.json").read_text())
    world["pools"]["pool-prod"]["nodepools"]["train"]["labels"] = {"team": "ai"}
    (project / "infra" / "world.json").write_text(json.dumps(world))
    code, out, _ = gitlab_run("np-drift", project, gitlab, "schedule")
    assert code == 2  # the job fails: someone changed a node pool outside np
    [failure] = ET.parse(report).getroot().findall(".//failure")
    assert "labels.team" in ET.tostring(failure, encoding="unicode")
    assert "nodepool.train" in out  # readable in the job log too


def github_run(
    job: str, step: str, project: Path, event: str, files: dict[str, Path]
) -> tuple[int, str, str]:
    doc = load(GITHUB)
    env = {
        "NP_DIR": doc["env"]["NP_DIR"],
        "GITHUB_WORKSPACE": str(project),
        "GITHUB_EVENT_NAME": event,
        "GITHUB_SHA": MERGED,
        "RUNNER_TEMP": str(files["temp"]),
        "GITHUB_ENV": str(files["env"]),
        "GITHUB_STEP_SUMMARY": str(files["summary"]),
        "NP_PG_CA": "-----BEGIN CERTIFICATE-----",
    }
    script = github_step(doc, job, step)
    return shell(script, project, env, stub_pip(project.parent / "stubs"))


@pytest.fixture
def runner(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "runner").mkdir()
    return {
        "temp": tmp_path / "runner",
        "env": tmp_path / "runner" / "github_env",
        "summary": tmp_path / "runner" / "step_summary.md",
    }


def test_github_plan_then_apply_of_the_reviewed_plan(
    project: Path, runner: dict[str, Path]
) -> None:
    code, _, err = github_run("plan", "Install np", project, "pull_request", runner)
    assert code == 0, err
    ca = runner["temp"] / "np-pg-ca.pem"
    assert runner["env"].read_text() == f"PGSSLROOTCERT={ca}\n"
    assert ca.read_text() == "-----BEGIN CERTIFICATE-----\n"
    code, _, err = github_run("plan", "np plan", project, "pull_request", runner)
    assert code == 0, err
    uploaded = github_action_inputs(load(GITHUB), "plan", "actions/upload-artifact")["path"].split()
    for path in uploaded:
        assert (project / path).is_file(), f"upload-artifact finds no {path}"
    (project / "reviewed").mkdir()  # what the apply job's gh run download makes of the artifact
    for path in uploaded:
        (project / path).rename(project / "reviewed" / path)
    assert live(project)["count"] == 2
    code, _, err = github_run("apply", "np apply", project, "push", runner)
    assert code == 0, err
    assert live(project)["count"] == 3


def test_github_push_without_a_reviewed_plan_applies_nothing(
    project: Path, runner: dict[str, Path]
) -> None:
    code, out, _ = github_run("apply", "np apply", project, "push", runner)
    assert code == 1
    assert f"::error::no reviewed plan for {MERGED}" in out
    assert live(project)["count"] == 2


def test_github_run_by_hand_plans_and_applies(project: Path, runner: dict[str, Path]) -> None:
    code, _, err = github_run("apply", "np apply", project, "workflow_dispatch", runner)
    assert code == 0, err
    assert live(project)["count"] == 3


def test_github_drift_step_writes_the_report_and_the_summary(
    project: Path, runner: dict[str, Path]
) -> None:
    assert github_run("apply", "np apply", project, "workflow_dispatch", runner)[0] == 0
    world = json.loads((project / "infra" / "world.json").read_text())
    world["pools"]["pool-prod"]["nodepools"]["train"]["labels"] = {"team": "ai"}
    (project / "infra" / "world.json").write_text(json.dumps(world))
    code, _, err = github_run("drift", "np drift", project, "schedule", runner)
    assert code == 0, err  # drift is the test reporter's failure, not this step's
    report = github_action_inputs(load(GITHUB), "drift", "dorny/test-reporter")["path"]
    [failure] = ET.parse(project / report).getroot().findall(".//failure")
    assert "labels.team" in ET.tostring(failure, encoding="unicode")
    assert "nodepool.train" in runner["summary"].read_text()
