"""A lock for objects that outlive an event loop.

asyncio binds a lock to the event loop it is first contended on. A queue is
often made once at import and used under several ``asyncio.run()`` calls (a
script, a test suite, Django's tests), closed at the end of each: a lock made
once would fail in the second loop as soon as two calls met.
"""

from __future__ import annotations

import asyncio


class LoopLock:
    """``lock()`` is an :class:`asyncio.Lock` of the running event loop: a new
    one when the loop changed since the last call."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock
