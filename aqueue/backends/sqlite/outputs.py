"""SQLite: what attempts printed and logged (the Outputs capability)."""

from __future__ import annotations

from datetime import UTC, datetime

from aqueue.backends.sqlite.core import SQL, SQLiteCore
from aqueue.records import AttemptOutput


class SQLiteOutputs(SQLiteCore):
    """:class:`~aqueue.backends.base.Outputs` (the writes are ``complete_jobs``'s)."""

    async def job_outputs(self, job_id: str) -> list[AttemptOutput]:
        rows = await self._fetchall(SQL["job_outputs"], {"job_id": job_id})
        return [
            AttemptOutput(r[0], job_id, r[1], r[2], r[3], datetime.fromtimestamp(r[4], UTC))
            for r in rows
        ]
