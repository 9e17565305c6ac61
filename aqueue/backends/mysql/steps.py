"""MySQL/MariaDB: durable steps' results and signals to jobs (the Steps and
Signals capabilities)."""

from __future__ import annotations

from datetime import UTC

import aiomysql

from aqueue.backends.mysql.core import SQL, MySQLCore
from aqueue.records import JobSignal, JobStep


class MySQLSteps(MySQLCore):
    """:class:`~aqueue.backends.base.Steps` and :class:`~aqueue.backends.base.Signals`."""

    async def job_step(self, job_id: str, name: str) -> str | None:
        rows = await self._fetch(SQL["job_step"], (job_id, name))
        return str(rows[0][0]) if rows else None

    async def store_step(
        self, job_id: str, attempt: int, worker: str, name: str, result: str
    ) -> str | None:
        params = {"job_id": job_id, "attempt": attempt, "worker": worker, "name": name}

        async def op(cur: aiomysql.Cursor) -> str | None:
            await cur.execute(SQL["store_step"], {**params, "result": result})
            await cur.execute(SQL["job_step"], (job_id, name))
            row = await cur.fetchone()
            return None if row is None else str(row[0])

        return await self._run("step", op, transaction=True)

    async def job_steps(self, job_id: str) -> list[JobStep]:
        rows = await self._fetch(SQL["job_steps"], (job_id,))
        return [JobStep(r[0], int(r[1]), r[2], r[3].replace(tzinfo=UTC)) for r in rows]

    async def send_signal(self, job_id: str, name: str, payload: str, wait_step: str) -> bool:
        params = {"job_id": job_id, "name": name, "payload": payload, "wait": wait_step}

        async def op(cur: aiomysql.Cursor) -> bool:
            await cur.execute(SQL["job_signal"], (job_id, name))
            if await cur.fetchone() is not None:
                return False  # the first signal of a name stays
            if not await cur.execute(SQL["send_signal"], params):
                return False  # no such job, or it has finished
            await cur.execute(SQL["wake_waiter"], params)
            return True

        return await self._run("signal", op, transaction=True)

    async def job_signal(self, job_id: str, name: str) -> str | None:
        rows = await self._fetch(SQL["job_signal"], (job_id, name))
        return str(rows[0][0]) if rows else None

    async def job_signals(self, job_id: str) -> list[JobSignal]:
        rows = await self._fetch(SQL["job_signals"], (job_id,))
        return [JobSignal(r[0], r[1], r[2].replace(tzinfo=UTC)) for r in rows]
