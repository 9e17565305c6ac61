"""Retention: finished jobs deleted past their age, by one worker at a time.

``Queue(retention={"succeeded": "7d", "failed": "30d", "cancelled": "7d"})``
(or ``aqueue-worker --retention succeeded=7d,...``) keeps finished jobs that
long after they finish; ``@queue.task(result_ttl="1h")`` keeps a task's
succeeded jobs that long (the shorter of the two applies). Every worker
looks once a minute; the one that leads the ``retention`` duty
(:mod:`aqueue.leader`) sweeps, the others skip. A sweep deletes in
statements of :data:`BATCH` rows, each its own short transaction, so no
lock is held for long and enqueue and claim go on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from aqueue import durations
from aqueue.backends.base import Admin, Schedules
from aqueue.leader import Leadership, LedService
from aqueue.records import FINAL_STATUS_NAMES

if TYPE_CHECKING:
    from aqueue.queue import Queue

log = logging.getLogger("aqueue.retention")

#: The duty's name in aqueue_leaders.
DUTY = "retention"
#: Rows per DELETE statement.
BATCH = 500


def retention_policy(given: Mapping[str, str | float | timedelta]) -> dict[str, float]:
    """``{"succeeded": "7d", ...}`` as seconds; a clear error for a bad entry."""
    policy: dict[str, float] = {}
    for status, age in given.items():
        if status not in FINAL_STATUS_NAMES:
            raise ValueError(
                f"retention is for finished jobs ({', '.join(FINAL_STATUS_NAMES)}), not {status!r}"
            )
        policy[status] = durations.seconds(age, f"retention of {status} jobs")
    return policy


class Retention(LedService):
    """A worker's share of deleting old finished jobs: ``policy`` (seconds per
    final status) and ``task_ttls`` (seconds a task's succeeded jobs are kept)."""

    duty = "delete old finished jobs"

    def __init__(
        self,
        admin: Admin,
        leadership: Leadership,
        policy: Mapping[str, float],
        task_ttls: Mapping[str, float],
        interval: float = 60.0,
    ) -> None:
        # The first look comes within a few seconds: workers started together
        # spread out, and the lead is taken early.
        super().__init__(interval, jitter=0.2, first_after=min(interval, 5.0) / 2)
        self._admin = admin
        self.leadership: Leadership = leadership
        self.policy = dict(policy)
        self.task_ttls = dict(task_ttls)

    @classmethod
    def of(
        cls,
        queue: Queue,
        worker: str,
        policy: Mapping[str, float] | None = None,
        interval: float = 60.0,
    ) -> Retention | None:
        """The retention of ``queue``'s worker ``worker`` (``policy`` overrides
        the queue's); None when nothing is deleted by age, or the database
        cannot elect a leader."""
        backend = queue.backend
        chosen = dict(queue.retention if policy is None else policy)
        ttls = {t.name: t.result_ttl for t in queue.tasks.values() if t.result_ttl is not None}
        if (
            not (chosen or ttls)
            or not isinstance(backend, Admin)
            or not isinstance(backend, Schedules)
        ):
            return None
        # Held a little over two rounds: a dead leader's duty passes on soon.
        leadership = Leadership(backend, DUTY, worker, 2.5 * interval)
        return cls(backend, leadership, chosen, ttls, interval)

    async def sweep(self) -> int | None:
        """Delete what is past its age if this worker leads the duty; how many
        jobs went, or None when another worker leads it."""
        if not await self.leadership.held():
            return None
        deleted = 0
        for status, age in sorted(self.policy.items()):
            deleted += await self._admin.purge(age, [status], False, BATCH)
        for task, ttl in sorted(self.task_ttls.items()):
            deleted += await self._admin.purge_task(task, ttl, BATCH)
        if deleted:
            log.info("retention: deleted %d finished jobs past their age", deleted)
        return deleted

    async def step(self) -> None:
        await self.sweep()
