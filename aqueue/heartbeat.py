"""The worker's entry in the workers registry: register, heartbeat, deregister.

The registry is for people and health checks (``aqueue workers``, the
dashboard): who runs, on which host, serving what, and running which jobs.
Jobs never depend on it -- leases stay the source of truth -- so a registry
write that fails is logged and retried, never fatal.
"""

from __future__ import annotations

import asyncio
import logging

from aqueue.backends.base import Backend
from aqueue.errors import DatabaseUnavailable
from aqueue.records import WorkerRegistration

log = logging.getLogger("aqueue.worker")

#: Stopped and dead workers stay listed this long, then are deleted (by the
#: sweep of any running worker) — long enough to see why one went away.
RETENTION_SECONDS = 3600.0


class Heartbeat:
    """Beats every ``ttl / 3`` seconds; a worker silent for ``ttl`` is marked dead."""

    def __init__(self, backend: Backend, registration: WorkerRegistration, ttl: float) -> None:
        self._backend = backend
        self.registration = registration
        self.ttl = ttl

    async def register(self) -> None:
        try:
            await self._backend.register_worker(self.registration, self.ttl)
        except DatabaseUnavailable as exc:
            log.warning("cannot register in the workers registry: %s", exc)

    async def deregister(self) -> None:
        await self._backend.deregister_worker(self.registration.name)

    async def run(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(max(0.05, self.ttl / 3))
            try:
                if not await self._backend.heartbeat_worker(self.registration.name, self.ttl):
                    await self._backend.register_worker(self.registration, self.ttl)
                beats += 1
                if beats % 10 == 1:  # now and then: mark the silent dead, prune the old
                    await self._backend.sweep_workers(RETENTION_SECONDS)
            except DatabaseUnavailable as exc:
                log.warning("cannot heartbeat in the workers registry: %s", exc)
            except Exception:
                log.exception("unexpected error heartbeating in the workers registry")
