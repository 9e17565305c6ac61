"""SQLite: durable steps' results and signals to jobs (the Steps and Signals
capabilities)."""

from __future__ import annotations

from datetime import UTC, datetime

import aiosqlite

from aqueue.backends.sqlite.core import SQL, SQLiteCore
from aqueue.records import JobSignal, JobStep


class SQLiteSteps(SQLiteCore):
    """:class:`~aqueue.backends.base.Steps` and :class:`~aqueue.backends.base.Signals`."""

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

    async def send_signal(self, job_id: str, name: str, payload: str, wait_step: str) -> bool:
        params = {"job_id": job_id, "name": name, "payload": payload, "wait": wait_step}

        async def op(conn: aiosqlite.Connection) -> bool:
            async with self._transaction(conn):
                async with conn.execute(SQL["send_signal"], params) as cur:
                    if cur.rowcount == 0:
                        return False  # no such job, finished, or signalled already
                await conn.execute(SQL["wake_waiter"], params)
            return True

        return await self._run("signal", op)

    async def job_signal(self, job_id: str, name: str) -> str | None:
        rows = await self._fetchall(SQL["job_signal"], {"job_id": job_id, "name": name})
        return str(rows[0][0]) if rows else None

    async def job_signals(self, job_id: str) -> list[JobSignal]:
        rows = await self._fetchall(SQL["job_signals"], {"job_id": job_id})
        return [JobSignal(r[0], r[1], datetime.fromtimestamp(r[2], UTC)) for r in rows]
