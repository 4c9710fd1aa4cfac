"""The cyclic garbage collector paused while np builds what a run keeps: the configuration, the
state, the live world and the plan.

    with bulk():            # millions of acyclic objects, no collection in between
        config = build()
    # afterwards, what survived is frozen out of the collector's sight

Each step allocates hundreds of thousands of objects that live until np exits; with the
collector running, every young collection promotes them and each full collection rescans all
of them. Measured on a plan of 10,000 node pools: 814 young and 5 full collections, 0.9 s of a
9 s plan. Paused, nothing is scanned while the step runs. Afterwards the young generation is
collected once (cyclic garbage made during the step, such as finished HTTP exchanges, is
freed, not frozen), and what survived is moved to the permanent generation, which no later
collection scans (``gc.freeze``). Reference counting still frees everything that is not part
of a cycle, frozen or not.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def bulk() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.collect(0)
            gc.freeze()
            gc.enable()
