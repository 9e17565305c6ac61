"""Stop signals on loops with and without ``add_signal_handler``: real
signals sent to this process, handlers put back afterwards."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import Any

import pytest

from aqueue.stop_signals import on_stop_signals, stop_signals

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGTERM") or os.name != "posix", reason="sends POSIX signals"
)


class NoSignalHandlersLoop(asyncio.SelectorEventLoop):
    """A loop without ``add_signal_handler``, as Windows' loops are."""

    def add_signal_handler(self, sig: int, callback: Any, *args: Any) -> None:  # type: ignore[override]
        raise NotImplementedError


async def _stopped_by(signum: signal.Signals) -> None:
    stopped = asyncio.Event()
    before = {s: signal.getsignal(s) for s in stop_signals()}
    restore = on_stop_signals(asyncio.get_running_loop(), stopped.set)
    try:
        assert all(signal.getsignal(s) is not before[s] for s in stop_signals())
        os.kill(os.getpid(), signum)
        await asyncio.wait_for(stopped.wait(), 5)
    finally:
        restore()
    assert {s: signal.getsignal(s) for s in stop_signals()} == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_unix_loop_takes_the_signal_through_add_signal_handler(signum: signal.Signals) -> None:
    asyncio.run(_stopped_by(signum))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_loop_without_add_signal_handler_falls_back_to_signal_signal(
    signum: signal.Signals,
) -> None:
    loop = NoSignalHandlersLoop()
    try:
        loop.run_until_complete(_stopped_by(signum))
    finally:
        loop.close()


def test_outside_the_main_thread_nothing_is_installed_and_nothing_fails() -> None:
    before = {s: signal.getsignal(s) for s in stop_signals()}
    outcome: list[object] = []

    def in_a_thread() -> None:
        async def install() -> None:
            restore = on_stop_signals(asyncio.get_running_loop(), lambda: None)
            restore()

        for loop in (asyncio.new_event_loop(), NoSignalHandlersLoop()):
            try:
                loop.run_until_complete(install())
                outcome.append("ok")
            except BaseException as exc:  # pragma: no cover - the failure reported below
                outcome.append(exc)
            finally:
                loop.close()

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(10)
    assert outcome == ["ok", "ok"]
    assert {s: signal.getsignal(s) for s in stop_signals()} == before


def test_a_signal_after_the_loop_closed_is_ignored() -> None:
    loop = NoSignalHandlersLoop()
    calls: list[None] = []

    async def install() -> Any:
        return on_stop_signals(asyncio.get_running_loop(), lambda: calls.append(None))

    restore = loop.run_until_complete(install())
    loop.close()
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # the handler sees a closed loop: no error
    finally:
        restore()
    assert calls == []
