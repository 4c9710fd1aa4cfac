"""Node-pool addresses: ``nodepool.NAME``, or ``nodepool.NAME["KEY"]`` for an instance of a
``for_each`` block, written and read the one way everywhere (plans, state, --target, moved).

    address("gpu", "a100")               # -> 'nodepool.gpu["a100"]'
    parse_address('nodepool.gpu["a100"]')  # -> ("gpu", "a100")
"""

from __future__ import annotations

import json
import re

from reconciler.config.messages import excerpt
from reconciler.config.syntax.nodes import BareName, GetAttr, Index, Node, Scalar

LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
"""What a block label may be (so that it reads as a name in an address)."""
_ADDRESS = re.compile(rf'nodepool\.({LABEL.pattern})(?:\[("(?:[^"\\]|\\.)*")\])?')
_SHAPE = 'nodepool.NAME or nodepool.NAME["KEY"]'


def address(label: str, key: str | None = None) -> str:
    """The address of a block, or of one instance of a ``for_each`` block."""
    if key is None:
        return f"nodepool.{label}"
    return f"nodepool.{label}[{json.dumps(key, ensure_ascii=False)}]"


def parse_address(text: str) -> tuple[str, str | None]:
    """``(label, key)`` of an address; ValueError naming the expected shape otherwise."""
    match = _ADDRESS.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{excerpt(text)!r} is not a node pool address ({_SHAPE})")
    label, quoted = match.groups()
    try:
        key = None if quoted is None else json.loads(quoted)
    except ValueError:
        raise ValueError(f"{excerpt(text)!r}: the key is not a valid quoted string") from None
    return label, key


def address_of(node: Node) -> str:
    """The address an HCL traversal (``nodepool.a``, ``nodepool.a["k"]``) or a YAML string
    names, in its one written form; ValueError otherwise."""
    if isinstance(node, Scalar) and isinstance(node.value, str):
        return address(*parse_address(node.value))
    key = None
    if isinstance(node, Index):
        if not (isinstance(node.key, Scalar) and isinstance(node.key.value, str)):
            raise ValueError(f"an instance key must be a quoted string: {_SHAPE}")
        key, node = node.key.value, node.target
    if isinstance(node, GetAttr) and node.target == BareName("nodepool", node.target.pos):
        return address(node.name, key)
    raise ValueError(f"expected a node pool address ({_SHAPE})")
