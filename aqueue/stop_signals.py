"""Stop on SIGTERM and SIGINT (and SIGBREAK on Windows), on any event loop.

``loop.add_signal_handler`` is the way on Unix event loops, but Windows'
loops raise ``NotImplementedError`` for it, and no loop can take it outside
the main thread. There, a plain ``signal.signal`` handler passes the signal to
the loop with ``call_soon_threadsafe`` (Python runs signal handlers in the
main thread between bytecodes, so the loop is woken, not interrupted). Where
neither can be installed (a worker run in a thread that is not the main
one), nothing is: whoever started that thread stops the worker.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

Undo = Callable[[], None]


def stop_signals() -> list[signal.Signals]:
    """The signals that ask a process to stop, on this platform."""
    found = [signal.SIGTERM, signal.SIGINT]
    brk = getattr(signal, "SIGBREAK", None)  # Windows' Ctrl+Break
    if brk is not None:
        found.append(brk)
    return found


def on_stop_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> Undo:
    """Call ``callback`` on ``loop`` at each stop signal; returns what puts
    the previous handlers back."""
    undo: list[Undo] = []
    for signum in stop_signals():
        previous = signal.getsignal(signum)
        try:
            loop.add_signal_handler(signum, callback)
        except (NotImplementedError, RuntimeError, ValueError):
            installed = _fallback(loop, signum, callback)
            if installed is None:
                log.debug("signal %s: no handler can be installed here", signum.name)
                continue
            undo.append(installed)
        else:
            undo.append(functools.partial(_remove, loop, signum, previous))

    def restore() -> None:
        for step in reversed(undo):
            step()

    return restore


def _remove(loop: asyncio.AbstractEventLoop, signum: signal.Signals, previous: Any) -> None:
    # The loop puts back its own default (SIGINT: KeyboardInterrupt), not
    # what was there before, e.g. asyncio.run's own SIGINT handler.
    if not loop.is_closed():
        loop.remove_signal_handler(signum)
    if previous is not None:
        _put_back(signum, previous)


def _fallback(
    loop: asyncio.AbstractEventLoop, signum: signal.Signals, callback: Callable[[], object]
) -> Undo | None:
    """A ``signal.signal`` handler that hands the signal to ``loop``, or None
    where Python allows none (outside the main thread)."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(callback)

    try:
        previous = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        return None
    return functools.partial(_put_back, signum, previous)


def _put_back(signum: signal.Signals, previous: Any) -> None:
    signal.signal(signum, previous)
