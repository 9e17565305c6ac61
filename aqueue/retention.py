"""Retention: workers delete finished jobs past their age, one worker at a time.

``Queue(retention={"succeeded": "7d", "failed": "30d", "cancelled": "7d"})``
(or ``aqueue-worker --retention succeeded=7d,...``) keeps finished jobs that
long after they finish; ``@queue.task(result_ttl="1h")`` keeps a task's
succeeded jobs that long (the shorter of the two applies). Every worker
looks once a minute; the one that moves the ``aqueue:retention`` row of
``aqueue_periodic`` from the time it read to now (compare and set, as
periodic ticks are taken) sweeps, the others skip that minute. A sweep
deletes in statements of :data:`BATCH` rows, each its own short
transaction, so no lock is held for long and enqueue and claim go on.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aqueue import durations
from aqueue.errors import DatabaseUnavailable
from aqueue.records import FINAL_STATUS_NAMES

if TYPE_CHECKING:
    from aqueue.queue import Queue

log = logging.getLogger("aqueue.retention")

#: The row in ``aqueue_periodic`` that takes turns between workers.
ROW = "aqueue:retention"
#: Rows per DELETE statement.
BATCH = 500


def retention_policy(given: Mapping[str, str | float | timedelta]) -> dict[str, float]:
    """``{"succeeded": "7d", ...}`` as seconds; a clear error for a bad entry."""
    policy: dict[str, float] = {}
    for status, age in given.items():
        if status not in FINAL_STATUS_NAMES:
            raise ValueError(f"retention is for finished jobs ({', '.join(FINAL_STATUS_NAMES)})"
                             f", not {status!r}")
        policy[status] = durations.seconds(age, f"retention of {status} jobs")
    return policy


class Retention:
    """A worker's share of deleting old finished jobs."""

    def __init__(self, queue: Queue, policy: Mapping[str, float] | None = None,
                 interval: float = 60.0) -> None:
        self._queue = queue
        self.policy = dict(queue.retention if policy is None else policy)
        self.interval = interval

    def wanted(self) -> bool:
        """Whether there is anything to delete by age at all."""
        return bool(self.policy) or any(t.result_ttl for t in self._queue.tasks.values())

    async def sweep(self, now: datetime | None = None) -> int | None:
        """Delete what is past its age, if it is this worker's turn; how many
        jobs went, or None when another worker swept within the interval."""
        now = now or datetime.now(UTC)
        backend = self._queue.backend
        last = (await backend.last_ticks()).get(ROW)
        if last is not None and now - last < timedelta(seconds=self.interval):
            return None
        if await backend.advance_tick(ROW, last, now, []) is None:
            return None  # another worker took this turn
        deleted = 0
        for status, age in sorted(self.policy.items()):
            deleted += await backend.purge(age, [status], False, BATCH)
        for task in sorted(self._queue.tasks.values(), key=lambda t: t.name):
            if task.result_ttl is not None:
                deleted += await backend.purge_task(task.name, task.result_ttl, BATCH)
        if deleted:
            log.info("retention: deleted %d finished jobs past their age", deleted)
        return deleted

    async def run(self) -> None:
        """Until cancelled: try to sweep every ``interval`` seconds."""
        # Workers started together would all try in the same instant.
        await asyncio.sleep(random.uniform(0, min(self.interval, 5.0)))
        while True:
            try:
                await self.sweep()
            except DatabaseUnavailable as exc:
                log.warning("cannot delete old finished jobs: %s", exc)
            except Exception:
                log.exception("unexpected error deleting old finished jobs")
            await asyncio.sleep(self.interval)
