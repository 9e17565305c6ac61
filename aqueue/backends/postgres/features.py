"""PostgreSQL: limits, dependencies and hand-over — the statements their
features drive (:mod:`aqueue.backends.ports`), and the hand-over's offers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from aqueue.backends.common import claimed_jobs
from aqueue.backends.ports import DependencySteps, KeyOps
from aqueue.backends.postgres.core import SQL, PostgresCore, uuid_or_none
from aqueue.records import ClaimedJob, Edge, LimitedClaim, LimitedResult, NewJob, Related


class _PostgresDeps:
    """Dependency statements on one connection (see :mod:`aqueue.dependencies`)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def lock_parents(self, ids: Sequence[str]) -> dict[str, str]:
        valid = [u for u in (uuid_or_none(i) for i in ids) if u is not None]
        rows = await self._conn.fetch(SQL["lock_parents"], valid)
        return {r[0]: r[1] for r in rows}

    async def insert_edges(self, edges: Sequence[Edge]) -> None:
        await self._conn.execute(
            SQL["insert_edges"],
            [e.child for e in edges],
            [e.parent for e in edges],
            [e.run_on_failure for e in edges],
        )

    async def set_waiting(self, counts: dict[str, int]) -> None:
        await self._conn.execute(SQL["set_waiting"], list(counts), list(counts.values()))

    async def release(self, parents: Sequence[str]) -> None:
        await self._conn.execute(SQL["release"], list(parents))

    async def insert_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        await self._conn.execute(SQL["insert_tags"], [t[0] for t in tags], [t[1] for t in tags])

    async def insert_batch(self, batch_id: str, callbacks: str, anchor: str) -> None:
        await self._conn.execute(SQL["insert_batch"], batch_id, callbacks, anchor)

    async def lock_batch(self, batch_id: str) -> tuple[str, bool] | None:
        if uuid_or_none(batch_id) is None:
            return None
        row = await self._conn.fetchrow(SQL["lock_batch"], batch_id)
        return None if row is None else (str(row[0]), bool(row[1]))


class PostgresFeatures(PostgresCore):
    """:class:`~aqueue.backends.base.Limits`, :class:`~aqueue.backends.base.Dependencies`
    and :class:`~aqueue.backends.base.Handover`."""

    async def claim_limited(
        self,
        worker: str,
        queues: Sequence[str] | None,
        lease: float,
        request: LimitedClaim,
        room: int,
        steps: Callable[[KeyOps], Awaitable[LimitedResult]],
        withdraw_offer_at: int | None = None,
    ) -> LimitedResult:
        # claim_steps' logic runs in aqueue_claim_limited (functions.sql): one
        # round trip instead of five to seven statements per key.
        limits = list(request.limits.values())
        after_task, after_key = request.after or (None, None)
        rows = await self._fetch(
            SQL["claim_limited"],
            worker,
            lease,
            list(queues) if queues else None,
            room,
            after_task,
            after_key,
            [t.task for t in limits],
            [t.concurrency for t in limits],
            [t.rate for t in limits],
            [t.period for t in limits],
            request.max_keys,
            withdraw_offer_at,
        )
        end = rows[-1]  # the row without a job: where the next claim starts
        cursor = None if end["cursor_task"] is None else (end["cursor_task"], end["cursor_key"])
        return LimitedResult(claimed_jobs(rows[:-1]), cursor, bool(end["held_back"]))

    async def insert_dependent_jobs(
        self,
        jobs: Sequence[NewJob],
        related: Related,
        steps: DependencySteps,
        connection: Any = None,
    ) -> list[str]:
        async def write(conn: asyncpg.Connection) -> list[str]:
            ids = await self.insert_jobs(jobs, connection=conn)
            kept = {j.id for j, i in zip(jobs, ids, strict=True) if i == j.id}
            await steps(_PostgresDeps(conn), related.kept(kept))
            return ids

        async def op(conn: asyncpg.Connection) -> list[str]:
            async with conn.transaction():
                return await write(conn)

        if connection is not None:
            return await write(connection)
        return await self._run("insert", op)

    async def release_ended(self, parents: Sequence[str] | None = None) -> None:
        if parents is None:
            await self._execute(SQL["release_ended"])
        else:
            await self._execute(SQL["release"], [u for u in map(uuid_or_none, parents) if u])

    async def job_parents(self, job_id: str) -> list[tuple[str, bool]]:
        if uuid_or_none(job_id) is None:
            return []
        return [(r[0], bool(r[1])) for r in await self._fetch(SQL["job_parents"], job_id)]

    async def close_batch(self, batch_id: str) -> bool | None:
        async def op(conn: asyncpg.Connection) -> bool | None:
            async with conn.transaction():
                state = await _PostgresDeps(conn).lock_batch(batch_id)
                if state is None or state[1]:
                    return None if state is None else False
                await conn.execute(SQL["close_batch"], batch_id)
                await conn.execute(SQL["release_hold"], list(json.loads(state[0]).values()))
                return True

        return await self._run("update", op)

    async def batch_state(self, batch_id: str) -> tuple[str, bool] | None:
        if uuid_or_none(batch_id) is None:
            return None
        rows = await self._fetch(SQL["batch_state"], batch_id)
        return (str(rows[0][0]), rows[0][1] is not None) if rows else None

    async def job_children(self, job_id: str) -> list[str]:
        if uuid_or_none(job_id) is None:
            return []
        return [r[0] for r in await self._fetch(SQL["job_children"], job_id)]

    async def offer(
        self, worker: str, queues: Sequence[str] | None, lease: float, ttl: float, token: float
    ) -> datetime:
        value: datetime = await self._fetchval(
            SQL["offer"], worker, list(queues) if queues else None, lease, ttl, token
        )
        return value

    async def withdraw_offer(self, worker: str) -> bool:
        return bool(await self._fetchval(SQL["withdraw_offer"], worker))

    async def claim_jobs_withdrawing(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float, slots: int
    ) -> list[ClaimedJob]:
        rows = await self._fetch(
            SQL["claim_jobs_withdrawing"],
            worker,
            limit,
            lease,
            list(queues) if queues else None,
            slots,
        )
        return claimed_jobs(rows)

    async def handed_over(self, worker: str, job_id: str) -> ClaimedJob | None:
        rows = await self._fetch(SQL["handed_over_job"], job_id, worker)
        jobs = claimed_jobs(rows)
        return jobs[0] if jobs else None

    async def handed_over_since(
        self, worker: str, since: datetime, held: Sequence[str]
    ) -> list[ClaimedJob]:
        return claimed_jobs(await self._fetch(SQL["handed_over_since"], worker, since, list(held)))
