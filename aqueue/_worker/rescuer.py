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

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from aqueue._worker.lease_keeper import LeaseKeeper
from aqueue.backends.base import Backend
from aqueue.node import pid_gone
from aqueue.service import Service

log = logging.getLogger("aqueue.worker")


class Rescuer(Service):
    """Sweeps expired leases every ``lease / 2`` seconds.

    ``neighbours(node)`` lists the registered workers of a node (``(name,
    pid)``); ``release()`` applies the ends of rescued jobs to their children
    (see :mod:`aqueue.dependencies`).
    """

    duty = "rescue expired leases"

    def __init__(
        self,
        backend: Backend,
        keeper: LeaseKeeper,
        on_rescued: Callable[[int], None],
        *,
        release: Callable[[], Awaitable[None]],
        neighbours: Callable[[str], Awaitable[Sequence[tuple[str, int]]]] | None = None,
        node: str | None = None,
        name: str = "",
    ) -> None:
        super().__init__(max(0.5, keeper.lease / 2))
        self._backend = backend
        self._keeper = keeper
        self._on_rescued = on_rescued
        self._release = release
        self._neighbours = neighbours
        self._node = node
        self._name = name

    async def _gone_neighbours(self) -> list[str]:
        if self._node is None or self._neighbours is None:
            return []
        return [
            name
            for name, pid in await self._neighbours(self._node)
            if name != self._name and pid_gone(pid)
        ]

    async def sweep(self) -> int:
        """Renew this worker's leases, then rescue others' expired ones."""
        await self._keeper.renew()
        if not self._keeper.up_to_date():
            log.warning(
                "not rescuing: this worker's own leases were last renewed %.1fs ago",
                time.monotonic() - self._keeper.renewed_at,
            )
            return 0
        rescued = await self._backend.rescue_expired_leases(await self._gone_neighbours())
        if rescued:
            log.warning("rescued %d jobs whose worker died or stopped renewing its lease", rescued)
            # A rescued job that ended (out of attempts, or cancelled) ends its
            # waiting children too (aqueue.dependencies).
            await self._release()
            self._on_rescued(rescued)
        return rescued

    async def step(self) -> None:
        await self.sweep()
