"""Cancel requests for a worker that no notification reaches.

On PostgreSQL (LISTEN) and SQLite (its wake-up sockets) a cancel request
reaches the worker running the job at once. Elsewhere — MySQL/MariaDB, or
either of the others without their channel — the worker reads the requests
for the jobs it holds twice a second while it holds any: one indexed read by
primary key, no lock, and nothing at all while the worker is idle. A
cancelled job stops within a second instead of at its next lease renewal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aqueue.backends.base import Backend
from aqueue.service import Service

#: Seconds between reads while the worker holds jobs.
EVERY = 0.5


class CancelWatch(Service):
    """Reads cancel requests for the jobs ``held()`` names; tells ``on_cancel``."""

    duty = "read cancel requests"

    def __init__(
        self,
        backend: Backend,
        worker: str,
        held: Callable[[], Sequence[str]],
        on_cancel: Callable[[str], None],
        every: float = EVERY,
    ) -> None:
        super().__init__(every)
        self._backend = backend
        self._worker = worker
        self._held = held
        self._on_cancel = on_cancel

    async def check(self) -> int:
        """Read once; how many cancel requests were found."""
        held = sorted(set(self._held()))
        if not held:
            return 0
        found = await self._backend.cancel_requests(self._worker, held)
        for job_id in found:
            self._on_cancel(job_id)
        return len(found)

    async def step(self) -> None:
        await self.check()
