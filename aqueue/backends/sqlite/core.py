"""SQLite (aiosqlite): the connection, the schema, and the core every backend
has (insert, claim, complete, renew, rescue, read).

One connection, WAL, one writer at a time (``BEGIN IMMEDIATE`` for every
write transaction); calls share the connection, serialised by a lock so that
a transaction never interleaves with another coroutine's statements. After
each commit that makes a job due or ends one, the processes on this host are
told through the wake-up sockets beside the file (:mod:`aqueue.backends.wakeup`).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from aqueue.backends.base import CallerConnection
from aqueue.backends.common import (
    JOB_COLUMNS,
    LEASE_EXPIRED_MESSAGE,
    WORKER_GONE_MESSAGE,
    at_edge,
    claimed_jobs,
    insert_through,
    row_to_info,
)
from aqueue.backends.ports import ReleaseAlgorithm
from aqueue.backends.sqlfile import Queries, latest_version, load_migrations, load_queries
from aqueue.backends.wakeup import WakeSender, channel_directory
from aqueue.dsn import DSN
from aqueue.errors import AqueueError, DatabaseUnavailable, SchemaError
from aqueue.loop_lock import LoopLock
from aqueue.records import (
    FINAL_STATUSES,
    AttemptOutput,
    ClaimedJob,
    EndedEdge,
    JobInfo,
    LeaseState,
    NewJob,
    Outcome,
)

T = TypeVar("T")
log = logging.getLogger("aqueue.sqlite")
# Hints sent for one insert at most (a batch has few kinds of job).
_MAX_HINTS = 20
#: The database clock as SQL: epoch seconds (unixepoch('subsec') needs SQLite 3.42).
NOW = "((julianday('now') - 2440587.5) * 86400.0)"
# SQLite's planner would walk the whole primary key for a page of the few
# running jobs (to read them in id order): name the index that holds them.
_SOURCES = {
    "running": "aqueue_jobs INDEXED BY aqueue_jobs_running",
    "queued_limited": "aqueue_jobs INDEXED BY aqueue_jobs_limited",
}
#: The named statements of queries.sql, placeholders filled.
SQL = Queries(
    load_queries(__package__ or "aqueue.backends.sqlite"), NOW=NOW, JOB_COLUMNS=JOB_COLUMNS
)
# insert_job in the %(name)s style of Django's cursor (which turns it back into :name).
_DBAPI_INSERT_JOB = re.sub(r"(?<!:):(\w+)", r"%(\1)s", SQL["insert_job"])


def output_params(o: AttemptOutput) -> dict[str, Any]:
    return {"job_id": o.job_id, "id": o.id, "attempt": o.attempt, "output": o.text, "cut": o.cut}


def new_job_hints(jobs: Sequence[NewJob]) -> list[tuple[str, float]]:
    """One wake-up hint per queue and due time, as PostgreSQL's trigger sends:
    a worker wakes for the due jobs and sets a timer for the later ones."""
    now = time.time()
    due = {
        (
            kind.queue,
            round(max(0.0, kind.run_at.timestamp() - now if kind.run_at else kind.delay), 3),
        )
        for kind in {j.kind for j in jobs}
    }
    return sorted(due)[:_MAX_HINTS]


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


class SQLiteReleaseSteps:
    """Releasing children in the caller's transaction (see :mod:`aqueue.dependencies`):
    the statements :data:`~aqueue.backends.ports.ReleaseAlgorithm` runs over.
    SQLite's one writer is the lock: a parent cannot end while these run."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def ended_edges(self, parents: Sequence[str] | None) -> list[EndedEdge]:
        rows = await self._conn.execute_fetchall(
            SQL["ended_edges"], {"ids": None if parents is None else json.dumps(list(parents))}
        )
        return [EndedEdge(r[0], r[1], r[2], bool(r[3])) for r in rows]

    async def mark_released(self, edges: Sequence[EndedEdge]) -> None:
        await self._conn.executemany(
            SQL["mark_released"], [{"child": e.child, "parent": e.parent} for e in edges]
        )

    async def count_down(self, child: str, n: int) -> None:
        await self._conn.execute(SQL["count_down"], {"id": child, "n": n})

    async def cancel_child(self, child: str, message: str) -> bool:
        error = json.dumps({"type": "ParentFailed", "message": message, "traceback": None})
        async with self._conn.execute(SQL["cancel_child"], {"id": child, "error": error}) as cur:
            return cur.rowcount > 0


class SQLiteCore:
    """Embedded default. Calls share one connection, serialised by a lock so that
    a transaction never interleaves with another coroutine's statements."""

    dialect = "sqlite"
    # Only without a wake-up socket: a read of a local file, cheap at 20/s.
    idle_probe_interval = 0.05
    migrates_on_open = True

    def __init__(self, dsn: DSN, *, release: ReleaseAlgorithm) -> None:
        self.path = dsn.database
        #: aqueue.dependencies' release, run in the transaction that records
        #: jobs' ends (SQLite has no function for it).
        self._release = release
        # FULL: a job is on disk once enqueue returns, as promised. NORMAL (in
        # WAL mode) may lose the last commits on power loss, not on a crash of
        # the process; ?synchronous=normal trades that for speed.
        self._synchronous = dsn.options.get("synchronous", "full").upper()
        self._conn: aiosqlite.Connection | None = None
        self._lock = LoopLock()  # one connection: one statement at a time
        # Wake-ups through sockets beside the file (aqueue.backends.wakeup),
        # each sent after the commit of its change, never before; ?wakeup=off
        # (or no directory to be had) sends none and leaves workers to probe.
        wanted = dsn.options.get("wakeup", "on") == "on"
        directory = channel_directory(self.path) if wanted else None
        self._wake = WakeSender(directory)

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

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseUnavailable("the queue is not open: use `async with queue:`")
        return self._conn

    async def _run(self, what: str, operation: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        async def once() -> T:
            async with self._lock():
                return await operation(self._connection())

        return await at_edge(
            once,
            what=what,
            is_transient=_is_transient,
            translate=lambda exc: _translate(exc, self.path),
            borrowed=False,
        )

    @asynccontextmanager
    async def _transaction(self, conn: aiosqlite.Connection) -> AsyncIterator[None]:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")

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
                        f"INSERT INTO aqueue_migrations VALUES (?, ?, {NOW})",  # noqa: S608 - a constant
                        (migration.version, migration.name),
                    )
                    applied.append(migration.version)
            return applied

        return await self._run("migrate", op)

    def latest_version(self) -> int:
        return latest_version(__package__ or "aqueue.backends.sqlite")

    # -- producing ------------------------------------------------------------

    async def insert_jobs(self, jobs: Sequence[NewJob], connection: Any = None) -> list[str]:
        rows = [
            {
                "id": j.id,
                "task": j.task,
                "queue": j.queue,
                "priority": j.priority,
                "args": j.args,
                "kwargs": j.kwargs,
                "max_attempts": j.max_attempts,
                "timeout": j.timeout,
                "unique_key": j.unique_key,
                "delay": j.delay,
                "run_at": j.run_at.timestamp() if j.run_at else None,
                "meta": j.meta,
                "limit_key": j.limit_key,
            }
            for j in jobs
        ]
        if isinstance(connection, CallerConnection):  # Django's sqlite3 connection
            ids = await insert_through(connection, _DBAPI_INSERT_JOB, rows, jobs)
            # This host's workers hear of them once the caller's transaction commits.
            hints = new_job_hints(jobs)
            connection.on_commit(lambda: self._wake.new(hints))
            return ids
        keys = [j.unique_key for j in jobs if j.unique_key is not None]
        keyed_ids = [j.id for j in jobs if j.unique_key is not None]

        async def write(conn: aiosqlite.Connection) -> list[Any]:
            if len(rows) == 1:
                await conn.execute(SQL["insert_job"], rows[0])
            else:
                await conn.executemany(SQL["insert_job"], rows)
            if not keys:
                return []
            # In the insert's transaction: no job can finish in between.
            params = {"keys": json.dumps(keys), "ids": json.dumps(keyed_ids)}
            return list(await conn.execute_fetchall(SQL["key_holders"], params))

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
        return [
            j.id if j.id in present or not j.unique_key else active.get(j.unique_key, j.id)
            for j in jobs
        ]

    async def insert_job_batches(self, batches: Iterator[list[NewJob]]) -> list[str]:
        # Encode everything first, then the one all-or-nothing insert: there is
        # no second connection's work to overlap the encoding with here.
        return await self.insert_jobs([job for batch in batches for job in batch])

    # -- working --------------------------------------------------------------

    async def claim_jobs(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        params: dict[str, Any] = {
            "worker": worker,
            "lease": lease,
            "limit": limit,
            "queues": json.dumps(list(queues)) if queues else None,
        }
        return claimed_jobs(await self._fetchall(SQL["claim_jobs"], params))

    async def complete_jobs(self, worker: str, outcomes: Sequence[Outcome]) -> list[str]:
        released = False

        async def op(conn: aiosqlite.Connection) -> list[str]:
            nonlocal released
            fenced: list[str] = []
            async with self._transaction(conn):
                for o in outcomes:
                    params = {
                        "id": o.id,
                        "attempts": o.attempts,
                        "status": str(o.status),
                        "result": o.result,
                        "error": o.error,
                        "retry_delay": o.retry_delay,
                        "worker": worker,
                        "snoozed": o.snoozed,
                    }
                    async with conn.execute(SQL["complete_job"], params) as cur:
                        if cur.rowcount == 0:
                            fenced.append(o.id)
                outputs = [o.output for o in outcomes if o.output is not None]
                if outputs:
                    await conn.executemany(SQL["save_output"], map(output_params, outputs))
                # Children of the jobs that ended, in this transaction.
                if outcomes:
                    released = await self._release(
                        SQLiteReleaseSteps(conn), [o.id for o in outcomes]
                    )
            return fenced

        fenced = await self._run("complete", op)
        if outcomes:
            # Retries due later wake their own worker (its timer), not everyone.
            gone = set(fenced)
            self._wake.done(
                [o.id for o in outcomes if o.id not in gone and o.status in FINAL_STATUSES]
            )
            if released:
                self._wake.anything_new()
        return fenced

    async def renew_leases(
        self, worker: str, job_ids: Sequence[str], lease: float
    ) -> list[LeaseState]:
        params = {"worker": worker, "lease": lease, "ids": json.dumps(list(job_ids))}
        rows = await self._fetchall(SQL["renew_leases"], params)
        return [LeaseState(r[0], int(r[1]), bool(r[2])) for r in rows]

    async def cancel_requests(self, worker: str, job_ids: Sequence[str]) -> list[str]:
        rows = await self._fetchall(
            SQL["cancel_requests"], {"ids": json.dumps(list(job_ids)), "worker": worker}
        )
        return [r[0] for r in rows]

    async def rescue_expired_leases(self, gone: Sequence[str] = ()) -> int:
        count = await self._rowcount(
            SQL["rescue_expired_leases"],
            {
                "message": LEASE_EXPIRED_MESSAGE,
                "gone_message": WORKER_GONE_MESSAGE,
                "gone": json.dumps(list(gone)),
            },
        )
        if count:
            self._wake.anything()
        return count

    async def hand_back(self, worker: str, jobs: Sequence[tuple[str, int]]) -> int:
        async def op(conn: aiosqlite.Connection) -> int:
            count = 0
            async with self._transaction(conn):
                for job_id, attempts in jobs:
                    params = {"id": job_id, "attempts": attempts, "worker": worker}
                    async with conn.execute(SQL["hand_back"], params) as cur:
                        count += cur.rowcount
            return count

        count = await self._run("hand back", op)
        if count:
            self._wake.anything()
        return count

    async def set_progress(self, job_id: str, attempts: int, worker: str, progress: str) -> bool:
        params = {"id": job_id, "attempts": attempts, "progress": progress, "worker": worker}
        return await self._rowcount(SQL["set_progress"], params) == 1

    async def get_job(self, job_id: str) -> JobInfo | None:
        rows = await self._fetchall(SQL["get_job"], {"id": job_id})
        return row_to_info(rows[0]) if rows else None

    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobInfo]:
        rows = await self._fetchall(SQL["get_jobs"], {"ids": json.dumps(list(job_ids))})
        return [row_to_info(r) for r in rows]

    async def has_due(self, queues: Sequence[str] | None) -> bool:
        params = {"queues": json.dumps(list(queues)) if queues else None}
        return bool((await self._fetchall(SQL["has_due"], params))[0][0])
