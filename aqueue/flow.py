"""The flow of jobs over time, kept for the dashboard's charts.

Each worker counts the attempts it ends, per minute (by its clock) and queue
— succeeded, failed, retried — and adds them to the minute's row of
``aqueue_flow`` every :data:`FLUSH_INTERVAL` seconds and as it stops: one
statement a flush, however many jobs ended. The worker that leads the
``flow`` duty (:mod:`aqueue.leader`) also records each queue's due jobs once a
minute, and forgets minutes older than :data:`KEEP`. A worker killed outright
loses its last few seconds of counts: the charts are a picture of the flow;
the jobs are the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from aqueue.backends.base import Flow, Schedules
from aqueue.leader import Leadership, LedService
from aqueue.records import ClaimedJob, FlowRow

if TYPE_CHECKING:
    from aqueue.queue import Queue

#: The outcomes counted (snoozed and cancelled attempts are not charted).
OUTCOMES = ("succeeded", "failed", "retried")
#: Seconds between a worker's writes of its counts.
FLUSH_INTERVAL = 10.0
#: Seconds of flow kept: the charts show the last day at most.
KEEP = 2 * 86400
#: The duty's name in aqueue_leaders.
DUTY = "flow"
#: Seconds the last write, as a worker stops, may take.
FINAL_FLUSH_TIMEOUT = 2.0

Depths = Callable[[], Awaitable[Sequence[tuple[str, int]]]]


def minute_of(moment: float) -> int:
    """The Unix second the minute of ``moment`` starts at."""
    return int(moment // 60) * 60


class FlowCounter:
    """A worker observer (:mod:`aqueue.observer`) that counts ended attempts."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[int, str, str]] = Counter()

    def job_finished(self, job: ClaimedJob, outcome: str, duration: float) -> None:
        if outcome in OUTCOMES:
            self.counts[(minute_of(time.time()), job.queue, outcome)] += 1

    def job_started(self, job: ClaimedJob) -> None:
        pass

    def claimed(self, count: int, seconds: float) -> None:
        pass

    def outcomes_written(self, count: int, seconds: float) -> None:
        pass

    def event(self, name: str, amount: int) -> None:
        pass

    def take(self) -> list[FlowRow]:
        """The counts so far, as rows; the counter starts again from zero."""
        counts, self.counts = self.counts, Counter()
        rows: dict[tuple[int, str], Counter[str]] = {}
        for (minute, queue, outcome), n in counts.items():
            rows.setdefault((minute, queue), Counter())[outcome] += n
        return [
            FlowRow(minute, queue, c["succeeded"], c["failed"], c["retried"])
            for (minute, queue), c in sorted(rows.items())
        ]

    def put_back(self, rows: Sequence[FlowRow]) -> None:
        """Counts a failed write did not store, kept for the next."""
        for r in rows:
            for outcome, n in zip(OUTCOMES, (r.succeeded, r.failed, r.retried), strict=True):
                if n:
                    self.counts[(r.minute, r.queue, outcome)] += n


class FlowRecorder(LedService):
    """A worker's share of the flow: its counts, and the depths when it leads."""

    duty = "record the flow of jobs"

    def __init__(
        self,
        backend: Flow,
        leadership: Leadership | None,
        depths: Depths,
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        super().__init__(interval, jitter=0.2)
        self._backend = backend
        self.leadership = leadership
        self._depths = depths
        self.counter = FlowCounter()
        self._sampled: int | None = None

    @classmethod
    def of(cls, queue: Queue, worker: str) -> FlowRecorder | None:
        """The recorder of ``queue``'s worker ``worker``; None where the
        database keeps no flow."""
        backend = queue.backend
        if not isinstance(backend, Flow):
            return None

        async def depths() -> list[tuple[str, int]]:
            return [(c.name, c.due) for c in await queue.jobs.counts()]

        # Held a little over two minutes: a dead leader's duty passes on soon.
        leadership = (
            Leadership(backend, DUTY, worker, 150.0) if isinstance(backend, Schedules) else None
        )
        return cls(backend, leadership, depths)

    async def flush(self) -> None:
        """Add the counts so far to the database (kept for later if it fails)."""
        rows = self.counter.take()
        if not rows:
            return
        try:
            await self._backend.add_flow(rows)
        except BaseException:
            self.counter.put_back(rows)
            raise

    async def sample(self, now: float | None = None) -> bool:
        """Record the queues' depths for this minute, once, if this worker
        leads the duty (and forget old minutes); whether it did."""
        minute = minute_of(time.time() if now is None else now)
        if self.leadership is None or minute == self._sampled:
            return False
        if not await self.leadership.held():
            return False
        await self._backend.set_depths(minute, await self._depths())
        await self._backend.prune_flow(minute - KEEP)
        self._sampled = minute
        return True

    async def step(self) -> None:
        await self.flush()
        await self.sample()

    async def stop(self) -> None:
        await super().stop()
        # What ended since the last flush; a database gone or slow by now
        # loses it rather than hold the worker's shutdown up.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(FINAL_FLUSH_TIMEOUT):
                await self.flush()
