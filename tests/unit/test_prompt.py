"""The approval prompt answers a Ctrl-C at once, whenever it lands."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import IO

import pytest

from reconciler.cli.app import ask


@pytest.fixture
def keyboard(monkeypatch: pytest.MonkeyPatch) -> Iterator[IO[bytes]]:
    """stdin is a pipe the test types into; SIGINT raises KeyboardInterrupt, as in a shell."""
    read_end, write_end = os.pipe()
    monkeypatch.setattr(sys, "stdin", open(read_end, encoding="utf-8"))  # noqa: SIM115
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    with open(write_end, "wb", buffering=0) as typing:
        yield typing
    signal.signal(signal.SIGINT, previous)
    sys.stdin.close()


def test_the_answer_is_the_line_typed(keyboard: IO[bytes]) -> None:
    keyboard.write(b"  yes \n")
    assert ask() == "yes"


def test_end_of_input_is_no_answer(keyboard: IO[bytes]) -> None:
    keyboard.close()
    assert ask() == ""


def test_a_ctrl_c_that_misses_the_blocked_read_still_cancels_at_once(
    keyboard: IO[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    """A signal handled in another thread leaves the main thread's read blocked, exactly as one
    that lands between the prompt and the read: only Enter would end it. Enter comes 10 s
    later here; the prompt must have given up before anyone pressed it."""
    pressed = threading.Event()

    def press_enter() -> None:
        pressed.set()
        keyboard.write(b"late\n")

    interrupt = threading.Timer(0.2, signal.raise_signal, (signal.SIGINT,))
    enter = threading.Timer(10.0, press_enter)
    interrupt.start()
    enter.start()
    try:
        assert ask() == ""
        assert not pressed.is_set()
    finally:
        enter.cancel()
        interrupt.join()
    assert capsys.readouterr().out == "  Enter a value: \n"
