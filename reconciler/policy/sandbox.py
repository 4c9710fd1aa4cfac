"""Running policies in a child process that holds no secrets and cannot run away.

    answers = run_workers([request_a, request_b], Limits())   # one child each, in parallel

A policy from a pull request is untrusted code, and rego-cpp's ``opa.runtime()`` returns the
process environment (AK/SK, ``NP_PG_CONN_STR``, ...). So policies never run in np's process:

- the child's environment is built from nothing (``PATH``, ``LANG``, ``TZ``), not copied from
  np's with names taken out, so a credential np learns about tomorrow is not leaked either;
- it starts in np's own package directory with ``-E -s -B`` (no ``PYTHON*`` variables, no user
  site, no bytecode written), so nothing in the configuration directory is imported;
- ``RLIMIT_CPU`` (SIGXCPU, then SIGKILL a second later), ``RLIMIT_CORE`` 0 and ``RLIMIT_FSIZE``
  0 are set in ``preexec_fn``; the address space is limited by the worker itself, relative to
  what rego-cpp's allocator reserves at start (see ``worker._limit_memory``);
- a wall-clock timeout kills the child's whole process group.

Whatever happens, the caller gets answers or one ``PolicyError`` line: never a traceback, and
never the child's stderr (it could print anything).
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import reconciler
from reconciler.policy.results import PolicyError, clean

WORKER = "reconciler.policy.worker"
# np's own installation: the child imports the worker from here and nowhere else.
_PACKAGE_ROOT = Path(reconciler.__file__).resolve().parent.parent


@dataclass(frozen=True)
class Limits:
    """How much one policy evaluation may use. ``NP_POLICY_TIMEOUT`` (seconds, CPU and wall)
    and ``NP_POLICY_MEMORY_MB`` change the defaults."""

    cpu_seconds: float = 10.0
    wall_seconds: float = 20.0
    memory_mb: int = 2048

    def scaled(self, node_pools: int) -> Limits:
        """These limits for an input of ``node_pools`` resource changes: rego-cpp needs about
        1 s of CPU and 100 MB per 1,000 node pools before a rule runs, so a large plan is not
        taken for a runaway policy (2 s CPU, 4 s wall and 150 MB more per 1,000)."""
        thousands = max(0, node_pools) // 1000
        return Limits(
            self.cpu_seconds + 2 * thousands,
            self.wall_seconds + 4 * thousands,
            self.memory_mb + int(150 * thousands),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Limits:
        limits = cls()
        timeout = environ.get("NP_POLICY_TIMEOUT")
        memory = environ.get("NP_POLICY_MEMORY_MB")
        try:
            if timeout:
                seconds = float(timeout)
                if not 0 < seconds <= 3600:
                    raise ValueError
                limits = cls(seconds, seconds * 2, limits.memory_mb)
            if memory:
                mb = int(memory)
                if not 64 <= mb <= 1 << 20:
                    raise ValueError
                limits = cls(limits.cpu_seconds, limits.wall_seconds, mb)
        except ValueError:
            raise PolicyError(
                "NP_POLICY_TIMEOUT must be seconds (0-3600) and NP_POLICY_MEMORY_MB "
                "megabytes (64 or more)"
            ) from None
        return limits


def child_environment() -> dict[str, str]:
    """The child's whole environment. Nothing from np's is copied."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC"}


def _preexec(cpu_seconds: float) -> Callable[[], None]:
    soft = max(1, math.ceil(cpu_seconds))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    return limit


@dataclass
class Job:
    """One child's work: the request, and how to name what it was doing when it stopped."""

    request: dict[str, Any]
    describe: Callable[[int | None], str]  # progress index → "policy/x.rego"


@dataclass
class _Outcome:
    stdout: bytes = b""
    stderr: bytes = b""
    returncode: int | None = None
    timed_out: bool = False
    failure: str | None = None


def run_workers(jobs: Sequence[Job], limits: Limits) -> list[dict[str, Any]]:
    """Run each job in its own child, two at a time, and return their responses in order.
    Any child that fails makes the whole call fail (the first failure is reported)."""
    responses: list[dict[str, Any]] = []
    for at in range(0, len(jobs), 2):
        batch = jobs[at : at + 2]
        outcomes = _run_batch([job.request for job in batch], limits)
        for job, outcome in zip(batch, outcomes, strict=True):
            responses.append(_response(job, outcome, limits))
    return responses


def _run_batch(requests: list[dict[str, Any]], limits: Limits) -> list[_Outcome]:
    """Start every child from this thread (``preexec_fn`` is not safe to fork from others),
    then feed and drain them in threads so they run at the same time."""
    payloads = [json.dumps(r, ensure_ascii=False).encode() for r in requests]
    procs: list[subprocess.Popen[bytes] | None] = []
    outcomes = [_Outcome() for _ in requests]
    for i, _payload in enumerate(payloads):
        try:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-E", "-s", "-B", "-m", WORKER],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=_PACKAGE_ROOT,
                    env=child_environment(),
                    preexec_fn=_preexec(limits.cpu_seconds),  # forked from this thread only
                    start_new_session=True,
                )
            )
        except OSError as exc:
            outcomes[i].failure = f"cannot start the policy worker: {exc.strerror}"
            procs.append(None)

    def communicate(i: int) -> None:
        proc = procs[i]
        if proc is None:
            return
        outcome = outcomes[i]
        try:
            outcome.stdout, outcome.stderr = proc.communicate(
                payloads[i], timeout=limits.wall_seconds
            )
        except subprocess.TimeoutExpired as exc:
            outcome.timed_out = True
            _kill(proc)
            outcome.stdout, outcome.stderr = proc.communicate()
            outcome.stderr = outcome.stderr or (exc.stderr or b"")
        except OSError as exc:  # a broken pipe: the child died while reading its input
            _kill(proc)
            outcome.stdout, outcome.stderr = proc.communicate()
            outcome.failure = None if proc.returncode else f"policy worker: {exc.strerror}"
        outcome.returncode = proc.returncode

    threads = [threading.Thread(target=communicate, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _last_progress(stderr: bytes) -> int | None:
    marks = [line for line in stderr.decode("utf-8", "replace").splitlines() if line[:1] == "@"]
    try:
        return int(marks[-1][1:]) if marks else None
    except ValueError:
        return None


class WorkerStopped(PolicyError):
    """The child stopped (a limit, a crash) while running query ``index`` (None: before the
    first query), so a caller running independent queries can go on after it."""

    def __init__(self, message: str, index: int | None) -> None:
        super().__init__(message)
        self.index = index


def _response(job: Job, outcome: _Outcome, limits: Limits) -> dict[str, Any]:
    index = _last_progress(outcome.stderr)
    where = job.describe(index)
    if outcome.failure:
        raise PolicyError(outcome.failure)
    if outcome.timed_out:
        raise WorkerStopped(
            f"{where}: policy evaluation stopped after {limits.wall_seconds:g} s (the time "
            "limit; NP_POLICY_TIMEOUT raises it): a policy that loops or builds huge sets?",
            index,
        )
    code = outcome.returncode
    out_of_memory = b"bad_alloc" in outcome.stderr or b"MemoryError" in outcome.stderr
    if code is not None and code < 0:
        sig = -code
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            raise WorkerStopped(
                f"{where}: policy evaluation stopped after {math.ceil(limits.cpu_seconds)} s "
                "of CPU (the time limit; NP_POLICY_TIMEOUT raises it): a policy that loops or "
                "builds huge sets?",
                index,
            )
        if out_of_memory:
            raise WorkerStopped(_memory_message(where, limits), index)
        raise WorkerStopped(
            f"{where}: rego-cpp crashed ({_signal_name(sig)}) evaluating this policy; "
            "rego-cpp 1.5 does on `with input as {...}` when the rules call builtins "
            "(replace input key by key: `with input.resource_changes as ...`)",
            index,
        )
    try:
        response = json.loads(outcome.stdout)
        if not isinstance(response, dict):
            raise ValueError
    except ValueError:
        raise WorkerStopped(
            f"{where}: the policy worker failed (exit {code}) without an answer", index
        ) from None
    if response.get("ok") is False and "fatal" in response:
        if response.get("memory"):
            raise WorkerStopped(_memory_message(where, limits), index)
        raise PolicyError(
            f"{where}: policy evaluation failed: {clean(str(response['fatal']), 500)}"
        )
    return response


def _memory_message(where: str, limits: Limits) -> str:
    return (
        f"{where}: policy evaluation ran out of memory (limit {limits.memory_mb} MB; "
        "NP_POLICY_MEMORY_MB raises it): a policy that builds huge sets?"
    )


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)
