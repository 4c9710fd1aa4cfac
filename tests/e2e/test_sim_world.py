"""The simulator's world file: loading, coalesced atomic writes, reload on hand edits (without
losing unsaved changes), workspaces, scaling over time."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from support import PROVIDER, FakeClock, Workspace

from reconciler.sim.world import SimError, World, WorldError, render

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z

WORLD: dict[str, Any] = {
    "pools": {
        "pool-prod": {
            "type": "Dedicate",
            "privileged": True,
            "nodepools": {
                "train": {"flavor": "gpu.t4", "count": 2, "maxCount": 2, "labels": {"team": "ml"}},
                "infer": {"flavor": "gpu.t4", "count": 1, "maxCount": 1},
            },
        }
    },
    "settings": {"scale_seconds": 30},
}


def patch_body(count: int, **extra: Any) -> dict[str, Any]:
    return {"spec": {"resources": {"flavor": "gpu.t4", "count": count, "maxCount": count, **extra}}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def path(world_path: Path) -> Path:
    return world_path


@pytest.fixture
def world(path: Path, clock: FakeClock) -> World:
    return World.load(path, clock=clock)


def status(world: World, name: str = "train") -> dict[str, int]:
    buckets = world.get_nodepool("pool-prod", name)["status"]["resources"]
    return {bucket: value["count"] for bucket, value in buckets.items()}


def test_missing_file_is_a_world_error(tmp_path: Path) -> None:
    with pytest.raises(WorldError) as err:
        World.load(tmp_path / "nope.json")
    assert str(err.value) == f"world file not found: {tmp_path / 'nope.json'}"


def test_a_file_that_is_not_a_world_is_never_quoted(tmp_path: Path) -> None:
    binary = tmp_path / "secret.bin"
    binary.write_bytes(b"\xffSECRET-BYTES")
    with pytest.raises(WorldError) as err:
        World.load(binary)
    assert str(err.value) == f"world file {binary} is not UTF-8 text"
    text = tmp_path / "secret.txt"
    text.write_text("SECRET-TEXT not json")
    with pytest.raises(WorldError) as err:
        World.load(text)
    assert str(err.value) == f"{text}:1: invalid JSON: Expecting value"
    directory = tmp_path / "a-directory.json"
    directory.mkdir()
    with pytest.raises(WorldError) as err:
        World.load(directory)
    assert str(err.value) == f"cannot read world file {directory}: Is a directory"


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    file = tmp_path / "world.json"
    file.write_text('{"pools": {\n  "a": ,\n}}')
    with pytest.raises(WorldError) as err:
        World.load(file)
    assert str(err.value) == f"{file}:2: invalid JSON: Expecting value"


def world_text(labels: str, *, line: int) -> str:
    """A world whose one node pool has `labels` (JSON text) on line `line`."""
    head = '{"pools": {"p": {"type": "Logical", "nodepools": {' + "\n" * (line - 1)
    return head + f'"n": {{"flavor": "f", "count": 1, "maxCount": 1, "labels": {labels}}}}}}}}}}}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, ": nested deeper than 32 levels"),  # RecursionError
        (
            '{"pools": {}, "settings": {"x": ' + "[" * 40 + "]" * 40 + "}}",
            ": nested deeper than 32 levels",  # parses, but would overflow merges and copies
        ),
        (
            world_text('{"a": "a\\ud800b"}', line=2),
            ":2: a string holds a lone surrogate (\\ud800), which is not Unicode text",
        ),
        (
            world_text('{"\\udfff": "b"}', line=3),
            ":3: a string holds a lone surrogate (\\udfff), which is not Unicode text",
        ),
        ('{"pools": {}, "n": 1' + "0" * 5000 + "}", ": a number has more than 4300 digits"),
    ],
)
def test_a_world_the_simulator_could_not_keep_is_one_clear_error(
    tmp_path: Path, text: str, message: str
) -> None:
    """Loaded, a lone surrogate would make every later write of the world fail; deep nesting
    would end in a RecursionError instead of an answer."""
    file = tmp_path / "world.json"
    file.write_text(text)
    with pytest.raises(WorldError) as err:
        World.load(file)
    assert str(err.value) == f"{file}{message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, ": nested deeper than 32 levels"),
        (world_text('{"a": "\\ud800"}', line=1), ":1: a string holds a lone surrogate"),
    ],
)
def test_np_plan_on_such_a_world_is_one_error(ws: Workspace, text: str, message: str) -> None:
    ws.write("main.hcl", PROVIDER)
    ws.world_path.write_text(text)
    run = ws.np("plan")
    assert (run.code, run.stdout) == (1, "")
    assert run.stderr.startswith(f"Error: {ws.world_path}{message}")
    assert run.stderr.count("\n") == 1


def test_escaped_surrogate_pairs_and_backslashes_are_ordinary_text(tmp_path: Path) -> None:
    file = tmp_path / "world.json"
    file.write_text(world_text('{"smile": "\\ud83d\\ude00", "literal": "\\\\ud800"}', line=1))
    labels = World.load(file).get_nodepool("p", "n")["spec"]["resources"]["labels"]
    assert labels == {"smile": "\U0001f600", "literal": "\\ud800"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], 'the world must be an object with a "pools" object'),
        ({"pools": []}, 'the world must be an object with a "pools" object'),
        (
            {"pools": {"p": {"type": "GPU", "nodepools": {}}}},
            "pools.p.type must be Dedicate or Logical",
        ),
        (
            {"pools": {"p": {"type": "Logical", "privileged": "yes", "nodepools": {}}}},
            "pools.p.privileged must be true or false",
        ),
        ({"pools": {"p": {"type": "Logical"}}}, "pools.p.nodepools must be an object"),
        (
            {
                "pools": {
                    "p": {"type": "Logical", "nodepools": {"n": {"flavor": "f", "count": "2"}}}
                }
            },
            "pools.p.nodepools.n.count must be an integer",
        ),
        (
            {"pools": {"p": {"type": "Logical", "nodepools": {"n": {"flavor": "f", "count": 2}}}}},
            "pools.p.nodepools.n.maxCount must be an integer",
        ),
        (
            {"pools": {}, "settings": {"scale_seconds": -1}},
            "settings.scale_seconds must be a number >= 0",
        ),
        (
            {"pools": {"p": {"type": "Logical", "workspace_id": 7, "nodepools": {}}}},
            "pools.p.workspace_id must be a non-empty string",
        ),
    ],
)
def test_malformed_world_is_rejected_with_the_key(tmp_path: Path, data: Any, message: str) -> None:
    file = tmp_path / "world.json"
    file.write_text(json.dumps(data))
    with pytest.raises(WorldError) as err:
        World.load(file)
    assert str(err.value) == f"{file}: {message}"


def test_changes_stay_in_memory_until_one_flush_writes_them_all(world: World, path: Path) -> None:
    original = path.read_text()
    assert world.flush() is False  # nothing changed: the file is not even rewritten
    world.patch_nodepool("pool-prod", "train", patch_body(3))
    world.patch_nodepool("pool-prod", "infer", patch_body(4))
    assert world.dirty
    assert path.read_text() == original
    assert world.flush() is True
    assert not world.dirty and world.flush() is False
    assert os.listdir(path.parent) == ["world.json"]  # no temporary file left behind
    saved = json.loads(path.read_text())
    nodepools = saved["pools"]["pool-prod"]["nodepools"]
    assert list(nodepools) == ["train", "infer"]  # key order kept
    assert (nodepools["train"]["count"], nodepools["infer"]["count"]) == (3, 4)
    assert saved["pools"]["pool-prod"]["_created"] == "2023-11-14T22:13:20Z"


def test_the_file_is_indented_down_to_one_line_per_node_pool(world: World, path: Path) -> None:
    world.patch_nodepool("pool-prod", "train", patch_body(2, labels={"team": "ü"}))
    world.flush()
    text = path.read_text()
    assert text == render(json.loads(text)) + "\n"
    lines = text.splitlines()
    assert lines[:5] == [
        "{",
        '  "pools": {',
        '    "pool-prod": {',
        '      "type": "Dedicate",',
        '      "privileged": true,',
    ]
    assert lines[5:8] == [
        '      "nodepools": {',
        '        "train": {"flavor": "gpu.t4", "count": 2, "maxCount": 2, "labels": {"team": "ü"}, '
        '"_created": "2023-11-14T22:13:20Z"},',
        '        "infer": {"flavor": "gpu.t4", "count": 1, "maxCount": 1, '
        '"_created": "2023-11-14T22:13:20Z"}',
    ]
    assert lines[-3:] == ["  },", '  "settings": {"scale_seconds": 30}', "}"]


def test_a_write_encodes_only_the_node_pools_that_changed(
    world: World, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[str] = []

    class Counting(json.JSONEncoder):
        def encode(self, o: Any) -> str:
            if isinstance(o, dict) and "flavor" in o:
                encoded.append(o["flavor"] + str(o["count"]))
            return super().encode(o)

    monkeypatch.setattr("reconciler.sim.world._ENCODER", Counting(ensure_ascii=False))
    world.patch_nodepool("pool-prod", "train", patch_body(3))
    world.flush()
    assert encoded == ["gpu.t43", "gpu.t41"]  # the first write encodes everything
    world.patch_nodepool("pool-prod", "infer", patch_body(5))
    world.flush()
    assert encoded[2:] == ["gpu.t45"]  # then only what changed
    saved = json.loads(path.read_text())["pools"]["pool-prod"]["nodepools"]
    assert (saved["train"]["count"], saved["infer"]["count"]) == (3, 5)
    path.write_text(path.read_text().replace('"count": 3', '"count": 4'))  # a hand edit
    world.patch_nodepool("pool-prod", "infer", patch_body(6))
    world.flush()
    saved = json.loads(path.read_text())["pools"]["pool-prod"]["nodepools"]
    assert (saved["train"]["count"], saved["infer"]["count"]) == (4, 6)


def test_hand_edit_is_picked_up_but_own_write_is_not_a_change(world: World, path: Path) -> None:
    assert world.reload_if_changed() is False
    world.patch_nodepool("pool-prod", "train", patch_body(2, labels={"team": "ai"}))
    world.flush()
    assert world.reload_if_changed() is False
    edited = json.loads(path.read_text())
    edited["pools"]["pool-prod"]["nodepools"]["train"]["labels"] = {"team": "console"}
    path.write_text(json.dumps(edited, indent=4))
    assert world.reload_if_changed() is True
    assert world.get_nodepool("pool-prod", "train")["spec"]["resources"]["labels"] == {
        "team": "console"
    }
    assert world.reload_if_changed() is False


def test_a_hand_edit_and_unsaved_changes_both_survive(world: World, path: Path) -> None:
    """The edit (infer's labels) is read before the flush; the change (train's count) is laid
    over it; neither is lost, and the flush does not overwrite the edit."""
    world.patch_nodepool("pool-prod", "train", patch_body(5))
    edited = json.loads(path.read_text())
    edited["pools"]["pool-prod"]["nodepools"]["infer"]["labels"] = {"team": "console"}
    path.write_text(json.dumps(edited))
    assert world.flush() is True
    saved = json.loads(path.read_text())["pools"]["pool-prod"]["nodepools"]
    assert saved["train"]["count"] == 5
    assert saved["infer"]["labels"] == {"team": "console"}


def test_an_unsaved_delete_survives_a_hand_edit(world: World, path: Path) -> None:
    world.delete_nodepool("pool-prod", "infer")
    path.write_text(json.dumps(WORLD))  # still lists infer
    assert world.reload_if_changed() is True
    assert world.list_nodepools("pool-prod")["items"][0]["metadata"]["name"] == "train"
    assert len(world.list_nodepools("pool-prod")["items"]) == 1


def test_a_failed_write_keeps_the_changes_for_the_next_flush(
    world: World, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(path: Path, data: str) -> None:
        raise OSError(28, "No space left on device")

    world.patch_nodepool("pool-prod", "train", patch_body(6))
    with monkeypatch.context() as patched:
        patched.setattr("reconciler.sim.world.atomic_write", disk_full)
        with pytest.raises(OSError):
            world.flush()
    assert world.dirty
    assert world.get_nodepool("pool-prod", "train")["spec"]["resources"]["count"] == 6
    assert world.flush() is True
    assert json.loads(path.read_text())["pools"]["pool-prod"]["nodepools"]["train"]["count"] == 6


def test_reload_of_a_broken_edit_raises_and_retries_next_time(world: World, path: Path) -> None:
    path.write_text("{")
    with pytest.raises(WorldError):
        world.reload_if_changed()
    path.write_text(json.dumps(WORLD))
    assert world.reload_if_changed() is True


def test_scale_up_is_creating_until_scale_seconds_pass(world: World, clock: FakeClock) -> None:
    answer = world.patch_nodepool("pool-prod", "train", patch_body(5))
    assert answer["spec"]["resources"]["count"] == 5
    assert status(world) == {"creating": 3, "available": 2, "abnormal": 0, "deleting": 0}
    clock.now += 29.9
    assert status(world) == {"creating": 3, "available": 2, "abnormal": 0, "deleting": 0}
    clock.now += 0.1
    assert status(world) == {"creating": 0, "available": 5, "abnormal": 0, "deleting": 0}


def test_scale_down_is_deleting_then_gone(world: World, clock: FakeClock) -> None:
    world.patch_nodepool("pool-prod", "train", patch_body(0))
    assert status(world) == {"creating": 0, "available": 0, "abnormal": 0, "deleting": 2}
    clock.now += 30
    assert status(world) == {"creating": 0, "available": 0, "abnormal": 0, "deleting": 0}


def test_change_during_a_scale_keeps_its_start_and_restarts_the_timer(
    world: World, clock: FakeClock
) -> None:
    world.patch_nodepool("pool-prod", "train", patch_body(4))
    clock.now += 10
    world.patch_nodepool("pool-prod", "train", patch_body(3))
    assert status(world) == {"creating": 1, "available": 2, "abnormal": 0, "deleting": 0}
    clock.now += 29
    assert status(world)["creating"] == 1
    clock.now += 1
    assert status(world) == {"creating": 0, "available": 3, "abnormal": 0, "deleting": 0}


def test_other_changes_do_not_restart_a_running_scale(world: World, clock: FakeClock) -> None:
    world.patch_nodepool("pool-prod", "train", patch_body(4))
    clock.now += 20
    world.patch_nodepool("pool-prod", "train", patch_body(4, labels={"team": "ai"}))
    clock.now += 10
    assert status(world) == {"creating": 0, "available": 4, "abnormal": 0, "deleting": 0}


def test_scale_back_to_start_is_settled_at_once(world: World, path: Path) -> None:
    world.patch_nodepool("pool-prod", "train", patch_body(4))
    world.patch_nodepool("pool-prod", "train", patch_body(2))
    world.flush()
    assert status(world) == {"creating": 0, "available": 2, "abnormal": 0, "deleting": 0}
    saved = json.loads(path.read_text())["pools"]["pool-prod"]["nodepools"]["train"]
    assert "_scale_from" not in saved
    assert "_scale_at" not in saved


def test_scale_progress_survives_a_restart(world: World, path: Path, clock: FakeClock) -> None:
    world.patch_nodepool("pool-prod", "train", patch_body(4))
    world.flush()
    clock.now += 15
    again = World.load(path, clock=clock)
    assert status(again) == {"creating": 2, "available": 2, "abnormal": 0, "deleting": 0}


def test_scale_seconds_override_makes_scaling_instant(path: Path, clock: FakeClock) -> None:
    world = World.load(path, clock=clock, scale_seconds=0)
    assert world.scale_seconds == 0
    world.patch_nodepool("pool-prod", "train", patch_body(4))
    assert status(world) == {"creating": 0, "available": 4, "abnormal": 0, "deleting": 0}


def test_nodes_follow_the_scale(world: World) -> None:
    world.patch_nodepool("pool-prod", "train", patch_body(3))
    nodes = world.list_nodes("pool-prod", "train")
    assert [(n["metadata"]["name"], n["status"]["phase"]) for n in nodes["items"]] == [
        ("train-0000", "Available"),
        ("train-0001", "Available"),
        ("train-0002", "Creating"),
    ]
    world.patch_nodepool("pool-prod", "infer", patch_body(0))
    nodes = world.list_nodes("pool-prod", "infer")
    assert nodes["items"] == [
        {
            "apiVersion": "v2",
            "kind": "Node",
            "metadata": {"name": "infer-0000"},
            "spec": {"flavor": "gpu.t4"},
            "status": {"phase": "Deleting"},
        }
    ]
    assert nodes["metadata"] == {"remainingItemCount": 0}


def test_a_page_of_nodes_spans_the_phases_in_order(world: World) -> None:
    world.patch_nodepool("pool-prod", "train", patch_body(5))  # 2 available, 3 creating
    pages, token = [], None
    while True:
        page = world.list_nodes("pool-prod", "train", 2, token)
        pages.append([(n["metadata"]["name"], n["status"]["phase"]) for n in page["items"]])
        token = page["metadata"].get("continue")
        if token is None:
            break
    assert pages == [
        [("train-0000", "Available"), ("train-0001", "Available")],
        [("train-0002", "Creating"), ("train-0003", "Creating")],
        [("train-0004", "Creating")],
    ]


def continue_token(offset: int) -> str:
    """The simulator's own continue token for `offset` (its format is no secret to a test)."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def test_pages_are_found_by_offset(tmp_path: Path) -> None:
    """The first, last and a past-the-end page of a large node pool. (That only the page asked
    for is built, a child under a memory cap checks: tests/process/test_sim_hostile.py.)"""
    count = 100_000
    file = tmp_path / "world.json"
    nodepool = {"flavor": "f", "count": count, "maxCount": count}
    file.write_text(json.dumps({"pools": {"p": {"type": "Logical", "nodepools": {"n": nodepool}}}}))
    world = World.load(file)
    first = world.list_nodes("p", "n", 1)
    assert [n["metadata"]["name"] for n in first["items"]] == ["n-0000"]
    assert first["metadata"] == {"remainingItemCount": count - 1, "continue": continue_token(1)}
    last = world.list_nodes("p", "n", 500, continue_token(count - 2))
    assert [n["metadata"]["name"] for n in last["items"]] == ["n-99998", "n-99999"]
    assert last["metadata"] == {"remainingItemCount": 0}
    beyond = world.list_nodes("p", "n", 500, continue_token(count + 9))
    assert (beyond["items"], beyond["metadata"]) == ([], {"remainingItemCount": 0})


def test_errors_carry_status_and_code(world: World) -> None:
    with pytest.raises(SimError) as err:
        world.get_nodepool("pool-prod", "nope")
    assert (err.value.status, err.value.error_code, err.value.error_msg) == (
        404,
        "ModelArts.50015001",
        "node pool nope not found in pool pool-prod",
    )


def test_pools_are_listed_by_workspace_and_shown_whatever_theirs(tmp_path: Path) -> None:
    file = tmp_path / "world.json"
    nodepools = {"n": {"flavor": "f", "count": 1, "maxCount": 1}}
    file.write_text(
        json.dumps(
            {
                "pools": {
                    "default-ws": {"type": "Logical", "nodepools": nodepools},
                    "zero": {"type": "Logical", "workspace_id": "0", "nodepools": nodepools},
                    "team": {"type": "Logical", "workspace_id": "ws-team", "nodepools": nodepools},
                }
            }
        )
    )
    world = World.load(file)

    def names(workspace: str | None) -> list[str]:
        return [p["metadata"]["name"] for p in world.list_pools(workspace)["items"]]

    assert names(None) == names("0") == ["default-ws", "zero"]
    assert names("ws-team") == ["team"]
    assert names("elsewhere") == []
    team = world.get_pool("team")
    assert team["metadata"]["labels"] == {"os.modelarts/workspace.id": "ws-team"}
    assert world.get_pool("default-ws")["metadata"]["labels"] == {"os.modelarts/workspace.id": "0"}
    assert world.list_nodepools("team")["items"][0]["metadata"]["name"] == "n"
