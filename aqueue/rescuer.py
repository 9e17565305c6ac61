"""The rescuer: puts back jobs whose worker stopped renewing their lease.

Every worker runs one. It renews its own leases first and never rescues while
its own are not known to be current: a worker that was stalled (a blocking
call, a long GC pause) past its lease would otherwise rescue -- and run again
-- its own jobs.

It also reads the workers registry for workers of its own node (same boot,
same pid namespace: see :mod:`aqueue.node`) whose process is gone, and puts
their jobs back at once instead of waiting for their leases to run out. A
worker on another node is only ever judged by its leases.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aqueue.backends.base import Backend
from aqueue.errors import DatabaseUnavailable
from aqueue.lease_keeper import LeaseKeeper
from aqueue.node import pid_gone

log = logging.getLogger("aqueue.worker")


class Rescuer:
    """Sweeps expired leases every ``lease / 2`` seconds."""

    def __init__(self, backend: Backend, keeper: LeaseKeeper,
                 on_rescued: Callable[[int], None], *, node: str | None = None,
                 name: str = "") -> None:
        self._backend = backend
        self._keeper = keeper
        self._on_rescued = on_rescued
        self._node = node
        self._name = name

    async def _gone_neighbours(self) -> list[str]:
        if self._node is None:
            return []
        return [name for name, pid in await self._backend.workers_on_node(self._node)
                if name != self._name and pid_gone(pid)]

    async def sweep(self) -> int:
        """Renew this worker's leases, then rescue others' expired ones."""
        await self._keeper.renew()
        if not self._keeper.up_to_date():
            log.warning("not rescuing: this worker's own leases were last renewed %.1fs ago",
                        time.monotonic() - self._keeper.renewed_at)
            return 0
        rescued = await self._backend.rescue_expired_leases(await self._gone_neighbours())
        if rescued:
            log.warning("rescued %d jobs whose worker died or stopped renewing its lease",
                        rescued)
            # A rescued job that ended (out of attempts, or cancelled) ends its
            # waiting children too (aqueue.dependencies).
            await self._backend.release_ended()
            self._on_rescued(rescued)
        return rescued

    async def run(self) -> None:
        every = max(0.5, self._keeper.lease / 2)
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep()
            except DatabaseUnavailable as exc:
                log.warning("cannot rescue expired leases: %s", exc)
            except Exception:
                log.exception("unexpected error rescuing expired leases")
