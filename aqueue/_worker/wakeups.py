"""When an idle worker claims again: woken by a notification, a timer for the
next due job, or — where nothing notifies it — a cheap "is a job due" read.

A notification's payload is ``"<queue> <seconds until due>"`` (the queue may
contain spaces), or ``"*"`` after a reconnect, when anything may have been
missed. One timer stands for the earliest known due time, however many are
notified.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence


class Wakeups:
    """The claim loop's alarm clock."""

    def __init__(self, queues: Sequence[str] | None) -> None:
        self._queues = queues
        self.event = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None

    def now(self) -> None:
        self.event.set()

    def on_enqueue(self, queue_name: str) -> None:
        """This process enqueued jobs in ``queue_name``."""
        if self._queues is None or queue_name in self._queues:
            self.event.set()

    def notified(self, payload: str) -> bool:
        """A new-job notification; True for ``"*"`` (a reconnect: anything may
        have been missed)."""
        if payload == "*":
            self.event.set()
            return True
        queue_name, _, due_in = payload.rpartition(" ")
        if self._queues is not None and queue_name not in self._queues:
            return False
        try:
            delay = float(due_in)
        except ValueError:
            delay = 0.0
        self.after(delay)
        return False

    def after(self, delay: float) -> None:
        """Wake the claim loop after ``delay`` seconds (at once when due)."""
        if delay <= 0.001:
            self.event.set()
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        timer = self._timer
        if timer is not None and not timer.cancelled() and loop.time() < timer.when() <= when:
            return  # an earlier wake-up is set already; the claim then sets the next
        if timer is not None:
            timer.cancel()
        self._timer = loop.call_at(when, self.event.set)

    def timer_due(self) -> float | None:
        """When (loop time) the pending timer fires, if one is pending."""
        timer = self._timer
        if timer is None or timer.cancelled() or timer.when() <= asyncio.get_running_loop().time():
            return None
        return timer.when()

    async def sleep(self, seconds: float) -> None:
        """Until woken, or ``seconds``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)

    async def idle(
        self,
        seconds: float,
        probe: float,
        has_due: Callable[[], Awaitable[bool]],
        stopping: Callable[[], bool],
    ) -> None:
        """Wait ``seconds`` for a wake-up, asking ``has_due`` every ``probe``
        seconds meanwhile (0: never) — one cheap read instead of a claim's
        locking transaction."""
        if probe <= 0 or probe >= seconds:
            await self.sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            await self.sleep(min(probe, left))
            if self.event.is_set() or stopping():
                return
            try:
                if await has_due():
                    return
            except Exception:  # the claim that follows reports it, and backs off
                return

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
