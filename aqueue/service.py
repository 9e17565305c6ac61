"""One way to run a worker's background duties (lease keeper, rescuer,
heartbeat, periodic scheduler, retention, metrics depths, cancel watch).

A :class:`Service` does one :meth:`~Service.step` again and again, a pause of
its interval apart (spread a little, so that workers started together do not
all hit the database in the same instant). A step that meets an outage
(:class:`~aqueue.errors.DatabaseUnavailable`) is logged as a warning, any
other error with its traceback, and the next pause grows (doubling, up to
``max_backoff``) until a step succeeds again: one stuck duty neither floods
the log nor stops the others. ``start`` and ``stop`` may be called any
number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from aqueue.errors import DatabaseUnavailable
from aqueue.signals import Signal

log = logging.getLogger("aqueue.worker")


class Service:
    """A duty done every ``interval`` seconds until stopped; subclasses say what
    (``step``) and, in words for the log, ``duty`` ("renew leases")."""

    #: What the service does, for its log lines ("cannot <duty>: ...").
    duty = "run"

    def __init__(
        self,
        interval: float,
        *,
        jitter: float = 0.1,
        max_backoff: float = 30.0,
        first_after: float | None = None,
    ) -> None:
        self.interval = interval
        self.jitter = jitter
        self.max_backoff = max(max_backoff, interval)
        #: Seconds before the first step (default: one interval).
        self.first_after = interval if first_after is None else first_after
        self.failures = 0
        #: Steps that ended well, and steps that raised (with the error), to
        #: wait on instead of sleeping.
        self.stepped: Signal[None] = Signal("stepped")
        self.failed: Signal[BaseException] = Signal("failed")
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> None:
        """One round of the duty."""
        raise NotImplementedError

    def pause(self) -> float:
        """Seconds until the next step: the interval, or longer after failures."""
        seconds = self.interval
        if self.failures:
            seconds = min(self.max_backoff, self.interval * 2**self.failures)
        return seconds * random.uniform(1 - self.jitter, 1 + self.jitter)

    async def run(self) -> None:
        """Step until cancelled."""
        await asyncio.sleep(self.first_after)
        while True:
            try:
                await self.step()
                self.failures = 0
                self.stepped.emit(None)
            except DatabaseUnavailable as exc:
                self.failures += 1
                log.warning("cannot %s: %s", self.duty, exc)
                self.failed.emit(exc)
            except Exception as exc:
                self.failures += 1
                log.exception("unexpected error trying to %s", self.duty)
                self.failed.emit(exc)
            await asyncio.sleep(self.pause())

    def start(self, name: str | None = None) -> asyncio.Task[None]:
        """Run in a task of its own (the one already running, if any)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=name or f"aqueue-{self.duty}")
        return self._task

    async def stop(self) -> None:
        """Cancel the task and wait for it to end (nothing if not running)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
