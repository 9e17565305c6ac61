"""Moving a test's clock on PostgreSQL (aqueue.testing): not part of the
production seam, so no worker or producer can call it."""

from __future__ import annotations

from aqueue.backends.postgres.core import SQL, PostgresCore


class PostgresClock:
    """Queued jobs' due times drawn nearer; the next due time."""

    def __init__(self, backend: PostgresCore) -> None:
        self._backend = backend

    async def shift(self, seconds: float) -> int:
        return await self._backend._execute(SQL["shift_schedules"], seconds)

    async def next_due_in(self) -> float | None:
        value = await self._backend._fetchval(SQL["next_due_in"])
        return None if value is None else float(value)
