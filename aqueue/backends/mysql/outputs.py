"""MySQL/MariaDB: what attempts printed and logged (the Outputs capability)."""

from __future__ import annotations

from datetime import UTC

from aqueue.backends.mysql.core import SQL, MySQLCore
from aqueue.records import AttemptOutput


class MySQLOutputs(MySQLCore):
    """:class:`~aqueue.backends.base.Outputs` (the writes are ``complete_jobs``'s)."""

    async def job_outputs(self, job_id: str) -> list[AttemptOutput]:
        rows = await self._fetch(SQL["job_outputs"], (job_id,))
        return [
            AttemptOutput(r[0], job_id, int(r[1]), r[2], int(r[3]), r[4].replace(tzinfo=UTC))
            for r in rows
        ]
