"""SQLite: reading and acting on many jobs (the Admin capability), the
workers registry, periodic ticks and leadership terms, dashboard sessions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from aqueue.backends.common import (
    IMPORTED_COLUMNS,
    JOB_COLUMNS,
    delete_in_batches,
    json_path,
    list_jobs_sql,
    row_to_info,
    rows_to_workers,
)
from aqueue.backends.sqlite.core import _SOURCES, NOW, SQL, SQLiteCore
from aqueue.records import (
    ImportedJob,
    JobFilter,
    JobInfo,
    NewJob,
    WorkerInfo,
    WorkerRegistration,
    schedule_tag,
)


class SQLiteAdmin(SQLiteCore):
    """:class:`~aqueue.backends.base.Admin`, :class:`~aqueue.backends.base.Registry`,
    :class:`~aqueue.backends.base.Schedules` and :class:`~aqueue.backends.base.Sessions`."""

    async def list_jobs(self, job_filter: JobFilter) -> list[JobInfo]:
        params: dict[str, Any] = {}

        def bind(value: Any) -> str:
            name = f"p{len(params)}"
            params[name] = value
            return f":{name}"

        sql, ascending = list_jobs_sql(
            job_filter,
            bind,
            columns=JOB_COLUMNS,
            sources=_SOURCES,
            now=NOW,
            contains=lambda column, marker: f"instr({column}, {marker}) > 0",
            arg_equals=lambda key, value, bind: (
                f"json_extract({'args' if key.isdigit() else 'kwargs'}, {bind(json_path(key))})"
                f" = json_extract({bind(value)}, '$')"
            ),
            error_text="error",
        )
        rows = [row_to_info(r) for r in await self._fetchall(sql, params)]
        return rows[::-1] if ascending else rows

    async def task_names(self) -> list[str]:
        return await self._names("task")

    async def queue_names(self) -> list[str]:
        return await self._names("queue")

    async def _names(self, column: str) -> list[str]:
        sql = SQL.render("job_names", column=column)  # one of two fixed column names
        return [str(r[0]) for r in await self._fetchall(sql, {})]

    async def tag_counts(self, tag: str) -> dict[str, int]:
        rows = await self._fetchall(SQL["tag_counts"], {"tag": tag})
        return {str(r[0]): int(r[1]) for r in rows}

    async def delete_job(self, job_id: str) -> str | None:
        async def op(conn: aiosqlite.Connection) -> str | None:
            async with self._transaction(conn):
                async with conn.execute(SQL["delete_job"], {"id": job_id}) as cur:
                    row = await cur.fetchone()
                if row is None:
                    async with conn.execute(SQL["job_status"], {"id": job_id}) as cur:
                        row = await cur.fetchone()
            return str(row[0]) if row else None

        return await self._run("delete", op)

    async def cancel_job(self, job_id: str) -> str | None:
        async def op(conn: aiosqlite.Connection) -> str | None:
            async with self._transaction(conn):
                await conn.execute(SQL["cancel_job"], {"id": job_id})
                async with conn.execute(SQL["job_status"], {"id": job_id}) as cur:
                    row = await cur.fetchone()
            return str(row[0]) if row else None

        status = await self._run("cancel", op)
        if status == "cancelled":
            self._wake.done([job_id])
        elif status == "running":
            self._wake.cancel(job_id)
        return status

    async def reschedule_job(
        self, job_id: str, move: bool, run_at: datetime | None, priority: int | None
    ) -> bool:
        params = {
            "id": job_id,
            "move": int(move),
            "run_at": run_at.timestamp() if run_at else None,
            "priority": priority,
        }
        moved = await self._rowcount(SQL["reschedule_job"], params) == 1
        if moved:
            self._wake.anything_new()
        return moved

    async def retry_job(self, job_id: str) -> bool:
        retried = await self._rowcount(SQL["retry_job"], {"id": job_id}) == 1
        if retried:
            self._wake.anything_new()
        return retried

    async def queue_counts(self) -> list[Sequence[Any]]:
        return await self._fetchall(SQL["queue_counts"], {})

    async def recent_finished(self, long: float, short: float) -> list[Sequence[Any]]:
        return await self._fetchall(SQL["recent_finished"], {"long": long, "short": short})

    async def totals(self) -> list[Sequence[Any]]:
        return list(await self._fetchall(SQL["stats"], {}))

    async def count_expired_leases(self, grace: float) -> int:
        return int((await self._fetchall(SQL["expired_leases"], {"grace": grace}))[0][0])

    async def purge(
        self, older_than: float, statuses: Sequence[str], dry_run: bool, batch_size: int
    ) -> int:
        params: dict[str, Any] = {
            "age": older_than,
            "statuses": json.dumps(list(statuses)),
            "batch": batch_size,
        }
        if dry_run:
            return int((await self._fetchall(SQL["count_purgeable"], params))[0][0])
        return await delete_in_batches(
            lambda: self._rowcount(SQL["purge_batch"], params), batch_size
        )

    async def purge_task(self, task: str, older_than: float, batch_size: int) -> int:
        params = {"task": task, "age": older_than, "batch": batch_size}
        return await delete_in_batches(
            lambda: self._rowcount(SQL["purge_task_batch"], params), batch_size
        )

    async def set_paused(self, queue: str, paused: bool) -> None:
        await self._rowcount(SQL["set_paused"], {"name": queue, "paused": int(paused)})
        if not paused:
            self._wake.new([(queue, 0.0)])

    async def queue_states(self) -> dict[str, bool]:
        return {r[0]: bool(r[1]) for r in await self._fetchall(SQL["queue_states"], {})}

    async def import_jobs(self, jobs: Sequence[ImportedJob]) -> int:
        if not jobs:
            return 0
        rows = [
            {
                name: (v.timestamp() if isinstance(v, datetime) else v)
                for name in IMPORTED_COLUMNS
                for v in (getattr(j, name),)
            }
            for j in jobs
        ]

        async def op(conn: aiosqlite.Connection) -> int:
            async with self._transaction(conn):
                before = conn.total_changes
                await conn.executemany(SQL["import_jobs"], rows)
                imported = conn.total_changes - before
                await conn.executemany(SQL["insert_tag"], [t for j in jobs for t in j.tag_rows()])
                return imported

        return await self._run("import", op)

    # -- the workers registry ---------------------------------------------------

    async def register_worker(self, worker: WorkerRegistration, ttl: float) -> None:
        await self._rowcount(
            SQL["register_worker"],
            {
                "name": worker.name,
                "host": worker.host,
                "pid": worker.pid,
                "queues": None if worker.queues is None else json.dumps(worker.queues),
                "concurrency": worker.concurrency,
                "version": worker.version,
                "ttl": ttl,
                "node": worker.node,
            },
        )

    async def heartbeat_worker(self, name: str, ttl: float) -> bool:
        return await self._rowcount(SQL["heartbeat_worker"], {"name": name, "ttl": ttl}) == 1

    async def deregister_worker(self, name: str) -> None:
        await self._rowcount(SQL["deregister_worker"], {"name": name})

    async def sweep_workers(self, retention: float) -> tuple[int, int]:
        return (
            await self._rowcount(SQL["mark_dead_workers"], {}),
            await self._rowcount(SQL["prune_workers"], {"age": retention}),
        )

    async def list_workers(self, retention: float) -> list[WorkerInfo]:
        return rows_to_workers(
            await self._fetchall(SQL["list_workers"], {"age": retention}),
            await self._fetchall(SQL["running_jobs_by_worker"], {}),
        )

    async def workers_on_node(self, node: str) -> list[tuple[str, int]]:
        rows = await self._fetchall(SQL["workers_on_node"], {"node": node})
        return [(r[0], int(r[1])) for r in rows]

    # -- periodic ticks and leadership --------------------------------------------

    async def advance_tick(
        self,
        schedule: str,
        expected: datetime | None,
        tick: datetime,
        jobs: Sequence[tuple[NewJob, str]],
    ) -> list[str] | None:
        async def op(conn: aiosqlite.Connection) -> list[str] | None:
            async with self._transaction(conn):
                params = {
                    "name": schedule,
                    "tick": tick.timestamp(),
                    "expected": None if expected is None else expected.timestamp(),
                }
                won = await conn.execute_fetchall(
                    SQL["start_schedule" if expected is None else "advance_tick"], params
                )
                if not won:
                    return None
                if not jobs:
                    return []
                ids = await self.insert_jobs([j for j, _ in jobs], connection=conn)
                await conn.executemany(
                    SQL["set_meta"],
                    [{"id": i, "meta": meta} for i, (_, meta) in zip(ids, jobs, strict=True)],
                )
                tag = schedule_tag(schedule)
                await conn.executemany(SQL["insert_tag"], [(i, tag) for i in ids])
                return ids

        return await self._run("periodic", op)

    async def last_ticks(self) -> dict[str, datetime]:
        rows = await self._fetchall(SQL["last_ticks"], {})
        return {r[0]: datetime.fromtimestamp(float(r[1]), UTC) for r in rows}

    async def elect(self, duty: str, candidate: str, ttl: float) -> tuple[str, int]:
        async def op(conn: aiosqlite.Connection) -> tuple[str, int]:
            async with self._transaction(conn):  # the one writer: nobody elects meanwhile
                rows = list(await conn.execute_fetchall(SQL["read_leader"], {"duty": duty}))
                holder, term, lapsed = rows[0] if rows else ("", 0, True)
                if holder == candidate or lapsed:
                    term = int(term) if holder == candidate else int(term) + 1
                    holder = candidate
                    await conn.execute(
                        SQL["set_leader"],
                        {"duty": duty, "holder": candidate, "term": term, "ttl": ttl},
                    )
                return str(holder), int(term)

        return await self._run("elect", op)

    async def resign(self, duty: str, holder: str) -> None:
        await self._rowcount(SQL["resign"], {"duty": duty, "holder": holder})

    # -- dashboard sessions ---------------------------------------------------------

    async def start_session(self, key: str, ttl: float) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            async with self._transaction(conn):
                await conn.execute(SQL["prune_sessions"], {})
                await conn.execute(SQL["start_session"], {"key": key, "ttl": ttl})

        await self._run("session", op)

    async def session_alive(self, key: str) -> bool:
        return bool(await self._fetchall(SQL["session_alive"], {"key": key}))

    async def end_session(self, key: str) -> None:
        await self._rowcount(SQL["end_session"], {"key": key})
