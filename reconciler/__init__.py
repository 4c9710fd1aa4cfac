"""np: a declarative reconciler for Huawei Cloud ModelArts node pools."""

import sys

__version__ = "0.1.0"

# httpx's package imports its own command-line tool (``httpx._main``), which imports rich,
# pygments and click's parts: about 0.09 s of every np start-up, for a tool np never runs.
# A ``None`` entry makes that import fail, and httpx then defines a stub ``main`` instead (its
# documented fallback when those extras are missing). rich still loads where np draws
# progress bars.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
