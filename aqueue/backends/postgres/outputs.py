"""PostgreSQL: what attempts printed and logged (the Outputs capability)."""

from __future__ import annotations

from aqueue.backends.postgres.core import SQL, PostgresCore, uuid_or_none
from aqueue.records import AttemptOutput


class PostgresOutputs(PostgresCore):
    """:class:`~aqueue.backends.base.Outputs` (the writes are ``complete_jobs``'s)."""

    async def job_outputs(self, job_id: str) -> list[AttemptOutput]:
        key = uuid_or_none(job_id)
        if key is None:
            return []
        rows = await self._fetch(SQL["job_outputs"], key)
        return [AttemptOutput(r[0], job_id, r[1], r[2], r[3], r[4]) for r in rows]
