"""Where one np command's wall time goes, by phase, from stack samples (not a profiler: a
profiler's overhead falls unevenly on call-heavy code and would distort the shares).

    .venv/bin/python -m bench.phases [-C DIR] -- plan --json

Runs np in this process with a thread that samples the main thread's stack every millisecond
and names the phase of each sample by the first frame it recognises, innermost first:
imports, the HCL and YAML parsers, the parse cache, the rest of loading the configuration
(evaluation and validation), the HTTP client's own work, waiting for the network (the event
loop idle in select), planning, rendering; "other" is the rest (the CLI, state, start-up).
Prints one line per phase: share of the samples and the seconds they stand for.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import threading
import time
from collections import Counter
from types import FrameType

# (phase, what a frame's file path contains, or a function name after ":")
PHASES: list[tuple[str, tuple[str, ...]]] = [
    # httpcore looks for sniffio at every request; where it is not installed, each look is a
    # failed import that searches the whole sys.path
    ("HTTP client: import sniffio, failing", (":current_async_library",)),
    ("imports", ("<frozen importlib._bootstrap",)),
    ("parse HCL/YAML", ("config/syntax/hcl_", "config/syntax/prescan", "config/syntax/yaml_")),
    ("parse cache", ("config/syntax/cache",)),
    ("waiting for the network", (":select", ":_run_once_idle")),
    ("HTTP client", ("/httpx/", "/httpcore/", "/h11/", "/anyio/", "reconciler/api/")),
    ("configuration (evaluate, validate)", ("reconciler/config/",)),
    ("planning", ("reconciler/plan/", "reconciler/diff", "reconciler/live")),
    ("rendering", ("reconciler/render/",)),
]


def phase_of(frame: FrameType | None) -> str:
    names: list[tuple[str, str]] = []
    while frame is not None:
        names.append((frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back
    for phase, marks in PHASES[:1]:  # anywhere on the stack
        if any(function == marks[0][1:] for _, function in names):
            return phase
    for filename, function in names:  # innermost first
        for phase, marks in PHASES[1:]:
            for mark in marks:
                if mark.startswith(":") and function == mark[1:]:
                    return phase
                if not mark.startswith(":") and mark in filename:
                    return phase
    return "other"


class Sampler(threading.Thread):
    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.target = threading.main_thread().ident
        self.samples: Counter[str] = Counter()
        self.running = True

    def run(self) -> None:
        while self.running:
            frame = sys._current_frames().get(self.target or 0)
            self.samples[phase_of(frame)] += 1
            time.sleep(self.interval)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-C", "--chdir", default=".", help="The configuration directory.")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="np's arguments, after --.")
    options = parser.parse_args()
    args = [a for a in options.args if a != "--"]
    os.chdir(options.chdir)
    # The sampler runs when the main thread lets go of the GIL: at once when it blocks, else
    # after the switch interval (5 ms by default). A short interval spreads the samples over
    # computing too, instead of piling them on system calls.
    sys.setswitchinterval(0.0002)
    sampler = Sampler(0.001)
    started = time.perf_counter()
    sampler.start()
    from reconciler.cli import main as np_main

    code: object = 0
    sys.argv = ["np", *args]
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            np_main()
        except SystemExit as exc:
            code = exc.code
    wall = time.perf_counter() - started
    sampler.running = False
    total = sum(sampler.samples.values())
    print(f"np {' '.join(args)}: {wall:.2f} s, exit {code}, {total} samples")
    for phase, count in sampler.samples.most_common():
        print(f"  {phase:<36} {100 * count / total:5.1f} %  {wall * count / total:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
