"""Synchronous enqueue for code without an event loop: Django views, Flask,
scripts, Celery migrations.

Each :class:`~aqueue.Queue` used from sync code gets one private event loop
in a daemon thread, with a queue of its own (same DSN, same tasks, same
limits) and so its own connections: the caller's queue may be used from
async code on another loop at the same time, and connections never cross
loops. Calls from many threads funnel into that one loop and share its pool.
A forked child (gunicorn's pre-fork) starts a fresh one.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import Awaitable, Callable
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aqueue.queue import Queue

T = TypeVar("T")
#: ``await here(fn)``: ``fn()`` run on the thread that made a sync call.
Here = Callable[[Callable[[], Any]], Awaitable[Any]]


def _settle(answer: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    if answer.done():  # the waiting operation was cancelled meanwhile
        return
    if exc is not None:
        answer.set_exception(exc)
    else:
        answer.set_result(value)


def require_no_running_loop(what: str, instead: str) -> None:
    """Raise ``RuntimeError`` when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{what} was called from inside a running event loop, where it would "
        f"block it: use {instead} instead"
    )


class SyncBridge:
    """A private event loop in a daemon thread, running a copy of a queue."""

    def __init__(self, make_queue: Callable[[], Queue]) -> None:
        self._make_queue = make_queue
        self._lock = threading.Lock()
        self._pid = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: Queue | None = None
        atexit.register(self.close)

    def _start(self) -> tuple[asyncio.AbstractEventLoop, Queue]:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="aqueue-sync-loop", daemon=True
                )
                thread.start()
                self._loop, self._pid, self._queue = loop, os.getpid(), self._make_queue()
            assert self._queue is not None
            return self._loop, self._queue

    def call(self, operation: Callable[[Queue], Awaitable[T]], timeout: float | None = None) -> T:
        """Run ``operation(queue)`` on the private loop and wait for its result."""
        loop, queue = self._start()

        async def run() -> T:
            return await operation(queue)

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def call_here(self, operation: Callable[[Queue, Here], Awaitable[T]]) -> T:
        """Run ``operation(queue, here)`` on the private loop; meanwhile this
        thread runs each ``fn`` that ``operation`` passes to ``await here(fn)``
        and hands back what it returned. For a connection that belongs to the
        calling thread (Django's): it is used only here, and no event loop ever
        runs in this thread, which Django would refuse."""
        require_no_running_loop("a sync enqueue", "await the async API")
        loop, queue = self._start()
        work: SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = SimpleQueue()

        async def here(fn: Callable[[], Any]) -> Any:
            answer: asyncio.Future[Any] = loop.create_future()
            work.put((fn, answer))
            return await answer

        async def run() -> T:
            try:
                return await operation(queue, here)
            finally:
                work.put(None)

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        while (item := work.get()) is not None:
            fn, answer = item
            try:
                value = fn()
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, answer, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, answer, value, None)
        return future.result()

    def close(self) -> None:
        """Close the private queue's connections and stop its loop."""
        with self._lock:
            loop, queue, pid = self._loop, self._queue, self._pid
            self._loop = self._queue = None
        if loop is None or queue is None or pid != os.getpid() or not loop.is_running():
            return
        closing = asyncio.run_coroutine_threadsafe(queue.close(), loop)
        try:
            closing.result(10)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
