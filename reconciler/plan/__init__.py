"""Plans: the data (``changes``), how one is made (``planner``, with ``moves`` and the API's
``rules``), and how one is saved and applied later (``saved``)."""

from reconciler.plan.changes import Action, Plan, ResourceChange, Summary, fingerprint

__all__ = ["Action", "Plan", "ResourceChange", "Summary", "fingerprint"]
