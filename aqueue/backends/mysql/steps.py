"""MySQL/MariaDB: durable steps' results (the Steps capability)."""

from __future__ import annotations

from datetime import UTC

import aiomysql

from aqueue.backends.mysql.core import SQL, MySQLCore
from aqueue.records import JobStep


class MySQLSteps(MySQLCore):
    """:class:`~aqueue.backends.base.Steps`."""

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
