"""State: what np applied to each node pool, kept between runs, and the lock around it."""

from reconciler.state.document import ResourceState, State
from reconciler.state.local import Journal, StateFile

__all__ = ["Journal", "ResourceState", "State", "StateFile"]
