"""Run one command from this small interpreter and report what it cost, as JSON on a given fd.

    python bench/launch.py REPORT_FD TIMEOUT -- ARGV...

Why not straight from the benchmark: a child forked from a large process reports that
process's size as its own peak RSS. Linux keeps, across exec, the larger of the forked copy's
peak and the new program's (``ru_maxrss``), and the benchmark holds whole fleets in memory
(measured: ``python -c pass`` forked from a 315 MiB process reports 315 MiB). Forked from here,
the command's peak is its own. Wall time is measured here too, from spawn to exit, so this
interpreter's start-up is not counted. The command inherits this process's working directory,
environment, stdout and stderr; its stdin is empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time


def main() -> None:
    report_fd, timeout = int(sys.argv[1]), float(sys.argv[2])
    argv = sys.argv[4:]  # after "--"
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)  # close_fds: not the report fd
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    wall = time.perf_counter() - start
    report = {
        "code": os.waitstatus_to_exitcode(status),
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,  # Linux reports KiB
    }
    with os.fdopen(report_fd, "w") as out:
        json.dump(report, out)


if __name__ == "__main__":
    main()
