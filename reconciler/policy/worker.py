"""The child process that runs policies: ``python -m reconciler.policy.worker``.

It reads one JSON request on stdin and writes one JSON response on the pipe that was its stdout:

    {"modules": [[name, text], ...], "queries": [[label, query], ...], "input": {...} | null,
     "memory_mb": 2048}
    → {"ok": true, "answers": [{"value": ..., "defined": true} | {"error": "..."}, ...]}
    → {"ok": false, "module": name, "error": "..."}         a module rego-cpp cannot parse
    → {"ok": false, "fatal": "...", "memory": bool}          anything else

Before each query it writes ``@<index>`` on stderr, so that a parent which had to stop it
(time, memory) can say which policy was running. rego-cpp prints parse errors and ``print()``
output on file descriptor 1, so that descriptor is pointed at /dev/null and the response goes
out on a copy of the original pipe.

Only the standard library and regopy are imported here: this process runs code from a pull
request, and the parent gave it no credentials, no files but its pipes, and limits on CPU and
memory (see ``sandbox.py``). The address-space limit is set here, once rego-cpp's allocator has
reserved its arena, and before any policy is read.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys
from typing import Any

# rego-cpp's error text: ``(error <n>:<file>|<offset>|<length> (errormsg <n>:<message>) ...)``
# with length-prefixed strings; these pull out messages and the first location.


def _prefixed(text: str, at: int) -> tuple[str, int] | None:
    """The length-prefixed string ``<n>:<chars>`` at ``at``, and where it ends."""
    colon = text.find(":", at)
    if colon < 0 or not text[at:colon].isdigit():
        return None
    n = int(text[at:colon])
    return text[colon + 1 : colon + 1 + n], colon + 1 + n


def error_parts(text: str) -> list[dict[str, Any]]:
    """Each error in rego-cpp's error text: its message, and its module and byte offset
    when it has a location."""
    errors: list[dict[str, Any]] = []
    at = 0
    while True:
        start = text.find("(errormsg ", at)
        if start < 0:
            break
        got = _prefixed(text, start + len("(errormsg "))
        if got is None:
            break
        message, end = got
        where = _location(text[text.rfind("(error", 0, start) : start]) or _location(
            text[end : _next_error(text, end)]
        )
        errors.append({"message": message, **(where or {})})
        at = end
    return errors


def _next_error(text: str, at: int) -> int:
    nxt = text.find("(error", at)
    return len(text) if nxt < 0 else nxt


def _location(chunk: str) -> dict[str, Any] | None:
    """The first ``<n>:<file>|<offset>|<length>`` in ``chunk``."""
    at = 0
    while True:
        bar = chunk.find("|", at)
        if bar < 0:
            return None
        # walk back to the length prefix: digits then ':' right before the file name
        start = chunk.rfind(" ", 0, bar) + 1
        got = _prefixed(chunk, start)
        if got is not None:
            name, end = got
            rest = chunk[end:].split("|")
            if len(rest) >= 3 and rest[1].isdigit():
                return {"module": name, "offset": int(rest[1])}
        at = bar + 1


_NOT_JSON = (
    "rego-cpp returned a result that is not valid JSON (rego-cpp 1.5 quotes a string made by "
    "concat, upper or lower when it is not the first argument of sprintf: build the message "
    "with concat; see docs/policy.md)"
)


class _Rego:
    """The few rego-cpp C calls np needs, straight through ctypes: regopy's Python ``Input``
    builder costs about three times as much per value, and its ``Output`` cannot read an
    error that comes back as a result."""

    def __init__(self) -> None:
        import regopy  # type: ignore[import-untyped]
        from regopy import rego_shared

        self.regopy = regopy
        lib = rego_shared.rego
        self.lib = lib
        lib.regoSetInput.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.regoSetInput.restype = ctypes.c_uint32
        self.shared = rego_shared

    def interpreter(self) -> Any:
        rego = self.regopy.Interpreter()
        rego.strict_built_in_errors = True  # a builtin error fails the policy, never hides
        return rego

    def build_input(self, value: Any) -> Any:
        lib = self.lib
        handle = lib.regoNewInput()
        put_str, put_int, put_float = lib.regoInputString, lib.regoInputInt, lib.regoInputFloat
        put_bool, put_null, put_item = (
            lib.regoInputBoolean,
            lib.regoInputNull,
            lib.regoInputObjectItem,
        )
        put_obj, put_arr = lib.regoInputObject, lib.regoInputArray
        encoded: dict[str, bytes] = {}

        def text(s: str) -> bytes:
            b = encoded.get(s)
            if b is None:
                # a C string ends at NUL: rego-cpp cannot be given one, U+FFFD stands in
                b = encoded[s] = s.replace("\x00", "\ufffd").encode()
            return b

        def add(v: Any) -> None:
            t = type(v)
            if t is str:
                put_str(handle, text(v))
            elif t is dict:
                for k, x in v.items():
                    put_str(handle, text(k))
                    add(x)
                    put_item(handle)
                put_obj(handle, len(v))
            elif t is list:
                for x in v:
                    add(x)
                put_arr(handle, len(v))
            elif t is bool:
                put_bool(handle, v)
            elif t is int:
                if -(2**63) <= v < 2**63:
                    put_int(handle, v)
                else:
                    put_float(handle, float(v))
            elif t is float:
                put_float(handle, v)
            elif v is None:
                put_null(handle)
            else:
                raise TypeError(f"cannot give rego-cpp a {t.__name__}")

        add(value)
        return handle

    def set_input(self, rego: Any, handle: Any) -> None:
        if self.lib.regoSetInput(rego._impl, handle):
            raise RuntimeError("rego-cpp refused the input")

    def query(self, rego: Any, query: str) -> dict[str, Any]:
        shared = self.shared
        out = shared.rego_query(rego._impl, query)
        try:
            ok = shared.rego_output_ok(out)
            text = shared.rego_output_string(out)
            if ok and not text.startswith("("):
                if text == "undefined":
                    return {"defined": False}
                try:
                    expressions = json.loads(text).get("expressions", [])
                except ValueError:
                    return {"error": [{"message": _NOT_JSON}]}
                return {
                    "defined": bool(expressions),
                    "value": expressions[0] if expressions else None,
                }
            if ok:
                return {"error": error_parts(text) or [{"message": text[:500]}]}
            return {"error": self._errors(out)}
        finally:
            shared.rego_free_output(out)

    def _errors(self, out: Any) -> list[dict[str, Any]]:
        lib, shared = self.lib, self.shared
        node = lib.regoOutputNode(out)
        parts: list[dict[str, Any]] = []
        if node:
            for i in range(lib.regoNodeSize(node)):
                parts += error_parts(shared.rego_node_json(lib.regoNodeGet(node, i)))
        return parts or [{"message": "rego-cpp reported an error without a message"}]


def _vm_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _limit_memory(budget_mb: int) -> None:
    """rego-cpp's allocator (snmalloc) reserves ~256 GiB of address space when it starts, so
    an absolute RLIMIT_AS stops it from starting at all; the limit is what is mapped now plus
    the budget."""
    used = _vm_bytes()
    if used is None or budget_mb <= 0:
        return
    limit = used + budget_mb * 2**20
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def serve(request: dict[str, Any], progress: Any) -> dict[str, Any]:
    rego_api = _Rego()
    rego = rego_api.interpreter()
    _limit_memory(int(request.get("memory_mb", 0)))
    for name, text in request["modules"]:
        try:
            rego.add_module(name, text)
        except rego_api.regopy.RegoError as exc:
            return {"ok": False, "module": name, "error": error_parts(str(exc)) or str(exc)}
    if request.get("input") is not None:
        rego_api.set_input(rego, rego_api.build_input(request["input"]))
    answers = []
    for i, (_label, query) in enumerate(request["queries"]):
        progress.write(f"@{i}\n")
        progress.flush()
        try:
            answers.append(rego_api.query(rego, query))
        except rego_api.regopy.RegoError as exc:
            answers.append({"error": error_parts(str(exc)) or [{"message": str(exc)[:500]}]})
    return {"ok": True, "answers": answers}


def main() -> None:
    response_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # rego-cpp's prints (parse errors, print()) go nowhere
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    try:
        request = json.loads(sys.stdin.buffer.read())
        response = serve(request, sys.stderr)
    except MemoryError:
        response = {"ok": False, "fatal": "out of memory", "memory": True}
    except BaseException as exc:  # the parent turns this into one line; never a traceback
        response = {"ok": False, "fatal": f"{type(exc).__name__}: {exc}"[:1000], "memory": False}
    data = json.dumps(response, ensure_ascii=True).encode()
    with os.fdopen(response_fd, "wb") as out:
        out.write(data)


if __name__ == "__main__":
    main()
