"""The bounds evaluation and its messages keep (issue 26, items 8, 10 and 11), piece by piece:
bytes spent besides steps, did-you-mean searches that share one allowance, numbers checked
where they enter, values cut where messages show them, files read without following a link."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.config.evaluation import functions
from reconciler.config.evaluation.limits import ELEMENT_BYTES, MAX_BYTES, Budget, Spent
from reconciler.config.evaluation.values import EvalError, Quiet
from reconciler.config.evaluation.variables import entry_problem
from reconciler.config.messages import (
    HINT_WORK,
    SEARCH_COST,
    Hints,
    describe,
    describe_type,
    excerpt,
    format_path,
    suggest,
)
from reconciler.config.syntax.nodes import SourceError
from reconciler.config.syntax.sources import read_text

# -- what messages show ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (10**63, "integer " + "1" + "0" * 63),
        (10**64, "integer 1" + "0" * 60 + "... (65 digits)"),
        (-(10**99), "integer -1" + "0" * 59 + "... (100 digits)"),
        (1e300, "number 1e+300"),
        ("x" * 64, 'string "' + "x" * 64 + '"'),
        ("x" * 65, 'string "' + "x" * 61 + '..."'),
        (["a"], "a list"),
    ],
)
def test_describe_cuts_what_it_shows(value: Any, shown: str) -> None:
    assert describe(value) == shown


def test_describe_shows_no_digits_of_an_integer_python_will_not_write() -> None:
    assert describe(10**5000) == "integer of more than 4,300 digits"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("secret", "a string"),
        (7, "an integer"),
        (7.5, "a number"),
        (True, "a bool"),
        (None, "null"),
        ({"a": "secret"}, "an object"),
        (frozenset({"secret"}), "a set"),
    ],
)
def test_describe_type_never_shows_the_value(value: Any, shown: str) -> None:
    assert describe_type(value) == shown


def test_paths_and_excerpts_are_cut() -> None:
    assert excerpt("k" * 64) == "k" * 64
    assert excerpt("k" * 5000) == "k" * 61 + "..."
    assert format_path(("labels", "k" * 100, 0)) == f'labels["{"k" * 61}..."][0]'


# -- did you mean ----------------------------------------------------------------------------


def test_suggestions_keep_finding_what_people_mistype() -> None:
    fields = ["count", "max_count", "labels"]
    assert suggest("maxCount", fields) == "max_count"
    assert suggest("COUNT", fields) == "count"
    assert suggest("lables", fields) == "labels"
    assert suggest("zzz", fields) is None


def test_long_names_and_candidates_are_not_compared() -> None:
    long = "a" * 65
    assert suggest(long + "x", [long]) is None
    assert suggest("ab" * 10, ["ab" * 10 + "c" * 45]) is None  # candidate of 65 characters
    assert suggest("ab" * 10, ["ab" * 10 + "c"]) == "ab" * 10 + "c"
    assert suggest(long, {long: 1}) == long  # an exact match is a lookup, whatever its length


def test_only_the_first_thousand_candidates_are_compared() -> None:
    candidates = [f"name{i:05d}" for i in range(2000)]
    assert suggest("name00999x", candidates) == "name00999"
    assert suggest("name01999x", candidates) != "name01999"


def test_searches_share_one_allowance_and_repeats_are_free() -> None:
    options = ["abcdef", "ghijkl"]
    cost = SEARCH_COST + len("abcdeg_") * len("abcdef_ghijkl_")
    hints = Hints(work=2 * cost)
    assert suggest("abcdeg", options, hints) == "abcdef"
    assert suggest("abcdeg", options, hints) == "abcdef"  # remembered: free
    assert hints.left == cost
    assert suggest("ghijkm", options, hints) == "ghijkl"
    assert suggest("abcdex", options, hints) is None  # does not fit: no hint, no error
    assert hints.left == 0
    assert suggest("abcdeg", ["abcdef"], Hints(work=0)) is None  # spent: nothing is compared
    assert suggest("ABCDEF", options, hints) == "abcdef"  # exact matches cost nothing
    assert Hints().left == HINT_WORK


# -- bytes -----------------------------------------------------------------------------------


def test_strings_made_spend_bytes_and_the_first_to_run_out_is_told() -> None:
    budget = Budget()
    made = "x" * 65_000
    for _ in range(MAX_BYTES // len(made)):
        budget.made(made)
    with pytest.raises(Spent, match="evaluation makes more than 64 MiB of values"):
        budget.made(made)
    with pytest.raises(Quiet):
        budget.made("x")


def test_a_kept_value_counts_its_shared_parts_every_time() -> None:
    budget = Budget()
    shared = "x" * 1000
    value = {"a": [shared] * 10, "b": shared}
    size = budget.size(value)
    assert size.weight == 13
    # two containers and twelve references to what they hold, the strings, the keys a and b
    assert size.bytes == ELEMENT_BYTES * (2 + 12) + 11 * 1000 + 2
    budget.kept(value)
    budget.kept(value)
    assert budget.bytes_left == MAX_BYTES - 2 * size.bytes


def test_format_v_charges_the_walk_and_the_bytes_of_what_it_writes() -> None:
    budget = Budget()
    value = [list(range(1000)), ["a", frozenset({"b"})]]
    weight, _, size = budget.size(value)
    steps, bytes_ = budget.left, budget.bytes_left
    assert functions.call("format", ["%.5v", value], budget) == "[[0, "
    assert steps - budget.left == weight + 3  # the walk, the call's two arguments, the verb
    assert bytes_ - budget.bytes_left == size + 5  # what is written, and the 5 characters kept


def test_split_spends_the_bytes_of_its_pieces() -> None:
    budget = Budget()
    functions.call("split", [",", "a," * 500], budget)
    assert MAX_BYTES - budget.bytes_left == 1000


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("range", [math.inf], "range(): argument 1 is not a finite number"),
        ("range", [0, math.nan, 1], "range(): argument 2 is not a finite number"),
        ("floor", [math.inf], "floor(): the argument is not a finite number"),
        ("ceil", [math.nan], "ceil(): the argument is not a finite number"),
        ("ceil", [10**30], "ceil(): the argument is out of range (at most 9223372036854775807 in"),
        ("abs", [-(2**63)], "abs(): the argument is out of range (at most 9223372036854775807 in"),
    ],
)
def test_functions_refuse_numbers_out_of_the_language(
    name: str, args: list[Any], message: str
) -> None:
    with pytest.raises(EvalError) as info:
        functions.call(name, args, Budget())
    assert info.value.message.startswith(message)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": [1, 2.5, "x"]}, None),
        (math.inf, "the number is not a finite number"),
        ({"a": [1, math.nan]}, "a[1]: the number is not a finite number"),
        ([2**63], "[0]: the number is out of range (at most 9223372036854775807 in magnitude)"),
        ([-(2**63) + 1], None),
        ({"k" * 70_000: 1}, "a key is longer than 65536 characters"),
        (["x" * 70_000], "[0]: string is longer than 65536 characters"),
        ([[[]]], None),
    ],
)
def test_values_from_outside_are_checked_before_use(value: Any, problem: str | None) -> None:
    assert entry_problem(value) == problem


def test_nesting_from_outside_is_bounded() -> None:
    value: Any = []
    for _ in range(32):
        value = [value]
    assert entry_problem(value) is None
    assert entry_problem([value]) == "value is nested deeper than 32 levels"


# -- reading ---------------------------------------------------------------------------------


def test_a_file_swapped_for_a_link_after_the_check_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """read_text opens the path files.py resolved without following a link: if the file has
    become a link since (here: resolution skipped), it is refused, not read."""
    (tmp_path / "secret").write_text("s3cr3t")
    (tmp_path / "np.npvars").symlink_to(tmp_path / "secret")
    assert read_text(tmp_path / "np.npvars") == "s3cr3t"
    monkeypatch.setattr(os.path, "realpath", lambda path: path)
    with pytest.raises(SourceError, match="cannot read the file: Too many levels of symbolic"):
        read_text(tmp_path / "np.npvars")
