"""Node-pool addresses as the configuration writes them: an HCL traversal (``nodepool.a``,
``nodepool.a["k"]``) or a YAML string, read in the one grammar of ``reconciler.identifiers``.

    address_of(node)   # -> 'nodepool.gpu["a100"]'
"""

from __future__ import annotations

from reconciler.config.syntax.nodes import BareName, GetAttr, Index, Node, Scalar
from reconciler.identifiers import ADDRESS_SHAPE, LABEL, address, parse_address

__all__ = ["LABEL", "address", "address_of", "parse_address"]


def address_of(node: Node) -> str:
    """The address an HCL traversal (``nodepool.a``, ``nodepool.a["k"]``) or a YAML string
    names, in its one written form; ValueError otherwise."""
    if isinstance(node, Scalar) and isinstance(node.value, str):
        return address(*parse_address(node.value))
    key = None
    if isinstance(node, Index):
        if not (isinstance(node.key, Scalar) and isinstance(node.key.value, str)):
            raise ValueError(f"an instance key must be a quoted string: {ADDRESS_SHAPE}")
        key, node = node.key.value, node.target
    if isinstance(node, GetAttr) and node.target == BareName("nodepool", node.target.pos):
        return address(node.name, key)
    raise ValueError(f"expected a node pool address ({ADDRESS_SHAPE})")
