"""np never follows a redirect: every httpx client it builds (the API's, the state backends')
turns redirects off explicitly, so that neither a future default nor a copied constructor turns
them on. What a 3xx then means is the API client's business (tests/e2e/test_api_client.py)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"


def httpx_clients() -> list[tuple[str, ast.Call]]:
    """Every ``httpx.Client(...)`` and ``httpx.AsyncClient(...)`` call in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("Client", "AsyncClient")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "httpx"
            ):
                found.append((f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", node))
    return found


def refuses_redirects(call: ast.Call) -> bool:
    return any(
        keyword.arg == "follow_redirects"
        and isinstance(keyword.value, ast.Constant)
        and keyword.value.value is False
        for keyword in call.keywords
    )


def test_every_httpx_client_np_builds_refuses_redirects() -> None:
    clients = httpx_clients()
    files = {where.split(":")[0] for where, _ in clients}
    assert "reconciler/api/client.py" in files and any("/state/" in f for f in files)
    assert [where for where, call in clients if not refuses_redirects(call)] == []


def test_the_check_sees_a_client_that_follows() -> None:
    call = ast.parse("httpx.Client(timeout=1, follow_redirects=True)").body[0]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
    assert not refuses_redirects(call.value)
