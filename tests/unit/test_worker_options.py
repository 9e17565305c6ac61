"""The worker's command-line values: sizes, per-queue slots, exit descriptions."""

from __future__ import annotations

import argparse
import signal

import pytest

from aqueue._worker.processes import describe_exit, start_method
from aqueue.cli.worker import byte_size, queue_slot


@pytest.mark.parametrize(
    ("text", "size"),
    [("200MB", 200 * 10**6), ("1GiB", 2**30), ("1.5gb", 15 * 10**8), ("512k", 512_000), ("42", 42)],
)
def test_sizes(text: str, size: int) -> None:
    assert byte_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "12XB", "-5MB", "0", "1e3MB"])
def test_bad_sizes_are_refused_by_value(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        byte_size(text)


def test_queue_slots() -> None:
    assert queue_slot("emails=5") == ("emails", 5)
    assert queue_slot("a=b=2") == ("a=b", 2)  # the name is all before the last =
    for bad in ("emails", "=5", "emails=", "emails=x", "emails=0"):
        with pytest.raises(argparse.ArgumentTypeError):
            queue_slot(bad)


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL (signal 9)"
    assert describe_exit(-250) == "killed by an unknown signal (signal 250)"
    assert describe_exit(None) == "no exit status"


def test_children_are_never_a_bare_fork() -> None:
    assert start_method() in ("forkserver", "spawn")
