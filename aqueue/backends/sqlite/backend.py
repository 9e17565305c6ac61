"""SQLite backend (aiosqlite): one connection, WAL, one writer at a time."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from aqueue.backends.base import (
    CancelHandler,
    DoneHandler,
    HandoverHandler,
    Listener,
    NewJobHandler,
)
from aqueue.backends.common import (
    IMPORTED_COLUMNS,
    JOB_COLUMNS,
    LEASE_EXPIRED_MESSAGE,
    WORKER_GONE_MESSAGE,
    NoHandover,
    at_edge,
    claimed_jobs,
    delete_in_batches,
    group_stats,
    list_jobs_sql,
    row_to_info,
    rows_to_workers,
)
from aqueue.backends.sqlfile import Queries, load_migrations, load_queries
from aqueue.backends.wakeup import WakeListener, WakeSender, channel_directory
from aqueue.dependencies import Edge, EndedEdge, add_dependencies, release
from aqueue.dsn import DSN
from aqueue.errors import AqueueError, DatabaseUnavailable, SchemaError
from aqueue.limits import LimitedClaim, LimitedResult, TaskLimit, claim_limited
from aqueue.records import (
    FINAL_STATUSES,
    ClaimedJob,
    ImportedJob,
    JobFilter,
    JobInfo,
    LeaseState,
    NewJob,
    Outcome,
    WorkerInfo,
    WorkerRegistration,
)

T = TypeVar("T")
log = logging.getLogger("aqueue.sqlite")
# Hints sent for one insert at most (a batch has few kinds of job).
_MAX_HINTS = 20
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
# SQLite's planner would walk the whole primary key for a page of the few
# running jobs (to read them in id order): name the index that holds them.
_SOURCES = {"running": "aqueue_jobs INDEXED BY aqueue_jobs_running"}
_Q = Queries(load_queries(__package__ or "aqueue.backends.sqlite"), NOW=_NOW,
             JOB_COLUMNS=JOB_COLUMNS)
# insert_job in the %(name)s style of Django's cursor (which turns it back into :name).
_DBAPI_INSERT_JOB = re.sub(r"(?<!:):(\w+)", r"%(\1)s", _Q["insert_job"])


def dbapi_insert_job(j: NewJob) -> tuple[str, dict[str, Any]]:
    """The statement and parameters inserting ``j`` through Django's SQLite
    cursor (``%(name)s`` style): how a job joins a transaction of Django's
    connection."""
    if j.unique_key is not None:
        raise ValueError("jobs with unique keys are written by aqueue's own connections")
    return _DBAPI_INSERT_JOB, {
        "id": j.id, "task": j.task, "queue": j.queue, "priority": j.priority, "args": j.args,
        "kwargs": j.kwargs, "max_attempts": j.max_attempts, "timeout": j.timeout,
        "unique_key": j.unique_key, "delay": j.delay,
        "run_at": j.run_at.timestamp() if j.run_at else None, "meta": j.meta,
        "limit_key": j.limit_key}


def new_job_hints(jobs: Sequence[NewJob]) -> list[tuple[str, float]]:
    """One wake-up hint per queue and due time, as PostgreSQL's trigger sends:
    a worker wakes for the due jobs and sets a timer for the later ones."""
    now = time.time()
    due = {(kind.queue, round(max(0.0, kind.run_at.timestamp() - now if kind.run_at
                                  else kind.delay), 3))
           for kind in {j.kind for j in jobs}}
    return sorted(due)[:_MAX_HINTS]


_SENDERS: dict[str, WakeSender] = {}


def dbapi_wake(database: str, jobs: Sequence[NewJob]) -> None:
    """After a commit on another connection (Django's) wrote ``jobs`` to the
    file ``database``: wake the workers on this host, as aqueue's own insert does."""
    sender = _SENDERS.get(database)
    if sender is None:
        sender = _SENDERS[database] = WakeSender(channel_directory(database))
    sender.new(new_job_hints(jobs))


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def _translate(exc: BaseException, path: str) -> AqueueError | None:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "no such table" in text:
        return SchemaError(f"aqueue's tables are missing in {path}: run `aqueue migrate` ({text})")
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
        return DatabaseUnavailable(f"cannot open SQLite database {path}: {text}")
    if isinstance(exc, ValueError) and "no active connection" in text:
        return DatabaseUnavailable(f"the SQLite connection to {path} is closed")
    return None


class _SQLiteKeys:
    """A limited claim's statements in one write transaction (see :mod:`aqueue.limits`).

    SQLite's single writer already serialises claims: no key row is locked.
    """

    def __init__(self, conn: aiosqlite.Connection, worker: str, lease: float,
                 queues: Sequence[str] | None) -> None:
        self._conn, self._worker, self._lease = conn, worker, lease
        self._queues = json.dumps(list(queues)) if queues else None

    async def next_key(self, after: tuple[str, str] | None) -> tuple[str, str] | None:
        if after is None:
            rows = list(await self._conn.execute_fetchall(
                _Q["limited_first_key"], {"queues": self._queues}))
        else:
            rows = list(await self._conn.execute_fetchall(
                _Q["limited_next_key"], {"task": after[0], "key": after[1],
                                         "queues": self._queues}))
        return (rows[0][0], rows[0][1]) if rows else None

    async def lock(self, task: str, key: str) -> bool:
        return True

    async def counts(self, limit: TaskLimit, key: str) -> tuple[int, int]:
        params = {"task": limit.task, "key": key, "period": limit.period}
        if limit.period is not None:
            await self._conn.execute(_Q["limited_prune"], params)
        rows = list(await self._conn.execute_fetchall(_Q["limited_counts"], params))
        return int(rows[0][0]), int(rows[0][1])

    async def claim(self, task: str, key: str, n: int) -> list[Sequence[object]]:
        return list(await self._conn.execute_fetchall(_Q["limited_claim"], {
            "task": task, "key": key, "limit": n, "worker": self._worker,
            "lease": self._lease, "queues": self._queues}))

    async def record_starts(self, task: str, key: str, n: int) -> None:
        await self._conn.executemany(_Q["limited_record_start"],
                                     [{"task": task, "key": key}] * n)


class _SQLiteDeps:
    """Dependency statements in the caller's transaction (see :mod:`aqueue.dependencies`).

    SQLite's one writer is the lock: a parent cannot end while these run.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def lock_parents(self, ids: Sequence[str]) -> dict[str, str]:
        rows = await self._conn.execute_fetchall(_Q["parent_statuses"],
                                                 {"ids": json.dumps(list(ids))})
        return {r[0]: r[1] for r in rows}

    async def insert_edges(self, edges: Sequence[Edge]) -> None:
        await self._conn.executemany(_Q["insert_edge"], [
            {"child": e.child, "parent": e.parent, "run": int(e.run_on_failure)} for e in edges])

    async def set_waiting(self, counts: dict[str, int]) -> None:
        await self._conn.executemany(_Q["set_waiting"],
                                     [{"id": c, "n": n} for c, n in counts.items()])

    async def release(self, parents: Sequence[str]) -> None:
        await release(self, parents)

    async def ended_edges(self, parents: Sequence[str] | None) -> list[EndedEdge]:
        rows = await self._conn.execute_fetchall(
            _Q["ended_edges"], {"ids": None if parents is None else json.dumps(list(parents))})
        return [EndedEdge(r[0], r[1], r[2], bool(r[3])) for r in rows]

    async def mark_released(self, edges: Sequence[EndedEdge]) -> None:
        await self._conn.executemany(_Q["mark_released"],
                                     [{"child": e.child, "parent": e.parent} for e in edges])

    async def count_down(self, child: str, n: int) -> None:
        await self._conn.execute(_Q["count_down"], {"id": child, "n": n})

    async def cancel_child(self, child: str, message: str) -> bool:
        error = json.dumps({"type": "ParentFailed", "message": message, "traceback": None})
        async with self._conn.execute(_Q["cancel_child"], {"id": child, "error": error}) as cur:
            return cur.rowcount > 0


class SQLiteBackend(NoHandover):
    """Embedded default. Calls share one connection, serialised by a lock so that
    a transaction never interleaves with another coroutine's statements."""

    dialect = "sqlite"
    # Only without a wake-up socket: a read of a local file, cheap at 20/s.
    idle_probe_interval = 0.05
    single_host = True
    migrates_on_open = True

    def __init__(self, dsn: DSN) -> None:
        self.path = dsn.database
        # FULL: a job is on disk once enqueue returns, as promised. NORMAL (in
        # WAL mode) may lose the last commits on power loss, not on a crash of
        # the process; ?synchronous=normal trades that for speed.
        self._synchronous = dsn.options.get("synchronous", "full").upper()
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        # Wake-ups through sockets beside the file (aqueue.backends.wakeup),
        # each sent after the commit of its change, never before; ?wakeup=off
        # (or no directory to be had) sends none and leaves workers to probe.
        wanted = dsn.options.get("wakeup", "on") == "on"
        directory = channel_directory(self.path) if wanted else None
        self._wake = WakeSender(directory)
        #: True for a database file: its processes wake each other on this host.
        self.supports_notify = directory is not None

    async def open(self) -> None:
        if self._conn is not None:
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        pending = aiosqlite.connect(self.path, isolation_level=None, timeout=10.0)
        # aiosqlite's thread is not a daemon: a queue the program forgot to close
        # would hang the interpreter at exit. Every write is committed, so
        # letting the thread die with the process loses nothing.
        thread = getattr(pending, "_thread", None)
        if thread is not None and not thread.is_alive():
            thread.daemon = True
        try:
            conn = await pending
        except sqlite3.Error as exc:
            raise (_translate(exc, self.path) or exc) from None
        # The claim's UPDATE ... RETURNING and partial indexes need 3.35.
        if sqlite3.sqlite_version_info < (3, 35):
            await conn.close()
            raise DatabaseUnavailable(
                f"SQLite {sqlite3.sqlite_version} is too old: aqueue needs 3.35 or newer"
            )
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute(f"PRAGMA synchronous={self._synchronous}")  # one of three words
        await conn.execute("PRAGMA busy_timeout=10000")
        # A 1 MB page cache instead of 2: the file's pages stay in the OS's
        # cache anyway, and a draining worker stayed under 30 MB (measured: no
        # slower drain, no costlier claim on a 1.1M-row file).
        await conn.execute("PRAGMA cache_size=-1024")
        self._conn = conn

    async def close(self, timeout: float = 3.0) -> None:
        conn, self._conn = self._conn, None
        self._wake.close()
        if conn is not None:
            await conn.close()

    # -- plumbing -----------------------------------------------------------

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseUnavailable("the queue is not open: use `async with queue:`")
        return self._conn

    async def _run(self, what: str, operation: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        async def once() -> T:
            async with self._lock:
                return await operation(self._connection())

        return await at_edge(once, what=what, is_transient=_is_transient,
                             translate=lambda exc: _translate(exc, self.path), borrowed=False)

    @asynccontextmanager
    async def _transaction(self, conn: aiosqlite.Connection) -> AsyncIterator[None]:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")

    # Every call to aiosqlite is a hop to its thread and back (~0.1 ms here):
    # one call per statement, not execute + fetch + close.

    async def _fetchall(self, sql: str, params: dict[str, Any]) -> list[Any]:
        async def op(conn: aiosqlite.Connection) -> list[Any]:
            return list(await conn.execute_fetchall(sql, params))

        return await self._run("query", op)

    async def _rowcount(self, sql: str, params: dict[str, Any]) -> int:
        async def op(conn: aiosqlite.Connection) -> int:
            # The statement has run to its end: the cursor holds no lock.
            return (await conn.execute(sql, params)).rowcount

        return await self._run("update", op)

    # -- schema -------------------------------------------------------------

    async def schema_version(self) -> int | None:
        rows = await self._fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'aqueue_migrations'",
            {},
        )
        if not rows:
            return None
        found = await self._fetchall("SELECT max(version) FROM aqueue_migrations", {})
        return int(found[0][0]) if found and found[0][0] is not None else None

    async def migrate(self) -> list[int]:
        async def op(conn: aiosqlite.Connection) -> list[int]:
            applied: list[int] = []
            async with self._transaction(conn):
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS aqueue_migrations (version INTEGER PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at REAL NOT NULL)"
                )
                async with conn.execute("SELECT version FROM aqueue_migrations") as cur:
                    done = {int(row[0]) for row in await cur.fetchall()}
                for migration in load_migrations(__package__ or "aqueue.backends.sqlite"):
                    if migration.version in done:
                        continue
                    for statement in migration.statements:
                        await conn.execute(statement)
                    await conn.execute(
                        f"INSERT INTO aqueue_migrations VALUES (?, ?, {_NOW})",  # noqa: S608 - a constant
                        (migration.version, migration.name),
                    )
                    applied.append(migration.version)
            return applied

        return await self._run("migrate", op)

    # -- producing ------------------------------------------------------------

    async def insert_jobs(self, jobs: Sequence[NewJob], connection: Any = None) -> list[str]:
        rows = [
            {
                "id": j.id, "task": j.task, "queue": j.queue, "priority": j.priority,
                "args": j.args, "kwargs": j.kwargs, "max_attempts": j.max_attempts,
                "timeout": j.timeout, "unique_key": j.unique_key, "delay": j.delay,
                "run_at": j.run_at.timestamp() if j.run_at else None, "meta": j.meta,
                "limit_key": j.limit_key,
            }
            for j in jobs
        ]
        keys = [j.unique_key for j in jobs if j.unique_key is not None]
        keyed_ids = [j.id for j in jobs if j.unique_key is not None]

        async def write(conn: aiosqlite.Connection) -> list[Any]:
            if len(rows) == 1:
                await conn.execute(_Q["insert_job"], rows[0])
            else:
                await conn.executemany(_Q["insert_job"], rows)
            if not keys:
                return []
            # In the insert's transaction: no job can finish in between.
            params = {"keys": json.dumps(keys), "ids": json.dumps(keyed_ids)}
            return list(await conn.execute_fetchall(_Q["key_holders"], params))

        if connection is not None:
            # The caller's own connection and transaction: no lock, no commit.
            found = await write(connection)
        else:

            async def op(conn: aiosqlite.Connection) -> list[Any]:
                if len(rows) == 1 and not keys:
                    return await write(conn)
                async with self._transaction(conn):
                    return await write(conn)

            found = await self._run("insert", op)
            self._wake.new(new_job_hints(jobs))
        present = {row[1] for row in found}
        active: dict[str, str] = {}
        for key, job_id in found:
            if key is not None:
                active.setdefault(key, job_id)
        return [j.id if j.id in present or not j.unique_key else active.get(j.unique_key, j.id)
                for j in jobs]

    # -- working --------------------------------------------------------------

    async def insert_job_batches(self, batches: Iterator[list[NewJob]]) -> list[str]:
        # Encode everything first, then the one all-or-nothing insert: there is
        # no second connection's work to overlap the encoding with here.
        return await self.insert_jobs([job for batch in batches for job in batch])

    async def claim_jobs(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        params: dict[str, Any] = {"worker": worker, "lease": lease, "limit": limit,
                                  "queues": json.dumps(list(queues)) if queues else None}
        return claimed_jobs(await self._fetchall(_Q["claim_jobs"], params))

    async def insert_dependent_jobs(
        self, jobs: Sequence[NewJob], edges: Sequence[Edge], connection: Any = None
    ) -> list[str]:
        async def write(conn: aiosqlite.Connection) -> list[str]:
            ids = await self.insert_jobs(jobs, connection=conn)
            kept = {j.id for j, i in zip(jobs, ids, strict=True) if i == j.id}
            await add_dependencies(_SQLiteDeps(conn), [e for e in edges if e.child in kept])
            return ids

        if connection is not None:
            return await write(connection)

        async def op(conn: aiosqlite.Connection) -> list[str]:
            async with self._transaction(conn):
                return await write(conn)

        ids = await self._run("insert", op)
        self._wake.new(new_job_hints(jobs))
        return ids

    async def release_ended(self, parents: Sequence[str] | None = None) -> None:
        async def op(conn: aiosqlite.Connection) -> bool:
            deps = _SQLiteDeps(conn)
            async with self._transaction(conn):
                if parents is None:
                    found = await deps.ended_edges(None)
                    return await release(deps, sorted({e.parent for e in found}))
                return bool(parents) and await release(deps, parents)

        if await self._run("update", op):
            self._wake.anything_new()

    async def job_parents(self, job_id: str) -> list[tuple[str, bool]]:
        rows = await self._fetchall(_Q["job_parents"], {"id": job_id})
        return [(r[0], bool(r[1])) for r in rows]

    async def claim_limited(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float,
        request: LimitedClaim,
    ) -> LimitedResult:
        async def op(conn: aiosqlite.Connection) -> LimitedResult:
            keys = _SQLiteKeys(conn, worker, lease, queues)
            # Most claims find no limited job due: one read, no write lock.
            if await keys.next_key(None) is None:
                return LimitedResult([], request.after)
            async with self._transaction(conn):
                return await claim_limited(keys, request, limit)

        return await self._run("claim", op)

    async def complete_jobs(self, worker: str, outcomes: Sequence[Outcome]) -> list[str]:
        released = False

        async def op(conn: aiosqlite.Connection) -> list[str]:
            nonlocal released
            fenced: list[str] = []
            async with self._transaction(conn):
                for o in outcomes:
                    params = {
                        "id": o.id, "attempts": o.attempts, "status": str(o.status),
                        "result": o.result, "error": o.error, "retry_delay": o.retry_delay,
                        "worker": worker,
                    }
                    async with conn.execute(_Q["complete_job"], params) as cur:
                        if cur.rowcount == 0:
                            fenced.append(o.id)
                # Children of the jobs that ended, in this transaction.
                if outcomes:
                    released = await release(_SQLiteDeps(conn), [o.id for o in outcomes])
            return fenced

        fenced = await self._run("complete", op)
        if outcomes:
            # Retries due later wake their own worker (its timer), not everyone.
            gone = set(fenced)
            self._wake.done([o.id for o in outcomes
                             if o.id not in gone and o.status in FINAL_STATUSES])
            if released:
                self._wake.anything_new()
        return fenced

    async def renew_leases(
        self, worker: str, job_ids: Sequence[str], lease: float
    ) -> list[LeaseState]:
        params = {"worker": worker, "lease": lease, "ids": json.dumps(list(job_ids))}
        rows = await self._fetchall(_Q["renew_leases"], params)
        return [LeaseState(r[0], int(r[1]), bool(r[2])) for r in rows]

    async def cancel_requests(self, worker: str, job_ids: Sequence[str]) -> list[str]:
        rows = await self._fetchall(_Q["cancel_requests"],
                                    {"ids": json.dumps(list(job_ids)), "worker": worker})
        return [r[0] for r in rows]

    async def rescue_expired_leases(self, gone: Sequence[str] = ()) -> int:
        count = await self._rowcount(_Q["rescue_expired_leases"], {
            "message": LEASE_EXPIRED_MESSAGE, "gone_message": WORKER_GONE_MESSAGE,
            "gone": json.dumps(list(gone))})
        if count:
            self._wake.anything()
        return count

    async def hand_back(self, worker: str, jobs: Sequence[tuple[str, int]]) -> int:
        async def op(conn: aiosqlite.Connection) -> int:
            count = 0
            async with self._transaction(conn):
                for job_id, attempts in jobs:
                    params = {"id": job_id, "attempts": attempts, "worker": worker}
                    async with conn.execute(_Q["hand_back"], params) as cur:
                        count += cur.rowcount
            return count

        count = await self._run("hand back", op)
        if count:
            self._wake.anything()
        return count

    async def set_progress(self, job_id: str, attempts: int, worker: str, progress: str) -> bool:
        params = {"id": job_id, "attempts": attempts, "progress": progress, "worker": worker}
        return await self._rowcount(_Q["set_progress"], params) == 1

    # -- inspecting and administering ------------------------------------------

    async def get_job(self, job_id: str) -> JobInfo | None:
        rows = await self._fetchall(_Q["get_job"], {"id": job_id})
        return row_to_info(rows[0]) if rows else None

    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobInfo]:
        rows = await self._fetchall(_Q["get_jobs"], {"ids": json.dumps(list(job_ids))})
        return [row_to_info(r) for r in rows]

    async def list_jobs(self, job_filter: JobFilter) -> list[JobInfo]:
        params: dict[str, Any] = {}

        def bind(value: Any) -> str:
            name = f"p{len(params)}"
            params[name] = value
            return f":{name}"

        sql, ascending = list_jobs_sql(job_filter, bind, columns=JOB_COLUMNS, sources=_SOURCES)
        rows = [row_to_info(r) for r in await self._fetchall(sql, params)]
        return rows[::-1] if ascending else rows

    async def delete_job(self, job_id: str) -> str | None:
        async def op(conn: aiosqlite.Connection) -> str | None:
            async with self._transaction(conn):
                async with conn.execute(_Q["delete_job"], {"id": job_id}) as cur:
                    row = await cur.fetchone()
                if row is None:
                    async with conn.execute(_Q["job_status"], {"id": job_id}) as cur:
                        row = await cur.fetchone()
            return str(row[0]) if row else None

        return await self._run("delete", op)

    async def queue_counts(self) -> list[Sequence[Any]]:
        return await self._fetchall(_Q["queue_counts"], {})

    async def recent_finished(self, long: float, short: float) -> list[Sequence[Any]]:
        return await self._fetchall(_Q["recent_finished"], {"long": long, "short": short})

    async def cancel_job(self, job_id: str) -> str | None:
        async def op(conn: aiosqlite.Connection) -> str | None:
            async with self._transaction(conn):
                await conn.execute(_Q["cancel_job"], {"id": job_id})
                async with conn.execute(_Q["job_status"], {"id": job_id}) as cur:
                    row = await cur.fetchone()
            return str(row[0]) if row else None

        status = await self._run("cancel", op)
        if status == "cancelled":
            self._wake.done([job_id])
        elif status == "running":
            self._wake.cancel(job_id)
        return status

    async def retry_job(self, job_id: str) -> bool:
        retried = await self._rowcount(_Q["retry_job"], {"id": job_id}) == 1
        if retried:
            self._wake.anything_new()
        return retried

    async def stats(self) -> dict[str, dict[str, int]]:
        return group_stats(await self._fetchall(_Q["stats"], {}))

    async def import_jobs(self, jobs: Sequence[ImportedJob]) -> int:
        if not jobs:
            return 0
        rows = [{name: (v.timestamp() if isinstance(v, datetime) else v)
                 for name in IMPORTED_COLUMNS for v in (getattr(j, name),)} for j in jobs]

        async def op(conn: aiosqlite.Connection) -> int:
            async with self._transaction(conn):
                before = conn.total_changes
                await conn.executemany(_Q["import_jobs"], rows)
                return conn.total_changes - before

        return await self._run("import", op)

    async def count_expired_leases(self, grace: float) -> int:
        return int((await self._fetchall(_Q["expired_leases"], {"grace": grace}))[0][0])

    async def shift_schedules(self, seconds: float) -> int:
        return await self._rowcount(_Q["shift_schedules"], {"seconds": seconds})

    async def has_due(self, queues: Sequence[str] | None) -> bool:
        params = {"queues": json.dumps(list(queues)) if queues else None}
        return bool((await self._fetchall(_Q["has_due"], params))[0][0])

    async def next_due_in(self) -> float | None:
        value = (await self._fetchall(_Q["next_due_in"], {}))[0][0]
        return None if value is None else float(value)

    async def count_pending(self, queues: Sequence[str] | None) -> int:
        if queues:
            rows = await self._fetchall(
                _Q["count_pending_in_queues"], {"queues": json.dumps(list(queues))}
            )
        else:
            rows = await self._fetchall(_Q["count_pending"], {})
        return int(rows[0][0])

    async def purge(
        self, older_than: float, statuses: Sequence[str], dry_run: bool, batch_size: int
    ) -> int:
        params: dict[str, Any] = {
            "age": older_than, "statuses": json.dumps(list(statuses)), "batch": batch_size,
        }
        if dry_run:
            return int((await self._fetchall(_Q["count_purgeable"], params))[0][0])
        return await delete_in_batches(
            lambda: self._rowcount(_Q["purge_batch"], params), batch_size
        )

    async def start_session(self, key: str, ttl: float) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            async with self._transaction(conn):
                await conn.execute(_Q["prune_sessions"], {})
                await conn.execute(_Q["start_session"], {"key": key, "ttl": ttl})

        await self._run("session", op)

    async def session_alive(self, key: str) -> bool:
        return bool(await self._fetchall(_Q["session_alive"], {"key": key}))

    async def end_session(self, key: str) -> None:
        await self._rowcount(_Q["end_session"], {"key": key})

    async def set_paused(self, queue: str, paused: bool) -> None:
        await self._rowcount(_Q["set_paused"], {"name": queue, "paused": int(paused)})
        if not paused:
            self._wake.new([(queue, 0.0)])

    async def queue_states(self) -> dict[str, bool]:
        return {r[0]: bool(r[1]) for r in await self._fetchall(_Q["queue_states"], {})}

    # -- the workers registry ---------------------------------------------------

    async def register_worker(self, worker: WorkerRegistration, ttl: float) -> None:
        await self._rowcount(_Q["register_worker"], {
            "name": worker.name, "host": worker.host, "pid": worker.pid,
            "queues": None if worker.queues is None else json.dumps(worker.queues),
            "concurrency": worker.concurrency, "version": worker.version, "ttl": ttl,
            "node": worker.node})

    async def heartbeat_worker(self, name: str, ttl: float) -> bool:
        return await self._rowcount(_Q["heartbeat_worker"], {"name": name, "ttl": ttl}) == 1

    async def deregister_worker(self, name: str) -> None:
        await self._rowcount(_Q["deregister_worker"], {"name": name})

    async def sweep_workers(self, retention: float) -> tuple[int, int]:
        return (await self._rowcount(_Q["mark_dead_workers"], {}),
                await self._rowcount(_Q["prune_workers"], {"age": retention}))

    async def list_workers(self, retention: float) -> list[WorkerInfo]:
        return rows_to_workers(await self._fetchall(_Q["list_workers"], {"age": retention}),
                               await self._fetchall(_Q["running_jobs_by_worker"], {}))

    async def advance_tick(self, schedule: str, expected: datetime | None, tick: datetime,
                           jobs: Sequence[tuple[NewJob, str]]) -> list[str] | None:
        async def op(conn: aiosqlite.Connection) -> list[str] | None:
            async with self._transaction(conn):
                params = {"name": schedule, "tick": tick.timestamp(),
                          "expected": None if expected is None else expected.timestamp()}
                won = await conn.execute_fetchall(
                    _Q["start_schedule" if expected is None else "advance_tick"], params)
                if not won:
                    return None
                if not jobs:
                    return []
                ids = await self.insert_jobs([j for j, _ in jobs], connection=conn)
                await conn.executemany(_Q["set_meta"], [
                    {"id": i, "meta": meta} for i, (_, meta) in zip(ids, jobs, strict=True)])
                return ids

        return await self._run("periodic", op)

    async def purge_task(self, task: str, older_than: float, batch_size: int) -> int:
        params = {"task": task, "age": older_than, "batch": batch_size}
        return await delete_in_batches(
            lambda: self._rowcount(_Q["purge_task_batch"], params), batch_size)

    async def last_ticks(self) -> dict[str, datetime]:
        rows = await self._fetchall(_Q["last_ticks"], {})
        return {r[0]: datetime.fromtimestamp(float(r[1]), UTC) for r in rows}

    async def workers_on_node(self, node: str) -> list[tuple[str, int]]:
        rows = await self._fetchall(_Q["workers_on_node"], {"node": node})
        return [(r[0], int(r[1])) for r in rows]

    async def listen(
        self, on_new: NewJobHandler, on_done: DoneHandler, on_cancel: CancelHandler | None = None,
        on_handover: HandoverHandler | None = None,
    ) -> Listener | None:
        if self._wake.directory is None:
            return None
        try:
            return WakeListener(self._wake.directory, on_new, on_done, on_cancel)
        except OSError as exc:
            log.warning("no wake-up socket in %s (%s): relying on polling",
                        self._wake.directory, exc)
            return None
