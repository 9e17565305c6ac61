"""Notices when the event loop was blocked, and says so.

A task that calls blocking code (``time.sleep``, a sync driver, heavy CPU
work) inside ``async def`` stops every other job, the lease renewals and the
claims of its worker. The log line is how users find such a call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aqueue.service import Service

log = logging.getLogger("aqueue.worker")


class LoopMonitor(Service):
    """Wakes every ``interval`` seconds; a wake-up later than ``threshold`` is logged."""

    duty = "watch the event loop"

    def __init__(self, interval: float = 0.25, threshold: float = 0.5) -> None:
        # No jitter: the lag is measured against the interval itself.
        super().__init__(interval, jitter=0.0, first_after=0.0)
        self.threshold = threshold
        #: The longest lag seen, in seconds.
        self.max_lag = 0.0
        #: Told each lag measured (the worker's metrics use it).
        self.on_lag: Callable[[float], None] | None = None
        self._slept_at: float | None = None

    async def step(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._slept_at is not None:
            lag = now - self._slept_at - self.interval
            self.max_lag = max(self.max_lag, lag)
            if self.on_lag is not None:
                self.on_lag(max(0.0, lag))
            if lag > self.threshold:
                log.warning(
                    "the event loop was blocked for %.2fs: a task is making a blocking "
                    "call in async code (run it in a thread, or make the task sync)",
                    lag,
                )
        self._slept_at = now
