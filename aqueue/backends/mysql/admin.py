"""MySQL/MariaDB: reading and acting on many jobs (the Admin capability), the
workers registry, periodic ticks and leadership terms, dashboard sessions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiomysql

from aqueue.backends.common import (
    IMPORTED_COLUMNS,
    delete_in_batches,
    json_path,
    list_jobs_sql,
    row_to_info,
    rows_to_workers,
)
from aqueue.backends.mysql.core import _JOB_COLUMNS, _SOURCES, SQL, MySQLCore, marks, micros
from aqueue.records import (
    ImportedJob,
    JobFilter,
    JobInfo,
    NewJob,
    WorkerInfo,
    WorkerRegistration,
    schedule_tag,
)


class MySQLAdmin(MySQLCore):
    """:class:`~aqueue.backends.base.Admin`, :class:`~aqueue.backends.base.Registry`,
    :class:`~aqueue.backends.base.Schedules` and :class:`~aqueue.backends.base.Sessions`."""

    async def list_jobs(self, job_filter: JobFilter) -> list[JobInfo]:
        args: list[Any] = []

        def bind(value: Any) -> str:
            args.append(value)
            return "%s"

        sql, ascending = list_jobs_sql(
            job_filter,
            bind,
            columns=_JOB_COLUMNS,
            sources=_SOURCES,
            problem_key=True,
            now="UTC_TIMESTAMP(6)",
            contains=lambda column, marker: f"LOCATE({marker}, {column}) > 0",
            # The generated column its index is on: MariaDB does not match the
            # expression it stands for.
            limited="limited_status = 'queued'",
            arg_equals=lambda key, value, bind: (
                f"JSON_CONTAINS({'args' if key.isdigit() else 'kwargs'}, {bind(value)}, "
                f"{bind(json_path(key))})"
            ),
            error_text="error",
            search_by_join=True,
        )
        rows = [row_to_info(r) for r in await self._fetch(sql, args)]
        return rows[::-1] if ascending else rows

    async def task_names(self) -> list[str]:
        return await self._names("task")

    async def queue_names(self) -> list[str]:
        return await self._names("queue")

    async def _names(self, column: str) -> list[str]:
        sql = SQL.render("job_names", column=column)  # one of two fixed column names
        return [str(r[0]) for r in await self._fetch(sql)]

    async def tag_counts(self, tag: str) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in await self._fetch(SQL["tag_counts"], (tag,))}

    async def delete_job(self, job_id: str) -> str | None:
        async def op(cur: aiomysql.Cursor) -> str | None:
            await cur.execute(SQL["lock_job_status"], (job_id,))
            row = await cur.fetchone()
            if row is None:
                return None
            # A running job is not deleted: its worker holds it (cancel it instead).
            if row[0] != "running":
                await cur.execute(SQL["delete_job"], (job_id,))
            return str(row[0])

        return await self._run("delete", op, transaction=True)

    async def cancel_job(self, job_id: str) -> str | None:
        async def op(cur: aiomysql.Cursor) -> str | None:
            await cur.execute(SQL["cancel_job"], (job_id,))
            await cur.execute(SQL["job_status"], (job_id,))
            row = await cur.fetchone()
            return None if row is None else str(row[0])

        return await self._run("cancel", op, transaction=True)

    async def reschedule_job(
        self, job_id: str, move: bool, run_at: datetime | None, priority: int | None
    ) -> bool:
        when = run_at.astimezone(UTC).replace(tzinfo=None) if run_at else None
        neg = None if priority is None else -priority
        changed = await self._rowcount(SQL["reschedule_job"], (move, when, neg, job_id))
        # A row whose values did not change counts 0 in MySQL: ask what it is.
        return changed == 1 or (
            changed == 0 and (await self._fetch(SQL["movable_job"], (job_id,))) != []
        )

    async def retry_job(self, job_id: str) -> bool:
        return await self._rowcount(SQL["retry_job"], (job_id,)) == 1

    async def queue_counts(self) -> list[Sequence[Any]]:
        return list(await self._fetch(SQL["queue_counts"]))

    async def recent_finished(self, long: float, short: float) -> list[Sequence[Any]]:
        return list(await self._fetch(SQL["recent_finished"], (micros(short), micros(long))))

    async def totals(self) -> list[Sequence[Any]]:
        return list(await self._fetch(SQL["stats"]))

    async def count_expired_leases(self, grace: float) -> int:
        return int((await self._fetch(SQL["expired_leases"], [micros(grace)]))[0][0])

    async def purge(
        self, older_than: float, statuses: Sequence[str], dry_run: bool, batch_size: int
    ) -> int:
        in_list = marks(len(statuses))
        if dry_run:
            sql = SQL.render("count_purgeable", statuses=in_list)
            return int((await self._fetch(sql, [micros(older_than), *statuses]))[0][0])
        sql = SQL.render("purge_batch", statuses=in_list)
        return await delete_in_batches(
            lambda: self._rowcount(sql, [micros(older_than), *statuses, batch_size]),
            batch_size,
        )

    async def purge_task(self, task: str, older_than: float, batch_size: int) -> int:
        return await delete_in_batches(
            lambda: self._rowcount(SQL["purge_task_batch"], [task, micros(older_than), batch_size]),
            batch_size,
        )

    async def set_paused(self, queue: str, paused: bool) -> None:
        await self._rowcount(SQL["set_paused"], (queue, int(paused)))

    async def queue_states(self) -> dict[str, bool]:
        return {r[0]: bool(r[1]) for r in await self._fetch(SQL["queue_states"])}

    async def import_jobs(self, jobs: Sequence[ImportedJob]) -> int:
        if not jobs:
            return 0

        def row(j: ImportedJob) -> list[Any]:
            values = [getattr(j, name) for name in IMPORTED_COLUMNS]
            values[4] = -j.priority
            return [
                v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
                for v in values
            ]

        ids = [j.id for j in jobs]
        count = SQL.render("count_ids", ids=marks(len(ids)))

        async def op(cur: aiomysql.Cursor) -> int:
            await cur.execute(count, ids)
            before = int((await cur.fetchone())[0])
            await cur.executemany(SQL["import_jobs"], [row(j) for j in jobs])
            await cur.execute(count, ids)
            imported = int((await cur.fetchone())[0]) - before
            tags = [t for j in jobs for t in j.tag_rows()]
            if tags:
                await cur.executemany(SQL["insert_tag"], tags)
            return imported

        return await self._run("import", op, transaction=True)

    # -- the workers registry ---------------------------------------------------

    async def register_worker(self, worker: WorkerRegistration, ttl: float) -> None:
        queues = None if worker.queues is None else json.dumps(worker.queues)
        await self._rowcount(
            SQL["register_worker"],
            (
                worker.name,
                worker.host,
                worker.pid,
                queues,
                worker.concurrency,
                worker.version,
                micros(ttl),
                worker.node,
            ),
        )

    async def heartbeat_worker(self, name: str, ttl: float) -> bool:
        # MySQL counts rows changed, not matched: heartbeat_at always changes.
        return await self._rowcount(SQL["heartbeat_worker"], (micros(ttl), name)) == 1

    async def deregister_worker(self, name: str) -> None:
        await self._rowcount(SQL["deregister_worker"], (name,))

    async def sweep_workers(self, retention: float) -> tuple[int, int]:
        return (
            await self._rowcount(SQL["mark_dead_workers"]),
            await self._rowcount(SQL["prune_workers"], (micros(retention),)),
        )

    async def list_workers(self, retention: float) -> list[WorkerInfo]:
        return rows_to_workers(
            await self._fetch(SQL["list_workers"], (micros(retention),)),
            await self._fetch(SQL["running_jobs_by_worker"]),
        )

    async def workers_on_node(self, node: str) -> list[tuple[str, int]]:
        return [(r[0], int(r[1])) for r in await self._fetch(SQL["workers_on_node"], (node,))]

    # -- periodic ticks and leadership --------------------------------------------

    async def advance_tick(
        self,
        schedule: str,
        expected: datetime | None,
        tick: datetime,
        jobs: Sequence[tuple[NewJob, str]],
    ) -> list[str] | None:
        def naive(moment: datetime) -> datetime:
            return moment.astimezone(UTC).replace(tzinfo=None)

        async def op(cur: aiomysql.Cursor) -> list[str] | None:
            won = (
                await cur.execute(SQL["start_schedule"], (schedule, naive(tick)))
                if expected is None
                else await cur.execute(
                    SQL["advance_tick"], (naive(tick), schedule, naive(expected))
                )
            )
            if not won:
                return None
            if not jobs:
                return []
            ids = await self.insert_jobs([j for j, _ in jobs], connection=cur.connection)
            for job_id, (_, meta) in zip(ids, jobs, strict=True):
                await cur.execute(SQL["set_meta"], (meta, job_id))
            await cur.executemany(SQL["insert_tag"], [(i, schedule_tag(schedule)) for i in ids])
            return ids

        return await self._run("periodic", op, transaction=True)

    async def last_ticks(self) -> dict[str, datetime]:
        return {r[0]: r[1].replace(tzinfo=UTC) for r in await self._fetch(SQL["last_ticks"])}

    async def elect(self, duty: str, candidate: str, ttl: float) -> tuple[str, int]:
        async def op(cur: aiomysql.Cursor) -> tuple[str, int]:
            await cur.execute(SQL["leader_row"], (duty,))
            await cur.execute(SQL["lock_leader"], (duty,))
            holder, term, lapsed = await cur.fetchone()
            if holder == candidate or lapsed:
                term = int(term) if holder == candidate else int(term) + 1
                await cur.execute(SQL["set_leader"], (candidate, term, micros(ttl), duty))
                holder = candidate
            return str(holder), int(term)

        return await self._run("elect", op, transaction=True)

    async def resign(self, duty: str, holder: str) -> None:
        await self._rowcount(SQL["resign"], (duty, holder))

    # -- dashboard sessions ---------------------------------------------------------

    async def start_session(self, key: str, ttl: float) -> None:
        async def op(cur: aiomysql.Cursor) -> None:
            await cur.execute(SQL["prune_sessions"])
            await cur.execute(SQL["start_session"], (key, micros(ttl)))

        await self._run("session", op)

    async def session_alive(self, key: str) -> bool:
        return bool(await self._fetch(SQL["session_alive"], (key,)))

    async def end_session(self, key: str) -> None:
        await self._rowcount(SQL["end_session"], (key,))
