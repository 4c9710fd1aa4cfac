"""Trust boundaries as an attacker meets them: a saved plan edited to do what was not reviewed,
a state directory or journal that is a symlink out of the configuration, names that would
collapse into another API path. Each is refused before anything is sent or written."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from support import PROVIDER, Workspace, pool_world

FLAVOR = "modelarts.vm.cpu.8u"
WORLD = pool_world(
    {
        "train": {"flavor": FLAVOR, "count": 2, "maxCount": 2},
        "infer": {"flavor": FLAVOR, "count": 1, "maxCount": 1},
    }
)
CONFIG = (
    PROVIDER
    + 'variable "n" {\n  type = number\n  default = 2\n}\n'
    + 'nodepool "train" {\n  pool = "pool-prod"\n  flavor = "'
    + FLAVOR
    + '"\n  count = var.n\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n'
    + 'nodepool "infer" {\n  pool = "pool-prod"\n  count = 1\n}\n'
)


@pytest.fixture
def managed(ws: Workspace) -> Workspace:
    ws.world(WORLD)
    ws.write("main.hcl", CONFIG)
    assert ws.np("apply", "--auto-approve").code == 0
    return ws


def forge(path: Path, edit: Any) -> None:
    """Edit a saved plan and recompute its checksum, as anyone who can write the file can."""
    doc = json.loads(path.read_text())
    edit(doc)
    del doc["checksum"]
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    doc["checksum"] = hashlib.sha256(canonical.encode()).hexdigest()
    path.write_text(json.dumps(doc))


def change(doc: dict[str, Any], address: str) -> dict[str, Any]:
    [found] = [r for r in doc["plan"]["resources"] if r["address"] == address]
    return found  # type: ignore[no-any-return]


def test_a_forged_delete_of_a_protected_node_pool_is_refused(managed: Workspace) -> None:
    ws = managed
    ws.write("main.hcl", CONFIG.replace("default = 2", "default = 3"))
    assert ws.np("plan", "-out", "p.plan").code == 0
    world, state = ws.world_path.read_bytes(), ws.state_path.read_bytes()

    def delete_train(doc: dict[str, Any]) -> None:
        train = change(doc, "nodepool.train")
        train.update(action="delete", body=None, applied=None, records_state=True)

    forge(ws.root / "p.plan", delete_train)
    run = ws.np("apply", "p.plan")
    assert run.code == 1
    assert run.stderr.splitlines() == [
        "Error: the saved plan is not what np plans from this configuration: nodepool.train: "
        'action: the saved plan has "delete", np plans "update"; nothing was sent. Run np plan '
        "-out again and review it"
    ]
    assert ws.world_path.read_bytes() == world and ws.state_path.read_bytes() == state


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r["body"]["spec"]["resources"].update(evilField=1),
        lambda r: r["body"]["spec"]["resources"].update(flavor="modelarts.vm.gpu.a100"),
        lambda r: r["body"]["spec"]["resources"].update(count=300, maxCount=300),
    ],
    ids=["unknown-field", "flavor", "count"],
)
def test_a_forged_request_body_is_never_sent(managed: Workspace, edit: Any) -> None:
    ws = managed
    ws.write("main.hcl", CONFIG.replace("default = 2", "default = 3"))
    assert ws.np("plan", "-out", "p.plan").code == 0
    world = ws.world_path.read_bytes()
    forge(ws.root / "p.plan", lambda doc: edit(change(doc, "nodepool.train")))
    run = ws.np("apply", "p.plan")
    assert run.code == 1
    assert "nodepool.train: request body: the saved plan has" in run.stderr
    assert ws.world_path.read_bytes() == world


def test_a_forged_create_with_a_name_np_would_not_plan_is_refused(ws: Workspace) -> None:
    ws.world(WORLD)
    ws.write(
        "main.hcl",
        CONFIG
        + f'nodepool "batch" {{\n  pool = "pool-prod"\n  flavor = "{FLAVOR}"\n  count = 1\n}}\n',
    )
    assert ws.np("plan", "-out", "p.plan").code == 0

    def rename(doc: dict[str, Any]) -> None:
        change(doc, "nodepool.batch")["body"]["metadata"]["name"] = "Evil_Name!"

    forge(ws.root / "p.plan", rename)
    run = ws.np("apply", "p.plan")
    assert run.code == 1 and "nodepool.batch: request body" in run.stderr
    assert "batch" not in ws.world()["pools"]["pool-prod"]["nodepools"]
    assert "Evil_Name!" not in ws.world()["pools"]["pool-prod"]["nodepools"]


def test_an_edit_that_changes_nothing_still_applies(managed: Workspace) -> None:
    ws = managed
    ws.write("main.hcl", CONFIG.replace("default = 2", "default = 3"))
    assert ws.np("plan", "-out", "p.plan").code == 0
    ws.write("main.hcl", "# reviewed and merged\n" + CONFIG.replace("default = 2", "default = 3"))
    run = ws.np("apply", "p.plan")
    assert run.code == 0, run.stderr
    assert ws.nodepool("pool-prod", "train")["count"] == 3


def test_a_configuration_change_since_the_plan_is_refused(managed: Workspace) -> None:
    ws = managed
    ws.write("main.hcl", CONFIG.replace("default = 2", "default = 3"))
    assert ws.np("plan", "-out", "p.plan").code == 0
    labelled = CONFIG.replace("count = var.n", 'count = var.n\n  labels = { team = "x" }')
    ws.write("main.hcl", labelled.replace("default = 2", "default = 3"))
    run = ws.np("apply", "p.plan")
    assert run.code == 1
    assert 'nodepool.train: request body: the saved plan has {"spec"' in run.stderr
    assert ws.nodepool("pool-prod", "train")["count"] == 2


def test_a_default_changed_since_the_plan_does_not_change_what_it_sends(
    managed: Workspace,
) -> None:
    """The plan recorded the value it was made with: a later default is the next plan's."""
    ws = managed
    ws.write("main.hcl", CONFIG.replace("default = 2", "default = 3"))
    assert ws.np("plan", "-out", "p.plan").code == 0
    ws.write("main.hcl", CONFIG.replace("default = 2", "default = 5"))
    assert ws.np("apply", "p.plan").code == 0
    assert ws.nodepool("pool-prod", "train")["count"] == 3


def test_the_plan_applies_with_the_variables_it_recorded(managed: Workspace) -> None:
    """The values the plan was made with, not the environment or var files of the apply job."""
    ws = managed
    assert ws.np("plan", "--var", "n=4", "-out", "p.plan").code == 0
    ws.write("np.npvars", "n = 9\n")
    run = ws.np("apply", "p.plan", env={"NP_VAR_n": "7"})
    assert run.code == 0, run.stderr
    assert ws.nodepool("pool-prod", "train")["count"] == 4


def test_targeting_is_recorded_and_refused_beside_a_plan_file(managed: Workspace) -> None:
    ws = managed
    ws.write(
        "main.hcl", CONFIG.replace("default = 2", "default = 3").replace("count = 1", "count = 2")
    )
    assert ws.np("plan", "--target", "nodepool.train", "-out", "p.plan").code == 0
    refused = ws.np("apply", "p.plan", "--target", "nodepool.infer")
    assert refused.code == 1 and "--target and --exclude cannot be used" in refused.stderr
    run = ws.np("apply", "p.plan")
    assert run.code == 0, run.stderr
    assert ws.nodepool("pool-prod", "train")["count"] == 3
    assert ws.nodepool("pool-prod", "infer")["count"] == 1  # not targeted: untouched


# --- files outside the directory ----------------------------------------------------------------


def test_a_state_directory_that_leads_out_is_refused(ws: Workspace, tmp_path: Path) -> None:
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    ws.world(WORLD)
    ws.write("main.hcl", CONFIG)
    (ws.root / "state").symlink_to(elsewhere)
    run = ws.np("apply", "--auto-approve")
    assert run.code == 1
    assert "np will not write there" in run.stderr and "leads out of" in run.stderr
    assert list(elsewhere.iterdir()) == []
    assert ws.nodepool("pool-prod", "train")["count"] == 2


def test_a_journal_that_is_a_symlink_is_never_appended_to(
    managed: Workspace, tmp_path: Path
) -> None:
    ws = managed
    victim = tmp_path.parent / f"{tmp_path.name}-victim"
    victim.write_text("export PATH=/usr/bin\n")
    os.chmod(victim, 0o644)
    journal = Path(f"{ws.state_path}.journal")
    journal.symlink_to(victim)
    ws.write("main.hcl", CONFIG.replace("default = 2", "default = 3"))
    run = ws.np("apply", "--auto-approve")
    assert run.code == 1
    assert "symbolic link" in run.stderr
    assert victim.read_text() == "export PATH=/usr/bin\n"
    assert os.stat(victim).st_mode & 0o777 == 0o644


def test_a_lock_or_state_file_that_is_a_symlink_is_not_read(
    managed: Workspace, tmp_path: Path
) -> None:
    ws = managed
    secret = tmp_path.parent / f"{tmp_path.name}-secret"
    secret.write_text('{"id": "x"}')
    Path(f"{ws.state_path}.lock").symlink_to(secret)
    run = ws.np("plan")
    assert run.code == 1
    assert "symbolic link" in run.stderr


# --- names that would become other paths --------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", "a/b"])
def test_a_name_that_is_not_one_path_segment_is_a_configuration_error(
    ws: Workspace, name: str
) -> None:
    ws.world(WORLD)
    ws.write(
        "main.hcl", PROVIDER + f'nodepool "x" {{\n  pool = "pool-prod"\n  name = "{name}"\n}}\n'
    )
    run = ws.np("validate")
    assert run.code == 1
    assert "main.hcl:" in run.stderr and "nodepool.x: name:" in run.stderr


def test_a_state_naming_dot_dot_is_refused_before_any_request(managed: Workspace) -> None:
    ws = managed
    doc = ws.state()
    doc["resources"]["nodepool.infer"]["name"] = ".."
    ws.state_path.write_text(json.dumps(doc))
    world = ws.world_path.read_bytes()
    ws.write("main.hcl", CONFIG.split('nodepool "infer"')[0])  # infer removed: would delete
    run = ws.np("apply", "--auto-approve")
    assert run.code == 1
    assert 'resources["nodepool.infer"].name: is "..", which a URL would collapse' in run.stderr
    assert ws.world_path.read_bytes() == world


def test_state_mv_takes_the_unquoted_key_a_shell_leaves(ws: Workspace) -> None:
    ws.world(pool_world({"a": {"flavor": FLAVOR, "count": 1, "maxCount": 1}}))
    ws.write(
        "main.hcl",
        PROVIDER + 'nodepool "gpu" {\n  for_each = toset(["a"])\n  pool = "pool-prod"\n'
        "  name = each.key\n}\n",
    )
    assert ws.np("apply", "--auto-approve").code == 0
    run = ws.np("state", "mv", "nodepool.gpu[a]", "nodepool.cpu[a]")
    assert run.code == 0, run.stderr
    assert list(ws.state()["resources"]) == ['nodepool.cpu["a"]']


# --- what np prints of what it read -------------------------------------------------------------

HOSTILE = "\x1b[2J\x1b[31mred\u202eevil\u200b"


def test_values_read_from_state_and_live_are_printed_escaped(managed: Workspace) -> None:
    ws = managed
    doc = ws.state()
    doc["resources"]["nodepool.infer"]["applied"]["labels"] = {"team": HOSTILE}
    ws.state_path.write_text(json.dumps(doc))
    world = ws.world()
    world["pools"]["pool-prod"]["nodepools"]["train"]["labels"] = {"team": HOSTILE}
    ws.world(world)
    ws.write(
        "main.hcl", CONFIG.replace("count = var.n", 'count = var.n\n  labels = { team = "ml" }')
    )
    for args in (("plan",), ("state", "show", "nodepool.infer"), ("plan", "--json")):
        run = ws.np(*args)
        printed = run.stdout + run.stderr
        assert "\x1b" not in printed and "\u202e" not in printed and "\u200b" not in printed
        assert "\\u001b" in printed, args


def test_a_lock_file_with_escape_sequences_is_shown_escaped(managed: Workspace) -> None:
    ws = managed
    lock = {
        "id": "x\x1b]0;pwned\x07",
        "pid": 4242,
        "host": "h\u202e",
        "user": "\x1b[31malice",
        "operation": "apply",
        "created": "2026-11-27T04:31:00Z",
    }
    Path(f"{ws.state_path}.lock").write_text(json.dumps(lock))
    run = ws.np("plan")
    assert run.code == 1
    assert "\x1b" not in run.stderr and "\x07" not in run.stderr and "\u202e" not in run.stderr
    assert "\\u001b[31malice@h\\u202e" in run.stderr
    assert "np force-unlock 'x\\u001b]0;pwned\\u0007'" in run.stderr
