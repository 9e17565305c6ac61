"""SQLite: durable steps' results (the Steps capability)."""

from __future__ import annotations

from datetime import UTC, datetime

import aiosqlite

from aqueue.backends.sqlite.core import SQL, SQLiteCore
from aqueue.records import JobStep


class SQLiteSteps(SQLiteCore):
    """:class:`~aqueue.backends.base.Steps`."""

    async def job_step(self, job_id: str, name: str) -> str | None:
        rows = await self._fetchall(SQL["job_step"], {"job_id": job_id, "name": name})
        return str(rows[0][0]) if rows else None

    async def store_step(
        self, job_id: str, attempt: int, worker: str, name: str, result: str
    ) -> str | None:
        params = {"job_id": job_id, "attempt": attempt, "worker": worker, "name": name}

        async def op(conn: aiosqlite.Connection) -> str | None:
            async with self._transaction(conn):
                await conn.execute(SQL["store_step"], {**params, "result": result})
                rows = list(await conn.execute_fetchall(SQL["job_step"], params))
            return str(rows[0][0]) if rows else None

        return await self._run("step", op)

    async def job_steps(self, job_id: str) -> list[JobStep]:
        rows = await self._fetchall(SQL["job_steps"], {"job_id": job_id})
        return [JobStep(r[0], r[1], r[2], datetime.fromtimestamp(r[3], UTC)) for r in rows]
