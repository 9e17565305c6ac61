"""Waiting for jobs to finish: ``await job.result()`` and friends.

A queue has one :class:`Results`: readers of a job wait on an event that
a notification of its end sets (PostgreSQL's NOTIFY, SQLite's wake-up socket,
or a worker of this process), polling meanwhile as a safety net — with a
slowly growing pause where nothing notifies (MySQL/MariaDB). One listening
connection per queue, however many readers wait at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from aqueue.backends.base import Listener, Notifications
from aqueue.errors import JobNotFound
from aqueue.records import FINAL_STATUSES, JobInfo

if TYPE_CHECKING:
    from aqueue.queue import Queue


class Results:
    """The readers waiting for jobs of one queue to finish."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._listener: Listener | None = None
        self._listening = asyncio.Lock()

    async def _listen(self) -> bool:
        """Subscribe to ends once; whether they will be heard."""
        backend = self._queue.backend
        if self._listener is None and isinstance(backend, Notifications):
            async with self._listening:
                if self._listener is None:
                    self._listener = await backend.listen(lambda _q: None, self.notify_done)
        return self._listener is not None

    async def wait(self, job_id: str, timeout: float | None = None) -> JobInfo:
        """Wait for the job to reach a final status; ``TimeoutError`` after
        ``timeout`` seconds, :class:`~aqueue.JobNotFound` if it is gone."""
        await self._queue.open()
        backend = self._queue.backend
        deadline = None if timeout is None else time.monotonic() + timeout
        event = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)
        try:
            # Without notifications this polls, slowly backing off; with them
            # the poll is only a safety net.
            pause = 0.01
            cap = 2.0 if await self._listen() else 0.5
            while True:
                event.clear()
                info = await backend.get_job(job_id)
                if info is None:
                    raise JobNotFound(f"no job {job_id} (never enqueued, or purged)")
                if info.status in FINAL_STATUSES:
                    return info
                wait = pause
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"job {job_id} did not finish within {timeout}s")
                    wait = min(wait, left)
                try:
                    await asyncio.wait_for(event.wait(), wait)
                except TimeoutError:
                    pause = min(cap, pause * 1.5)
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]

    def notify_done(self, job_ids: list[str] | None) -> None:
        """Wake readers of ``job_ids`` (all of them for ``None``)."""
        if job_ids is None:
            for events in self._waiters.values():
                for event in events:
                    event.set()
            return
        for job_id in job_ids:
            for event in self._waiters.get(job_id, ()):
                event.set()

    async def close(self, timeout: float = 2.0) -> None:
        """Stop listening."""
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close(timeout)
