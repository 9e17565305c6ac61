"""PostgreSQL: durable steps' results and signals to jobs (the Steps and
Signals capabilities)."""

from __future__ import annotations

from aqueue.backends.postgres.core import SQL, PostgresCore, uuid_or_none
from aqueue.records import JobSignal, JobStep


class PostgresSteps(PostgresCore):
    """:class:`~aqueue.backends.base.Steps` and :class:`~aqueue.backends.base.Signals`."""

    async def job_step(self, job_id: str, name: str) -> str | None:
        key = uuid_or_none(job_id)
        if key is None:
            return None
        value = await self._fetchval(SQL["job_step"], key, name)
        return None if value is None else str(value)

    async def store_step(
        self, job_id: str, attempt: int, worker: str, name: str, result: str
    ) -> str | None:
        key = uuid_or_none(job_id)
        if key is None:
            return None
        value = await self._fetchval(SQL["store_step"], key, attempt, worker, name, result)
        return None if value is None else str(value)

    async def job_steps(self, job_id: str) -> list[JobStep]:
        key = uuid_or_none(job_id)
        if key is None:
            return []
        return [JobStep(*r) for r in await self._fetch(SQL["job_steps"], key)]

    async def send_signal(self, job_id: str, name: str, payload: str, wait_step: str) -> bool:
        key = uuid_or_none(job_id)
        if key is None:
            return False
        return bool(await self._fetchval(SQL["send_signal"], key, name, payload, wait_step))

    async def job_signal(self, job_id: str, name: str) -> str | None:
        key = uuid_or_none(job_id)
        if key is None:
            return None
        value = await self._fetchval(SQL["job_signal"], key, name)
        return None if value is None else str(value)

    async def job_signals(self, job_id: str) -> list[JobSignal]:
        key = uuid_or_none(job_id)
        if key is None:
            return []
        return [JobSignal(*r) for r in await self._fetch(SQL["job_signals"], key)]
