"""The worker's entry in the workers registry: register, heartbeat, deregister.

The registry is for people and health checks (``aqueue workers``, the
dashboard): who runs, on which host, serving what, and running which jobs.
Jobs never depend on it -- leases stay the source of truth -- so a registry
write that fails is logged and retried, never fatal.
"""

from __future__ import annotations

import logging

from aqueue.backends.base import Registry
from aqueue.errors import DatabaseUnavailable
from aqueue.records import WorkerRegistration
from aqueue.service import Service

log = logging.getLogger("aqueue.worker")

#: Stopped and dead workers stay listed this long, then are deleted (by the
#: sweep of any running worker) — long enough to see why one went away.
RETENTION_SECONDS = 3600.0


class Heartbeat(Service):
    """Beats every ``ttl / 3`` seconds; a worker silent for ``ttl`` is marked dead."""

    duty = "heartbeat in the workers registry"

    def __init__(self, registry: Registry, registration: WorkerRegistration, ttl: float) -> None:
        super().__init__(max(0.05, ttl / 3))
        self._registry = registry
        self.registration = registration
        self.ttl = ttl
        self._beats = 0

    async def register(self) -> None:
        try:
            await self._registry.register_worker(self.registration, self.ttl)
        except DatabaseUnavailable as exc:
            log.warning("cannot register in the workers registry: %s", exc)

    async def deregister(self) -> None:
        await self._registry.deregister_worker(self.registration.name)

    async def step(self) -> None:
        if not await self._registry.heartbeat_worker(self.registration.name, self.ttl):
            await self._registry.register_worker(self.registration, self.ttl)
        self._beats += 1
        if self._beats % 10 == 1:  # now and then: mark the silent dead, prune the old
            await self._registry.sweep_workers(RETENTION_SECONDS)
