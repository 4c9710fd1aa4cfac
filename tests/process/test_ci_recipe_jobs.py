"""The CI recipes' jobs, run for real: each job's shell from examples/ci in a fresh checkout of
a configuration repository, as CI runs it, with the state in PostgreSQL (the recipes' `pg`
backend), the cloud a simulator world outside every checkout (NP_ENDPOINT, the operator's
setting) and, for GitLab, a stand-in GitLab API on loopback. What a user's pipeline would do:
the saved plan is where the artifact upload looks for it, the plan reaches the merge request,
apply applies exactly the reviewed plan, drift becomes failed tests."""

from __future__ import annotations

import json
import secrets
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
from support import pool_world

CONFIG = """\
provider "modelarts" {
  region = "cn-north-4"
}

backend "pg" {
  schema_name = "%s"
}

nodepool "train" {
  pool   = "pool-prod"
  count  = 3
  labels = { team = "ml" }
}
"""
LIVE = {
    "train": {"flavor": "modelarts.vm.cpu.8u", "count": 2, "maxCount": 2, "labels": {"team": "ml"}}
}
TOKEN = "glpat-sentinel-0123456789"
BOT, HUMAN = 900, 5
HEAD = "a" * 40
MERGED = "b" * 40
PLAN_JOB = 555


class Repository:
    """A configuration repository (np's files in infra/), the cloud it manages and the
    variables an operator sets: every job gets a checkout of its own, nothing carries over
    between jobs but the state database, the cloud and artifacts."""

    def __init__(self, root: Path, pg_url: str) -> None:
        self.root = root
        self.config = CONFIG % f"t_{secrets.token_hex(6)}"
        self.world = root / "cloud" / "world.json"
        self.world.parent.mkdir(parents=True)
        self.world.write_text(json.dumps(pool_world(LIVE)))
        self.checkouts = 0
        self.variables = {
            "NP_ENDPOINT": f"sim://{self.world}",
            "NP_PG_CONN_STR": pg_url,
            "PGSSLMODE": "disable",  # the test's PostgreSQL has no TLS; CI/CD variables win
        }

    def checkout(self) -> Path:
        self.checkouts += 1
        project = self.root / f"checkout-{self.checkouts}"
        (project / "infra").mkdir(parents=True)
        (project / "infra" / "main.hcl").write_text(self.config)
        return project

    def live(self) -> dict[str, Any]:
        spec: dict[str, Any] = json.loads(self.world.read_text())["pools"]["pool-prod"]
        return dict(spec["nodepools"]["train"])

    def console_edit(self, **fields: object) -> None:
        """A change made outside np, in the console."""
        world = json.loads(self.world.read_text())
        world["pools"]["pool-prod"]["nodepools"]["train"].update(fields)
        self.world.write_text(json.dumps(world))

    def local_states(self) -> list[Path]:
        """State files in checkouts: there must be none, the state lives in PostgreSQL."""
        return sorted(self.root.glob("checkout-*/infra/state/*"))


@pytest.fixture
def repo(tmp_path: Path, pg_url: str) -> Repository:
    return Repository(tmp_path, pg_url)


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    fake = FakeGitLab(TOKEN, BOT, "/projects/42/merge_requests/7/notes")
    with fake.serving():
        yield fake


def gitlab_run(
    job: str,
    project: Path,
    repo: Repository,
    gitlab: FakeGitLab,
    source: str,
    script: str | None = None,
) -> tuple[int, str, str]:
    """One job of the GitLab recipe (or, with `script`, its before_script and then that)."""
    doc = load(GITLAB)
    ci = repo.variables | {
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
    return shell(script, project, gitlab_env(doc, job, ci), stub_pip(repo.root / "stubs"))


def test_gitlab_plan_job_posts_the_plan_and_keeps_the_saved_plan(
    repo: Repository, gitlab: FakeGitLab
) -> None:
    stale = gitlab.note(BOT, "<!-- np plan: part 1 of 1 -->\nan earlier plan")
    kept = [
        gitlab.note(HUMAN, "<!-- np plan: part 1 of 1 -->\nquoted by a person"),
        gitlab.note(BOT, "a note of the bot that is no plan"),
        gitlab.note(HUMAN, "LGTM"),
    ]
    stale_on_page_3 = gitlab.note(BOT, "<!-- np plan: part 1 of 1 -->\nanother earlier plan")
    project = repo.checkout()
    code, out, err = gitlab_run("np-plan", project, repo, gitlab, "merge_request_event")
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
    assert repo.live()["count"] == 2  # a plan changes nothing


def test_gitlab_plan_job_posts_a_long_plan_as_one_note_per_part(
    repo: Repository, gitlab: FakeGitLab
) -> None:
    parts = ["<!-- np plan: part 1 of 2 -->\nfirst\n", "<!-- np plan: part 2 of 2 -->\nsecond\n"]
    project = repo.checkout()
    (project / "plan.md").write_text("".join(parts))
    post = 'python3 "$NP_GITLAB_API" post-plan plan.md'
    code, _, err = gitlab_run("np-plan", project, repo, gitlab, "merge_request_event", post)
    assert code == 0, err
    assert [r.body["body"] for r in gitlab.requests if r.method == "POST"] == parts


def review(repo: Repository, gitlab: FakeGitLab) -> None:
    """The merge request's pipeline ran np-plan; it was merged as MERGED. Its plan.bin is the
    artifact of job PLAN_JOB; newer failed pipelines and other commits' plans are decoys."""
    project = repo.checkout()
    code, _, err = gitlab_run("np-plan", project, repo, gitlab, "merge_request_event")
    assert code == 0, err
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
    artifact = f"/projects/42/jobs/{PLAN_JOB}/artifacts/plan.bin"
    gitlab.files = {artifact: (project / "plan.bin").read_bytes()}
    for decoy in (550, 551, 552):  # any other job's plan.bin is not a plan
        gitlab.files[f"/projects/42/jobs/{decoy}/artifacts/plan.bin"] = b"{}"


def test_gitlab_apply_job_applies_the_plan_reviewed_on_the_merge_request(
    repo: Repository, gitlab: FakeGitLab
) -> None:
    review(repo, gitlab)
    code, out, err = gitlab_run("np-apply", repo.checkout(), repo, gitlab, "push")
    assert code == 0, err
    assert "the plan reviewed on merge request !7" in out
    fetched = [r.path for r in gitlab.requests if "/artifacts/" in r.path]
    assert fetched == [f"/projects/42/jobs/{PLAN_JOB}/artifacts/plan.bin"]
    assert repo.live()["count"] == 3
    assert "Apply complete" in out
    assert repo.local_states() == []


def test_gitlab_apply_job_refuses_a_stale_reviewed_plan(
    repo: Repository, gitlab: FakeGitLab
) -> None:
    review(repo, gitlab)
    repo.console_edit(labels={"team": "ai"})
    code, _, err = gitlab_run("np-apply", repo.checkout(), repo, gitlab, "push")
    assert code == 1
    assert "the saved plan is out of date" in err
    assert repo.live()["count"] == 2


def test_gitlab_apply_job_applies_nothing_without_a_merge_request(
    repo: Repository, gitlab: FakeGitLab
) -> None:
    gitlab.lists = {f"/projects/42/repository/commits/{MERGED}/merge_requests": []}
    code, out, err = gitlab_run("np-apply", repo.checkout(), repo, gitlab, "push")
    assert code == 1
    assert f"{MERGED} did not come from a merge request" in out
    assert f"no reviewed plan for {MERGED}" in err
    assert repo.live()["count"] == 2


def test_gitlab_pipeline_run_by_hand_plans_and_applies(
    repo: Repository, gitlab: FakeGitLab
) -> None:
    code, _, err = gitlab_run("np-apply", repo.checkout(), repo, gitlab, "web")
    assert code == 0, err
    assert repo.live()["count"] == 3
    assert gitlab.requests == []
    assert repo.local_states() == []


def test_gitlab_drift_job_makes_each_drifted_node_pool_a_failed_test(
    repo: Repository, gitlab: FakeGitLab
) -> None:
    assert gitlab_run("np-apply", repo.checkout(), repo, gitlab, "web")[0] == 0
    junit = gitlab_job(load(GITLAB), "np-drift")["artifacts"]["reports"]["junit"]
    project = repo.checkout()
    code, _, err = gitlab_run("np-drift", project, repo, gitlab, "schedule")
    assert code == 0, err
    [case] = ET.parse(project / junit).getroot().findall(".//testcase")  # known from the state
    assert case.findall("failure") == []
    repo.console_edit(labels={"team": "ai"})
    project = repo.checkout()
    code, out, _ = gitlab_run("np-drift", project, repo, gitlab, "schedule")
    assert code == 2  # the job fails: someone changed a node pool outside np
    [failure] = ET.parse(project / junit).getroot().findall(".//failure")
    assert "labels.team" in ET.tostring(failure, encoding="unicode")
    assert "nodepool.train" in out  # readable in the job log too


@pytest.fixture
def runner(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "runner").mkdir()
    return {
        "temp": tmp_path / "runner",
        "env": tmp_path / "runner" / "github_env",
        "summary": tmp_path / "runner" / "step_summary.md",
    }


def github_run(
    job: str, step: str, project: Path, repo: Repository, event: str, files: dict[str, Path]
) -> tuple[int, str, str]:
    doc = load(GITHUB)
    env = repo.variables | {
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
    return shell(script, project, env, stub_pip(repo.root / "stubs"))


def test_github_plan_then_apply_of_the_reviewed_plan(
    repo: Repository, runner: dict[str, Path]
) -> None:
    pull_request = repo.checkout()
    code, _, err = github_run("plan", "Install np", pull_request, repo, "pull_request", runner)
    assert code == 0, err
    ca, cache = runner["temp"] / "np-pg-ca.pem", runner["temp"] / "np-cache"
    assert runner["env"].read_text() == f"PGSSLROOTCERT={ca}\nNP_CACHE_DIR={cache}\n"
    restored = github_action_inputs(load(GITHUB), "plan", "actions/cache")
    assert restored["path"] == "${{ runner.temp }}/np-cache"  # where NP_CACHE_DIR points
    assert ca.read_text() == "-----BEGIN CERTIFICATE-----\n"
    code, _, err = github_run("plan", "np plan", pull_request, repo, "pull_request", runner)
    assert code == 0, err
    inputs = github_action_inputs(load(GITHUB), "plan", "actions/upload-artifact")
    uploaded = inputs["path"].split()
    for path in uploaded:
        assert (pull_request / path).is_file(), f"upload-artifact finds no {path}"
    main = repo.checkout()
    (main / "reviewed").mkdir()  # what the apply job's gh run download makes of the artifact
    for path in uploaded:
        (pull_request / path).rename(main / "reviewed" / path)
    assert repo.live()["count"] == 2
    code, _, err = github_run("apply", "np apply", main, repo, "push", runner)
    assert code == 0, err
    assert repo.live()["count"] == 3
    assert repo.local_states() == []


def test_github_push_without_a_reviewed_plan_applies_nothing(
    repo: Repository, runner: dict[str, Path]
) -> None:
    code, out, _ = github_run("apply", "np apply", repo.checkout(), repo, "push", runner)
    assert code == 1
    assert f"::error::no reviewed plan for {MERGED}" in out
    assert repo.live()["count"] == 2


def test_github_run_by_hand_plans_and_applies(repo: Repository, runner: dict[str, Path]) -> None:
    project = repo.checkout()
    code, _, err = github_run("apply", "np apply", project, repo, "workflow_dispatch", runner)
    assert code == 0, err
    assert repo.live()["count"] == 3


def test_github_drift_step_writes_the_report_and_the_summary(
    repo: Repository, runner: dict[str, Path]
) -> None:
    project = repo.checkout()
    assert github_run("apply", "np apply", project, repo, "workflow_dispatch", runner)[0] == 0
    repo.console_edit(labels={"team": "ai"})
    project = repo.checkout()
    code, _, err = github_run("drift", "np drift", project, repo, "schedule", runner)
    assert code == 0, err  # drift is the test reporter's failure, not this step's
    report = github_action_inputs(load(GITHUB), "drift", "dorny/test-reporter")["path"]
    [failure] = ET.parse(project / report).getroot().findall(".//failure")
    assert "labels.team" in ET.tostring(failure, encoding="unicode")
    assert "nodepool.train" in runner["summary"].read_text()
