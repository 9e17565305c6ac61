"""Task and queue names for the jobs list's suggestions, read from the
database at most every :data:`MAX_AGE` seconds per app: the list refreshes
itself every few seconds, and names change far less often than that. (A
search by part of a task name always reads them afresh.)"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aqueue.loop_lock import LoopLock

if TYPE_CHECKING:
    from aqueue.queue import Queue

#: Seconds a read of the names is used for.
MAX_AGE = 30.0


class Names:
    """One app's cached names."""

    def __init__(self) -> None:
        self.tasks: list[str] = []
        self.queues: list[str] = []
        self._read_at: float | None = None
        self._lock = LoopLock()

    async def read(self, queue: Queue) -> tuple[list[str], list[str]]:
        """The task names and the queue names, sorted."""
        async with self._lock():
            if self._read_at is None or time.monotonic() - self._read_at > MAX_AGE:
                self.tasks = await queue.jobs.task_names()
                self.queues = await queue.jobs.queue_names()
                self._read_at = time.monotonic()
        return self.tasks, self.queues
