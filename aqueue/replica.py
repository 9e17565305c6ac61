"""Operators' reads on a read replica: ``Queue(read_dsn=...)``.

Lists, counts, searches, task and queue names, the flow charts, the workers
registry and the health check's counts are what a dashboard, a metrics
exporter and a monitor read over and over; with a ``read_dsn`` (or
``$AQUEUE_READ_DSN``) they go to that database, a streaming replica of the
queue's, and leave the primary to producers and workers. Everything that
writes, and the reads that must see a write at once — a job by id, a
:class:`~aqueue.Job`'s status and result, a workflow's jobs, the walk of a
bulk action — stay on the primary. A replica answers as of its replay, so a
page may be behind by the replica's lag, which :meth:`Reads.lag` tells (and
the health check reports).

There is no fallback to the primary when the replica cannot be reached: its
errors name the read DSN, so that an outage shows where it is, and the load
kept off the primary stays off it when it is busiest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aqueue.backends import Backend, create_backend
from aqueue.backends.base import Replication
from aqueue.dependencies import release
from aqueue.loop_lock import LoopLock

if TYPE_CHECKING:
    from aqueue.dsn import DSN
    from aqueue.queue import Queue

#: Connections to the replica: its readers are a dashboard's or exporter's
#: few pages at a time, not a worker's claims.
POOL_SIZE = 4


class Reads:
    """Where a queue's operator reads go (``queue.reads``): its read replica,
    else its own database."""

    def __init__(self, queue: Queue, dsn: DSN | None) -> None:
        self._queue = queue
        self._dsn = dsn
        self._backend: Backend | None = None
        self._lock = LoopLock()

    @property
    def dsn(self) -> str | None:
        """The read replica's DSN, with any password hidden; None without one."""
        return None if self._dsn is None else str(self._dsn)

    @property
    def raw_dsn(self) -> str | None:
        """The read replica's DSN as it was given (to make a twin queue)."""
        return None if self._dsn is None else self._dsn.raw

    async def backend(self) -> Backend:
        """The database to read from, opened (connected on first use)."""
        if self._dsn is None:
            await self._queue.open()
            return self._queue.backend
        if self._backend is None:
            async with self._lock():
                if self._backend is None:
                    backend = create_backend(self._dsn, release=release, pool_size=POOL_SIZE)
                    await backend.open()
                    self._backend = backend
        return self._backend

    async def lag(self) -> float | None:
        """Seconds the replica's replay is behind the primary (0 when it has
        replayed all it received); None without a replica, or when its
        database cannot tell (MySQL; a read DSN that is not a standby)."""
        if self._dsn is None:
            return None
        replica = await self.backend()
        await self._queue.open()
        primary = self._queue.backend
        if not isinstance(replica, Replication) or not isinstance(primary, Replication):
            return None
        return await replica.replica_lag(await primary.wal_position())

    async def close(self, timeout: float = 3.0) -> None:
        async with self._lock():
            backend, self._backend = self._backend, None
            if backend is not None:
                await backend.close(timeout)
