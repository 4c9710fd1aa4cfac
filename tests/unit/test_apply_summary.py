"""How an apply ends, in words: each node pool is counted once."""

from __future__ import annotations

from reconciler.apply import Outcome, summarise


def test_a_change_that_landed_but_did_not_converge_is_one_changed_node_pool() -> None:
    summary = summarise([Outcome("nodepool.a", "update", "timed out", applied=True)])
    assert summary.verdict == (
        "Apply failed! Resources: 0 added, 1 changed, 0 destroyed; "
        "1 of them did not converge (nodepool.a)."
    )
    assert summary.problems == ("Error: nodepool.a: timed out",)
    assert not summary.ok


def test_failures_before_and_after_the_request_are_told_apart() -> None:
    summary = summarise(
        [
            Outcome("nodepool.a", "create", applied=True),
            Outcome("nodepool.b", "update", "HTTP 400"),
            Outcome("nodepool.c", "delete", applied=True),
        ]
    )
    assert summary.verdict == (
        "Apply failed! Resources: 1 added, 0 changed, 1 destroyed; 1 failed (nodepool.b)."
    )


def test_an_interrupted_apply_names_what_was_not_started() -> None:
    summary = summarise(
        [
            Outcome("nodepool.a", "update", applied=True),
            Outcome("nodepool.b", "update", "not started (interrupted)", started=False),
        ]
    )
    assert summary.problems == (
        "Interrupted: 1 done, 0 failed, 1 not started (nodepool.b). "
        "Run np apply again to continue.",
    )
    assert summary.verdict.startswith("Apply interrupted! Resources: 0 added, 1 changed")
    assert not summary.ok


def test_a_clean_apply_is_complete() -> None:
    summary = summarise([Outcome("nodepool.a", "update", applied=True)])
    assert (summary.verdict, summary.ok) == (
        "Apply complete! Resources: 0 added, 1 changed, 0 destroyed.",
        True,
    )
