"""Threads for sync tasks: never more than the worker's concurrency, counted while abandoned.

A timeout or a cancel cannot stop Python code running in a thread. The job's
attempt ends on time all the same, but its thread runs on: it is *abandoned*.
Each abandoned thread still holds one of the worker's slots until it really
ends, so a task that hangs cannot make the worker run more threads (or more
jobs) than its concurrency. Threads are daemons: a hung one never holds up
the process's exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("aqueue.worker")


class _Call:
    """One function to run, and whether a thread took it or its caller gave up first."""

    __slots__ = ("func", "future", "lock", "loop", "state")

    def __init__(
        self, func: Callable[[], Any], loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]
    ) -> None:
        self.func, self.loop, self.future = func, loop, future
        self.lock = threading.Lock()
        self.state = "waiting"  # then "running" (a thread took it) or "dropped"

    def take(self) -> bool:
        with self.lock:
            if self.state != "waiting":
                return False
            self.state = "running"
            return True

    def drop(self) -> bool:
        """Give up on a call no thread has taken yet; False once one has."""
        with self.lock:
            if self.state != "waiting":
                return False
            self.state = "dropped"
            return True


class SyncRunner:
    """Runs sync functions on at most ``max_threads`` daemon threads."""

    def __init__(self, max_threads: int, on_thread_freed: Callable[[], None] | None = None) -> None:
        self._max_threads = max_threads
        self._on_thread_freed = on_thread_freed
        self._work: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads = 0
        self._idle = 0  # threads waiting for work
        self._queued = 0  # work no thread has picked up yet
        self._lock = threading.Lock()
        #: Threads still running a function whose caller stopped waiting.
        self.abandoned = 0

    async def run(self, func: Callable[[], Any]) -> Any:
        """Run ``func`` in a thread; a cancel abandons the thread, it cannot stop it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        context = contextvars.copy_context()
        call = _Call(lambda: context.run(func), loop, future)
        with self._lock:
            self._queued += 1
            grow = self._idle < self._queued and self._threads < self._max_threads
            if grow:
                self._threads += 1
        self._work.put(call)
        if grow:
            threading.Thread(target=self._serve, name="aqueue-sync", daemon=True).start()
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.done() and not call.drop():
                self.abandoned += 1
                log.warning(
                    "a sync task's thread is still running after its job was stopped "
                    "(a timeout cannot stop sync code); its slot stays taken until it "
                    "returns (%d such threads)",
                    self.abandoned,
                )
                future.add_done_callback(self._abandoned_ended)
            raise

    def _abandoned_ended(self, future: asyncio.Future[Any]) -> None:
        self.abandoned -= 1
        if not future.cancelled():
            future.exception()  # nobody waits for it any more: not an unretrieved error
        if self._on_thread_freed is not None:
            self._on_thread_freed()

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._work.get()
            with self._lock:
                self._idle -= 1
                if item is not None:
                    self._queued -= 1
            if item is None:
                with self._lock:
                    self._threads -= 1
                return
            if not item.take():
                continue
            try:
                result: Any = item.func()
                error: BaseException | None = None
            except BaseException as exc:
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                item.loop.call_soon_threadsafe(_settle, item.future, result, error)
            del item, result, error

    def close(self) -> None:
        """Let idle threads end; running ones end when their function returns."""
        for _ in range(self._threads):
            self._work.put(None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
