"""The convergence-wait display: plain lines off a terminal, rich bars on one."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from support import FakeClock

from reconciler.render.progress import WaitProgress


def test_plain_progress_prints_each_nodepool_at_most_every_ten_seconds() -> None:
    lines: list[str] = []
    clock = FakeClock(100.0)
    progress = WaitProgress(False, lines.append, clock=clock)
    progress.update("nodepool.a", available=3, creating=1, deleting=0, want=4)
    progress.update("nodepool.b", available=5, creating=0, deleting=2, want=3)
    clock.now += 9.9
    progress.update("nodepool.a", available=3, creating=1, deleting=0, want=4)
    progress.line("nodepool.c: updated")
    clock.now += 0.1
    progress.update("nodepool.a", available=4, creating=0, deleting=0, want=4)
    progress.update("nodepool.b", available=4, creating=0, deleting=1, want=3)
    progress.done("nodepool.a", 4)
    progress.done("nodepool.b", 3)
    progress.close()
    assert lines == [
        "nodepool.a: waiting for 4 node(s): 3 available, 1 creating, 0 deleting",
        "nodepool.b: waiting for 3 node(s): 5 available, 0 creating, 2 deleting",
        "nodepool.c: updated",
        "nodepool.a: waiting for 4 node(s): 4 available, 0 creating, 0 deleting",
        "nodepool.b: waiting for 3 node(s): 4 available, 0 creating, 1 deleting",
        "nodepool.a: 4 node(s) available",
        "nodepool.b: 3 node(s) available",
    ]


def test_plain_progress_prints_the_final_line_even_without_updates() -> None:
    lines: list[str] = []
    WaitProgress(False, lines.append, clock=FakeClock(100.0)).done("nodepool.z", 0)
    assert lines == ["nodepool.z: 0 node(s) available"]


def test_plain_progress_never_imports_rich() -> None:
    script = (
        "import sys\n"
        "from reconciler.render.progress import WaitProgress\n"
        "p = WaitProgress(False, print)\n"
        "p.update('nodepool.a', 1, 1, 0, 2); p.done('nodepool.a', 2); p.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert done.stdout.splitlines() == [
        "nodepool.a: waiting for 2 node(s): 1 available, 1 creating, 0 deleting",
        "nodepool.a: 2 node(s) available",
        "[]",
    ]


def test_terminal_progress_draws_a_bar_per_nodepool() -> None:
    lines: list[str] = []
    screen = io.StringIO()
    progress = WaitProgress(True, lines.append, stream=screen)
    progress.line("nodepool.a: updated")  # no bar yet: a plain line
    progress.update("nodepool.a", available=3, creating=1, deleting=0, want=4)
    progress.line("nodepool.b: updated")  # printed above the bars
    progress.done("nodepool.a", 4)
    progress.close()
    assert lines == ["nodepool.a: updated"]
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert re.search(r"nodepool\.a .*3/4 available, 1 creating, 0 deleting", text)
    assert "nodepool.b: updated\n" in text
    assert re.search(r"nodepool\.a .*4/4 available, 0 creating, 0 deleting", text.splitlines()[-1])
