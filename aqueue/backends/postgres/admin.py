"""PostgreSQL: reading and acting on many jobs (the Admin capability), the
workers registry, periodic ticks and leadership terms, dashboard sessions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from aqueue.backends.common import (
    IMPORTED_COLUMNS,
    JOB_COLUMNS,
    delete_in_batches,
    list_jobs_sql,
    row_to_info,
    rows_to_workers,
)
from aqueue.backends.postgres.core import SQL, PostgresCore, uuid_or_none
from aqueue.records import (
    ImportedJob,
    JobFilter,
    JobInfo,
    NewJob,
    WorkerInfo,
    WorkerRegistration,
    schedule_tag,
)


class PostgresAdmin(PostgresCore):
    """:class:`~aqueue.backends.base.Admin`, :class:`~aqueue.backends.base.Registry`,
    :class:`~aqueue.backends.base.Schedules` and :class:`~aqueue.backends.base.Sessions`."""

    async def list_jobs(self, job_filter: JobFilter) -> list[JobInfo]:
        args: list[Any] = []

        def bind(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        sql, ascending = list_jobs_sql(
            job_filter,
            bind,
            columns=JOB_COLUMNS,
            id_cast="::uuid",
            running="lease_expires_at IS NOT NULL AND status = 'running'",
        )
        rows = [row_to_info(r) for r in await self._fetch(sql, *args)]
        return rows[::-1] if ascending else rows

    async def task_names(self) -> list[str]:
        return await self._names("task")

    async def queue_names(self) -> list[str]:
        return await self._names("queue")

    async def _names(self, column: str) -> list[str]:
        sql = SQL.render("job_names", column=column)  # one of two fixed column names
        return [str(r[0]) for r in await self._fetch(sql)]

    async def tag_counts(self, tag: str) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in await self._fetch(SQL["tag_counts"], tag)}

    async def delete_job(self, job_id: str) -> str | None:
        key = uuid_or_none(job_id)
        if key is None:
            return None
        status = await self._fetchval(SQL["delete_job"], key)
        return None if status is None else str(status)

    async def cancel_job(self, job_id: str) -> str | None:
        key = uuid_or_none(job_id)
        if key is None:
            return None
        rows = await self._fetch(SQL["cancel_job"], key)
        if rows:
            return str(rows[0][0])
        status = await self._fetchval(SQL["job_status"], key)
        return None if status is None else str(status)

    async def reschedule_job(
        self, job_id: str, move: bool, run_at: datetime | None, priority: int | None
    ) -> bool:
        key = uuid_or_none(job_id)
        if key is None:
            return False
        return bool(await self._fetch(SQL["reschedule_job"], key, move, run_at, priority))

    async def retry_job(self, job_id: str) -> bool:
        key = uuid_or_none(job_id)
        return key is not None and bool(await self._fetch(SQL["retry_job"], key))

    async def queue_counts(self) -> list[Sequence[Any]]:
        return list(await self._fetch(SQL["queue_counts"]))

    async def recent_finished(self, long: float, short: float) -> list[Sequence[Any]]:
        return list(await self._fetch(SQL["recent_finished"], long, short))

    async def totals(self) -> list[Sequence[Any]]:
        return list(await self._fetch(SQL["stats"]))

    async def count_expired_leases(self, grace: float) -> int:
        return int(await self._fetchval(SQL["expired_leases"], grace))

    async def purge(
        self, older_than: float, statuses: Sequence[str], dry_run: bool, batch_size: int
    ) -> int:
        if dry_run:
            return int(await self._fetchval(SQL["count_purgeable"], older_than, list(statuses)))
        return await delete_in_batches(
            lambda: self._execute(SQL["purge_batch"], older_than, list(statuses), batch_size),
            batch_size,
        )

    async def purge_task(self, task: str, older_than: float, batch_size: int) -> int:
        return await delete_in_batches(
            lambda: self._execute(SQL["purge_task_batch"], task, older_than, batch_size), batch_size
        )

    async def set_paused(self, queue: str, paused: bool) -> None:
        await self._fetch(SQL["set_paused"], queue, paused)

    async def queue_states(self) -> dict[str, bool]:
        return {r[0]: bool(r[1]) for r in await self._fetch(SQL["queue_states"])}

    async def import_jobs(self, jobs: Sequence[ImportedJob]) -> int:
        if not jobs:
            return 0
        columns = [[getattr(j, name) for j in jobs] for name in IMPORTED_COLUMNS]
        tags = [row for j in jobs for row in j.tag_rows()]

        async def op(conn: asyncpg.Connection) -> int:
            async with conn.transaction():
                rows = await conn.fetch(SQL["import_jobs"], *columns)
                if tags:
                    await conn.execute(
                        SQL["insert_tags"], [t[0] for t in tags], [t[1] for t in tags]
                    )
                return len(rows)

        return await self._run("import", op)

    # -- the workers registry ---------------------------------------------------

    async def register_worker(self, worker: WorkerRegistration, ttl: float) -> None:
        queues = None if worker.queues is None else json.dumps(worker.queues)
        await self._execute(
            SQL["register_worker"],
            worker.name,
            worker.host,
            worker.pid,
            queues,
            worker.concurrency,
            worker.version,
            ttl,
            worker.node,
        )

    async def heartbeat_worker(self, name: str, ttl: float) -> bool:
        return await self._execute(SQL["heartbeat_worker"], name, ttl) == 1

    async def deregister_worker(self, name: str) -> None:
        await self._execute(SQL["deregister_worker"], name)

    async def sweep_workers(self, retention: float) -> tuple[int, int]:
        return (
            await self._execute(SQL["mark_dead_workers"]),
            await self._execute(SQL["prune_workers"], retention),
        )

    async def list_workers(self, retention: float) -> list[WorkerInfo]:
        return rows_to_workers(
            await self._fetch(SQL["list_workers"], retention),
            await self._fetch(SQL["running_jobs_by_worker"]),
        )

    async def workers_on_node(self, node: str) -> list[tuple[str, int]]:
        return [(r[0], int(r[1])) for r in await self._fetch(SQL["workers_on_node"], node)]

    # -- periodic ticks and leadership --------------------------------------------

    async def advance_tick(
        self,
        schedule: str,
        expected: datetime | None,
        tick: datetime,
        jobs: Sequence[tuple[NewJob, str]],
    ) -> list[str] | None:
        async def op(conn: asyncpg.Connection) -> list[str] | None:
            async with conn.transaction():
                won = (
                    await conn.fetchval(SQL["start_schedule"], schedule, tick)
                    if expected is None
                    else await conn.fetchval(SQL["advance_tick"], schedule, tick, expected)
                )
                if won is None:
                    return None
                if not jobs:
                    return []
                ids = await self.insert_jobs([j for j, _ in jobs], connection=conn)
                await conn.executemany(
                    SQL["set_meta"], [(i, meta) for i, (_, meta) in zip(ids, jobs, strict=True)]
                )
                await conn.execute(SQL["insert_tags"], ids, [schedule_tag(schedule)] * len(ids))
                return ids

        return await self._run("periodic", op)

    async def last_ticks(self) -> dict[str, datetime]:
        return {r[0]: r[1] for r in await self._fetch(SQL["last_ticks"])}

    async def elect(self, duty: str, candidate: str, ttl: float) -> tuple[str, int]:
        rows = await self._fetch(SQL["elect"], duty, candidate, ttl)
        if not rows:
            # The row was inserted by a concurrent first election after this
            # statement's snapshot: the upsert waited for it, the read cannot
            # see it. Asked again, it can.
            rows = await self._fetch(SQL["elect"], duty, candidate, ttl)
        return str(rows[0][0]), int(rows[0][1])

    async def resign(self, duty: str, holder: str) -> None:
        await self._execute(SQL["resign"], duty, holder)

    # -- dashboard sessions ---------------------------------------------------------

    async def start_session(self, key: str, ttl: float) -> None:
        await self._execute(SQL["start_session"], key, ttl)

    async def session_alive(self, key: str) -> bool:
        return await self._fetchval(SQL["session_alive"], key) is not None

    async def end_session(self, key: str) -> None:
        await self._execute(SQL["end_session"], key)
