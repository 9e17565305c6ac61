"""Moving a test's clock on SQLite (aqueue.testing): not part of the
production seam, so no worker or producer can call it."""

from __future__ import annotations

from aqueue.backends.sqlite.core import SQL, SQLiteCore


class SQLiteClock:
    """Queued jobs' due times drawn nearer; the next due time."""

    def __init__(self, backend: SQLiteCore) -> None:
        self._backend = backend

    async def shift(self, seconds: float) -> int:
        return await self._backend._rowcount(SQL["shift_schedules"], {"seconds": seconds})

    async def next_due_in(self) -> float | None:
        value = (await self._backend._fetchall(SQL["next_due_in"], {}))[0][0]
        return None if value is None else float(value)
