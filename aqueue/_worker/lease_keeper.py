"""The lease keeper: renews the leases of the attempts a worker holds.

It renews by ``(id, attempt)`` and only what the worker knows it holds, and
reports back what the renewal learned: attempts the worker no longer holds
(rescued elsewhere) and cancel requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aqueue.backends.base import Backend
from aqueue.records import LeaseState
from aqueue.service import Service

Key = tuple[str, int]


class LeaseKeeper(Service):
    """Renews every ``lease / 3`` seconds; :meth:`renew` may also be called at any time."""

    duty = "renew leases"

    def __init__(
        self,
        backend: Backend,
        worker: str,
        lease: float,
        held: Callable[[], list[Key]],
        on_renewed: Callable[[list[Key], dict[Key, LeaseState]], None],
    ) -> None:
        # Never backs off past its interval: renewals are what keep the leases.
        every = max(0.05, lease / 3)
        super().__init__(every, max_backoff=every, first_after=0.0)
        self._backend = backend
        self._worker = worker
        self.lease = lease
        self._held = held
        self._on_renewed = on_renewed
        self._lock = asyncio.Lock()
        #: time.monotonic() when the last renewal that succeeded was sent.
        self.renewed_at = time.monotonic()

    def up_to_date(self) -> bool:
        """True while this worker's own leases are known to be current: its last
        renewal was sent less than a lease ago. A stalled worker is not."""
        return time.monotonic() - self.renewed_at < self.lease

    async def renew(self) -> None:
        """Renew now. Raises :class:`DatabaseUnavailable` when the database is away."""
        async with self._lock:
            sent = time.monotonic()
            keys = self._held()
            if not keys:
                self.renewed_at = sent
                return
            states = await self._backend.renew_leases(
                self._worker, sorted({job_id for job_id, _ in keys}), self.lease
            )
            self.renewed_at = sent
            self._on_renewed(keys, {(s.id, s.attempts): s for s in states})

    async def step(self) -> None:
        await self.renew()
