"""MySQL 8 / MariaDB 10.6+ backend (aiomysql): SKIP LOCKED claims under READ COMMITTED."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiomysql
import pymysql

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
    insert_resolving_unique_keys,
    list_jobs_sql,
    row_to_info,
    rows_to_workers,
)
from aqueue.backends.sqlfile import Queries, load_migrations, load_queries
from aqueue.dependencies import Edge, EndedEdge, add_dependencies, release
from aqueue.dsn import DSN, command_timeout, mysql_options
from aqueue.errors import AqueueError, ConfigurationError, DatabaseUnavailable, SchemaError
from aqueue.limits import LimitedClaim, LimitedResult, TaskLimit, claim_limited
from aqueue.records import (
    ClaimedJob,
    ImportedJob,
    JobFilter,
    JobInfo,
    JobStatus,
    LeaseState,
    NewJob,
    Outcome,
    WorkerInfo,
    WorkerRegistration,
)

T = TypeVar("T")
_PACKAGE = __package__ or "aqueue.backends.mysql"
_JOB_COLUMNS = JOB_COLUMNS.replace("priority,", "-neg_priority AS priority,")
# With a queue or task filter, MariaDB's ORDER BY ... LIMIT heuristic may walk
# the whole primary key looking for matches; the (queue, id) and (task, id)
# indexes give the same order over the matches alone.
_SOURCES = {"finished_by_name": "aqueue_jobs IGNORE INDEX (PRIMARY)"}
_Q = Queries(load_queries(_PACKAGE), NOW="UTC_TIMESTAMP(6)", JOB_COLUMNS=_JOB_COLUMNS)


def dbapi_insert_job(j: NewJob) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters inserting ``j`` through a sync DB-API
    cursor (``%s`` style, mysqlclient under Django): how a job joins a
    transaction of Django's connection."""
    if j.unique_key is not None:
        raise ValueError("jobs with unique keys are written by aqueue's own connections")
    run_at = j.run_at.astimezone(UTC).replace(tzinfo=None) if j.run_at else None
    return _Q["insert_job"], (j.id, j.task, j.queue, -j.priority, j.args, j.kwargs,
                              j.max_attempts, j.timeout, j.unique_key, run_at, _micros(j.delay),
                              j.meta, j.limit_key)
_MIGRATION_LOCK = "aqueue_migrate"

# Connection-level failures: refused, gone away, lost, server shutdown, killed,
# too many connections, access denied, unknown database.
_UNAVAILABLE_CODES = {1040, 1044, 1045, 1049, 1053, 1927, 2002, 2003, 2005, 2006, 2013, 2055,
                      4031}
# Deadlock and lock wait timeout: retry, never surface as a lost job.
_TRANSIENT_CODES = {1205, 1213}


def _code(exc: BaseException) -> int | None:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def _is_transient(exc: BaseException) -> bool:
    return _code(exc) in _TRANSIENT_CODES


def _is_unavailable(exc: BaseException) -> bool:
    return (
        isinstance(exc, OSError | asyncio.TimeoutError | pymysql.err.InterfaceError)
        or _code(exc) in _UNAVAILABLE_CODES
        or (isinstance(exc, RuntimeError) and "closed" in str(exc).lower())
    )


def _marks(count: int) -> str:
    """``count`` placeholders for an IN list; ``NULL`` (matches nothing) for none."""
    return ", ".join(["%s"] * count) if count else "NULL"


def _micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


class _MySQLKeys:
    """A limited claim's statements on one cursor (see :mod:`aqueue.limits`)."""

    def __init__(self, cur: aiomysql.Cursor, worker: str, lease: float,
                 queues: Sequence[str] | None) -> None:
        self._cur, self._worker, self._lease = cur, worker, lease
        self._queues = list(queues) if queues else []
        self._in_queues = f"AND queue IN ({_marks(len(self._queues))})" if self._queues else ""

    async def _rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        await self._cur.execute(sql, args)
        return list(await self._cur.fetchall())

    async def next_key(self, after: tuple[str, str] | None) -> tuple[str, str] | None:
        if after is None:
            sql = _Q.render("limited_first_key", in_queues=self._in_queues)
            rows = await self._rows(sql, self._queues)
        else:
            sql = _Q.render("limited_next_key", in_queues=self._in_queues)
            rows = await self._rows(sql, [after[0], after[0], after[1], *self._queues])
        return (rows[0][0], rows[0][1]) if rows else None

    async def lock(self, task: str, key: str) -> bool:
        if await self._rows(_Q["limited_lock"], (task, key)):
            return True
        if await self._rows(_Q["limited_exists"], (task, key)):
            return False  # exists, so another worker holds it
        await self._cur.execute(_Q["limited_create"], (task, key))
        return True

    async def counts(self, limit: TaskLimit, key: str) -> tuple[int, int]:
        starts = 0
        if limit.period is not None:
            period_us = _micros(limit.period)
            await self._cur.execute(_Q["limited_prune"], (limit.task, key, period_us))
            starts = (await self._rows(_Q["limited_starts"], (limit.task, key, period_us)))[0][0]
        running = (await self._rows(_Q["limited_running"], (limit.task, key)))[0][0]
        return int(running), int(starts)

    async def claim(self, task: str, key: str, n: int) -> list[Sequence[object]]:
        sql = _Q.render("limited_select", in_queues=self._in_queues)
        rows = await self._rows(sql, [task, key, *self._queues, n])
        if rows:
            await self._cur.execute(_Q.render("mark_claimed", ids=_marks(len(rows))),
                                    [self._worker, _micros(self._lease), *(r[0] for r in rows)])
        return rows

    async def record_starts(self, task: str, key: str, n: int) -> None:
        await self._cur.executemany(_Q["limited_record_start"], [(task, key)] * n)


class _MySQLDeps:
    """Dependency statements on one cursor (see :mod:`aqueue.dependencies`)."""

    def __init__(self, cur: aiomysql.Cursor) -> None:
        self._cur = cur

    async def lock_parents(self, ids: Sequence[str]) -> dict[str, str]:
        await self._cur.execute(_Q.render("lock_parents", ids=_marks(len(ids))), list(ids))
        return {r[0]: r[1] for r in await self._cur.fetchall()}

    async def insert_edges(self, edges: Sequence[Edge]) -> None:
        await self._cur.executemany(_Q["insert_edge"],
                                    [(e.child, e.parent, int(e.run_on_failure)) for e in edges])

    async def set_waiting(self, counts: dict[str, int]) -> None:
        await self._cur.executemany(_Q["set_waiting"], [(n, c) for c, n in counts.items()])

    async def release(self, parents: Sequence[str]) -> None:
        await release(self, parents)

    async def ended_edges(self, parents: Sequence[str] | None) -> list[EndedEdge]:
        if parents is None:
            await self._cur.execute(_Q["all_ended_edges"])
        else:
            await self._cur.execute(_Q.render("ended_edges", ids=_marks(len(parents))),
                                    list(parents))
        return [EndedEdge(r[0], r[1], r[2], bool(r[3])) for r in await self._cur.fetchall()]

    async def mark_released(self, edges: Sequence[EndedEdge]) -> None:
        await self._cur.executemany(_Q["mark_released"], [(e.child, e.parent) for e in edges])

    async def count_down(self, child: str, n: int) -> None:
        await self._cur.execute(_Q["count_down"], (n, n, child))

    async def cancel_child(self, child: str, message: str) -> bool:
        error = json.dumps({"type": "ParentFailed", "message": message, "traceback": None})
        return bool(await self._cur.execute(_Q["cancel_child"], (error, child)))


class MySQLBackend(NoHandover):
    """Jobs in ``aqueue_jobs`` on InnoDB, claimed with FOR UPDATE SKIP LOCKED."""

    dialect = "mysql"
    supports_notify = False
    # Without LISTEN an idle worker probes ~13 times a second: a job waits
    # ~40 ms for it on average, and with the claim that still polls each
    # second the idle worker costs the server < 20 statements a second.
    idle_probe_interval = 0.075
    single_host = False
    migrates_on_open = False

    def __init__(self, dsn: DSN, *, pool_size: int = 10) -> None:
        self._dsn = dsn
        self._pool_size = max(1, pool_size)
        self._pool: aiomysql.Pool | None = None
        self._command_timeout = command_timeout(dsn)

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"MySQL at {self._dsn}: {type(exc).__name__}: {exc}")

    def _translate(self, exc: BaseException) -> AqueueError | None:
        if _code(exc) == 1146:
            return SchemaError(f"aqueue's tables are missing in {self._dsn}: run `aqueue migrate`")
        if _is_unavailable(exc):
            return self._unavailable(exc)
        return None

    async def open(self) -> None:
        if self._pool is not None:
            return
        options = mysql_options(self._dsn)
        try:
            pool = await aiomysql.create_pool(
                host=self._dsn.host or "localhost",
                port=self._dsn.port or 3306,
                user=self._dsn.user or "root",
                password=self._dsn.password or "",
                db=self._dsn.database,
                minsize=1,
                maxsize=self._pool_size,
                autocommit=True,
                charset="utf8mb4",
                pool_recycle=3600,
                # FOR UPDATE SKIP LOCKED followed by UPDATE deadlocks within
                # seconds under REPEATABLE READ (see docs/backends.md).
                init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                **{"connect_timeout": 10, **options},
            )
        except Exception as exc:
            raise (self._translate(exc) or exc) from None
        self._pool = pool
        if "ssl" in options:
            # aiomysql carries on in plain text when the server offers no TLS:
            # what was asked for must hold, so check it did.
            rows = await self._fetch("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            if not rows or not rows[0][1]:
                await self.close()
                raise ConfigurationError(
                    f"MySQL at {self._dsn}: TLS was required (ssl_mode/ssl) but the server "
                    "does not offer it; the connection would be plain text")

    async def close(self, timeout: float = 3.0) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
            try:
                await asyncio.wait_for(pool.wait_closed(), timeout)
            except Exception:
                pool.terminate()  # a partition must not hold up an exit

    async def _run(
        self,
        what: str,
        operation: Callable[[aiomysql.Cursor], Awaitable[T]],
        transaction: bool = False,
        connection: Any = None,
    ) -> T:
        async def on(conn: aiomysql.Connection) -> T:
            async with conn.cursor() as cur:
                if not transaction:
                    return await operation(cur)
                await conn.begin()
                try:
                    result = await operation(cur)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await conn.rollback()
                    raise
                await conn.commit()
                return result

        async def once() -> T:
            if connection is not None:
                async with connection.cursor() as cur:
                    return await operation(cur)
            if self._pool is None:
                raise DatabaseUnavailable("the queue is not open: use `async with queue:`")
            conn = await self._pool.acquire()
            try:
                # aiomysql has no statement timeout: a server that stopped
                # answering (a partition, a half-open connection) would hold
                # this call until TCP gives up, a quarter of an hour later.
                async with asyncio.timeout(self._command_timeout):
                    return await on(conn)
            except BaseException as exc:
                # A server error leaves the connection usable; a drop, a timeout
                # or a cancellation may leave it mid-protocol: never pool that.
                if not isinstance(exc, pymysql.err.MySQLError) or _is_unavailable(exc):
                    conn.close()
                raise
            finally:
                self._pool.release(conn)

        return await at_edge(once, what=what, is_transient=_is_transient,
                             translate=self._translate, borrowed=connection is not None)

    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        async def op(cur: aiomysql.Cursor) -> list[Any]:
            await cur.execute(sql, args)
            return list(await cur.fetchall())

        return await self._run("query", op)

    async def _rowcount(self, sql: str, args: Sequence[Any] = ()) -> int:
        async def op(cur: aiomysql.Cursor) -> int:
            return int(await cur.execute(sql, args))

        return await self._run("update", op)

    # -- schema -------------------------------------------------------------

    async def schema_version(self) -> int | None:
        rows = await self._fetch(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = 'aqueue_migrations'"
        )
        if not rows[0][0]:
            return None
        rows = await self._fetch("SELECT max(version) FROM aqueue_migrations")
        return None if rows[0][0] is None else int(rows[0][0])

    async def migrate(self) -> list[int]:
        # DDL commits implicitly in MySQL: each migration is recorded right
        # after its statements, under a named lock so two migrators never race.
        async def op(cur: aiomysql.Cursor) -> list[int]:
            await cur.execute("SELECT GET_LOCK(%s, 60)", (_MIGRATION_LOCK,))
            applied: list[int] = []
            try:
                # Looked up first: CREATE TABLE IF NOT EXISTS on an existing
                # table leaves a server warning aiomysql prints on every run.
                await cur.execute(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name = 'aqueue_migrations'")
                if not (await cur.fetchone())[0]:
                    await cur.execute(
                        "CREATE TABLE aqueue_migrations (version INT PRIMARY KEY, "
                        "name VARCHAR(255) NOT NULL, applied_at DATETIME(6) NOT NULL)")
                await cur.execute("SELECT version FROM aqueue_migrations")
                done = {int(r[0]) for r in await cur.fetchall()}
                for migration in load_migrations(_PACKAGE):
                    if migration.version in done:
                        continue
                    for statement in migration.statements:
                        await cur.execute(statement)
                    await cur.execute(
                        "INSERT INTO aqueue_migrations VALUES (%s, %s, UTC_TIMESTAMP(6))",
                        (migration.version, migration.name),
                    )
                    applied.append(migration.version)
            finally:
                await cur.execute("SELECT RELEASE_LOCK(%s)", (_MIGRATION_LOCK,))
            return applied

        return await self._run("migrate", op)

    # -- producing ------------------------------------------------------------

    async def insert_jobs(self, jobs: Sequence[NewJob], connection: Any = None) -> list[str]:
        async def insert(batch: Sequence[NewJob]) -> None:
            if len(batch) == 1:
                j = batch[0]
                run_at = j.run_at.astimezone(UTC).replace(tzinfo=None) if j.run_at else None
                params = (j.id, j.task, j.queue, -j.priority, j.args, j.kwargs, j.max_attempts,
                          j.timeout, j.unique_key, run_at, _micros(j.delay), j.meta, j.limit_key)

                async def one(cur: aiomysql.Cursor) -> None:
                    await cur.execute(_Q["insert_job"], params)

                await self._run("insert", one, connection=connection)
                return
            rows = []
            for j in batch:
                row: dict[str, Any] = {
                    "id": j.id, "task": j.task, "queue": j.queue, "priority": j.priority,
                    "args": j.args, "kwargs": j.kwargs, "max_attempts": j.max_attempts,
                    "delay_us": _micros(j.delay),
                }
                # Absent keys read as SQL NULL in JSON_TABLE on MySQL and MariaDB alike.
                if j.timeout is not None:
                    row["timeout"] = j.timeout
                if j.unique_key is not None:
                    row["unique_key"] = j.unique_key
                if j.meta is not None:
                    row["meta"] = j.meta
                if j.limit_key is not None:
                    row["limit_key"] = j.limit_key
                if j.run_at is not None:
                    row["run_at"] = j.run_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                rows.append(row)
            payload = json.dumps(rows, ensure_ascii=False)

            async def many(cur: aiomysql.Cursor) -> None:
                await cur.execute(_Q["insert_jobs"], (payload,))

            await self._run("insert", many, connection=connection)

        async def holders(keys: list[str], ids: list[str]) -> list[tuple[str | None, str]]:
            sql = _Q.render("key_holders", keys=_marks(len(keys)), ids=_marks(len(ids)))

            async def op(cur: aiomysql.Cursor) -> list[tuple[str | None, str]]:
                await cur.execute(sql, [*keys, *ids])
                return [(r[0], r[1]) for r in await cur.fetchall()]

            return await self._run("insert", op, connection=connection)

        return await insert_resolving_unique_keys(jobs, insert, holders)

    # -- working --------------------------------------------------------------

    async def insert_job_batches(self, batches: Iterator[list[NewJob]]) -> list[str]:
        # Encode everything first, then the one all-or-nothing insert: there is
        # no second connection's work to overlap the encoding with here.
        return await self.insert_jobs([job for batch in batches for job in batch])

    async def claim_jobs(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        if queues:
            select = _Q.render("select_claimable_in_queues", queues=_marks(len(queues)))
            select_args: list[Any] = [*queues, limit]
        else:
            select, select_args = _Q["select_claimable"], [limit]

        async def op(cur: aiomysql.Cursor) -> list[ClaimedJob]:
            await cur.execute(select, select_args)
            rows = await cur.fetchall()
            if not rows:
                return []
            ids = [r[0] for r in rows]
            await cur.execute(_Q.render("mark_claimed", ids=_marks(len(ids))),
                              [worker, _micros(lease), *ids])
            return claimed_jobs(rows)

        return await self._run("claim", op, transaction=True)

    async def insert_dependent_jobs(
        self, jobs: Sequence[NewJob], edges: Sequence[Edge], connection: Any = None
    ) -> list[str]:
        async def op(cur: aiomysql.Cursor) -> list[str]:
            ids = await self.insert_jobs(jobs, connection=cur.connection)
            kept = {j.id for j, i in zip(jobs, ids, strict=True) if i == j.id}
            await add_dependencies(_MySQLDeps(cur), [e for e in edges if e.child in kept])
            return ids

        return await self._run("insert", op, transaction=connection is None,
                               connection=connection)

    async def release_ended(self, parents: Sequence[str] | None = None) -> None:
        async def op(cur: aiomysql.Cursor) -> None:
            deps = _MySQLDeps(cur)
            if parents is None:
                found = await deps.ended_edges(None)
                await release(deps, sorted({e.parent for e in found}))
            elif parents:
                await release(deps, parents)

        await self._run("update", op, transaction=True)

    async def job_parents(self, job_id: str) -> list[tuple[str, bool]]:
        return [(r[0], bool(r[1])) for r in await self._fetch(_Q["job_parents"], (job_id,))]

    async def claim_limited(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float,
        request: LimitedClaim,
    ) -> LimitedResult:
        async def probe(cur: aiomysql.Cursor) -> bool:
            return await _MySQLKeys(cur, worker, lease, queues).next_key(None) is not None

        # Most claims find no limited job due: one statement, no transaction.
        if not await self._run("claim", probe):
            return LimitedResult([], request.after)

        async def op(cur: aiomysql.Cursor) -> LimitedResult:
            return await claim_limited(_MySQLKeys(cur, worker, lease, queues), request, limit)

        return await self._run("claim", op, transaction=True)

    async def complete_jobs(self, worker: str, outcomes: Sequence[Outcome]) -> list[str]:
        async def op(cur: aiomysql.Cursor) -> list[str]:
            fenced: list[str] = []
            for o in outcomes:
                query = "retry_attempt" if o.status == JobStatus.QUEUED else "complete_job"
                changed = await cur.execute(_Q[query], {
                    "result": o.result, "error": o.error, "status": str(o.status),
                    "delay_us": _micros(o.retry_delay), "id": o.id, "attempts": o.attempts,
                    "worker": worker,
                })
                if not changed:
                    fenced.append(o.id)
            # Children of the jobs that ended (a retry of a job whose cancel
            # was requested ends it too), in this transaction: one statement
            # when they have none.
            if outcomes:
                await release(_MySQLDeps(cur), [o.id for o in outcomes])
            return fenced

        return await self._run("complete", op, transaction=True)

    async def renew_leases(
        self, worker: str, job_ids: Sequence[str], lease: float
    ) -> list[LeaseState]:
        marks = _marks(len(job_ids))

        async def op(cur: aiomysql.Cursor) -> list[LeaseState]:
            await cur.execute(_Q.render("renew_leases", ids=marks),
                              [_micros(lease), worker, *job_ids])
            await cur.execute(_Q.render("leases_held", ids=marks), [worker, *job_ids])
            return [LeaseState(r[0], int(r[1]), bool(r[2])) for r in await cur.fetchall()]

        return await self._run("renew", op, transaction=True)

    async def cancel_requests(self, worker: str, job_ids: Sequence[str]) -> list[str]:
        if not job_ids:
            return []
        sql = _Q.render("cancel_requests", ids=_marks(len(job_ids)))
        return [r[0] for r in await self._fetch(sql, [*job_ids, worker])]

    async def rescue_expired_leases(self, gone: Sequence[str] = ()) -> int:
        sql = _Q.render("rescue_expired_leases", workers=_marks(len(gone)) if gone else "NULL")
        return await self._rowcount(sql, (LEASE_EXPIRED_MESSAGE, WORKER_GONE_MESSAGE, *gone))

    async def hand_back(self, worker: str, jobs: Sequence[tuple[str, int]]) -> int:
        async def op(cur: aiomysql.Cursor) -> int:
            count = 0
            for job_id, attempts in jobs:
                count += int(await cur.execute(_Q["hand_back"], (job_id, attempts, worker)))
            return count

        return await self._run("hand back", op, transaction=True)

    async def set_progress(self, job_id: str, attempts: int, worker: str, progress: str) -> bool:
        return await self._rowcount(_Q["set_progress"],
                                    (progress, job_id, attempts, worker)) == 1

    # -- inspecting and administering ------------------------------------------

    async def get_job(self, job_id: str) -> JobInfo | None:
        rows = await self._fetch(_Q["get_job"], (job_id,))
        return row_to_info(rows[0]) if rows else None

    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobInfo]:
        if not job_ids:
            return []
        rows = await self._fetch(_Q.render("get_jobs", ids=_marks(len(job_ids))), list(job_ids))
        return [row_to_info(r) for r in rows]

    async def list_jobs(self, job_filter: JobFilter) -> list[JobInfo]:
        args: list[Any] = []

        def bind(value: Any) -> str:
            args.append(value)
            return "%s"

        sql, ascending = list_jobs_sql(job_filter, bind, columns=_JOB_COLUMNS, sources=_SOURCES,
                                        problem_key=True)
        rows = [row_to_info(r) for r in await self._fetch(sql, args)]
        return rows[::-1] if ascending else rows

    async def delete_job(self, job_id: str) -> str | None:
        async def op(cur: aiomysql.Cursor) -> str | None:
            await cur.execute(_Q["lock_job_status"], (job_id,))
            row = await cur.fetchone()
            if row is None:
                return None
            # A running job is not deleted: its worker holds it (cancel it instead).
            if row[0] != "running":
                await cur.execute(_Q["delete_job"], (job_id,))
            return str(row[0])

        return await self._run("delete", op, transaction=True)

    async def queue_counts(self) -> list[Sequence[Any]]:
        return list(await self._fetch(_Q["queue_counts"]))

    async def recent_finished(self, long: float, short: float) -> list[Sequence[Any]]:
        return list(await self._fetch(_Q["recent_finished"], (_micros(short), _micros(long))))

    async def cancel_job(self, job_id: str) -> str | None:
        async def op(cur: aiomysql.Cursor) -> str | None:
            await cur.execute(_Q["cancel_job"], (job_id,))
            await cur.execute(_Q["job_status"], (job_id,))
            row = await cur.fetchone()
            return None if row is None else str(row[0])

        return await self._run("cancel", op, transaction=True)

    async def retry_job(self, job_id: str) -> bool:
        return await self._rowcount(_Q["retry_job"], (job_id,)) == 1

    async def stats(self) -> dict[str, dict[str, int]]:
        return group_stats(await self._fetch(_Q["stats"]))

    async def import_jobs(self, jobs: Sequence[ImportedJob]) -> int:
        if not jobs:
            return 0

        def row(j: ImportedJob) -> list[Any]:
            values = [getattr(j, name) for name in IMPORTED_COLUMNS]
            values[4] = -j.priority
            return [v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
                    for v in values]

        ids = [j.id for j in jobs]
        count = _Q.render("count_ids", ids=_marks(len(ids)))

        async def op(cur: aiomysql.Cursor) -> int:
            await cur.execute(count, ids)
            before = int((await cur.fetchone())[0])
            await cur.executemany(_Q["import_jobs"], [row(j) for j in jobs])
            await cur.execute(count, ids)
            return int((await cur.fetchone())[0]) - before

        return await self._run("import", op, transaction=True)

    async def count_expired_leases(self, grace: float) -> int:
        return int((await self._fetch(_Q["expired_leases"], [_micros(grace)]))[0][0])

    async def shift_schedules(self, seconds: float) -> int:
        return await self._rowcount(_Q["shift_schedules"], [round(seconds * 1e6)])

    async def start_session(self, key: str, ttl: float) -> None:
        async def op(cur: aiomysql.Cursor) -> None:
            await cur.execute(_Q["prune_sessions"])
            await cur.execute(_Q["start_session"], (key, _micros(ttl)))

        await self._run("session", op)

    async def session_alive(self, key: str) -> bool:
        return bool(await self._fetch(_Q["session_alive"], (key,)))

    async def end_session(self, key: str) -> None:
        await self._rowcount(_Q["end_session"], (key,))

    async def has_due(self, queues: Sequence[str] | None) -> bool:
        in_queues = f"AND queue IN ({_marks(len(queues))})" if queues else ""
        sql = _Q.render("has_due", in_queues=in_queues)
        return bool((await self._fetch(sql, [*(queues or ()), *(queues or ())]))[0][0])

    async def next_due_in(self) -> float | None:
        value = (await self._fetch(_Q["next_due_in"]))[0][0]
        return None if value is None else float(value)

    async def count_pending(self, queues: Sequence[str] | None) -> int:
        if queues:
            sql = _Q.render("count_pending_in_queues", queues=_marks(len(queues)))
            return int((await self._fetch(sql, list(queues)))[0][0])
        return int((await self._fetch(_Q["count_pending"]))[0][0])

    async def purge(
        self, older_than: float, statuses: Sequence[str], dry_run: bool, batch_size: int
    ) -> int:
        marks = _marks(len(statuses))
        if dry_run:
            sql = _Q.render("count_purgeable", statuses=marks)
            return int((await self._fetch(sql, [_micros(older_than), *statuses]))[0][0])
        sql = _Q.render("purge_batch", statuses=marks)
        return await delete_in_batches(
            lambda: self._rowcount(sql, [_micros(older_than), *statuses, batch_size]),
            batch_size,
        )

    async def set_paused(self, queue: str, paused: bool) -> None:
        await self._rowcount(_Q["set_paused"], (queue, int(paused)))

    async def queue_states(self) -> dict[str, bool]:
        return {r[0]: bool(r[1]) for r in await self._fetch(_Q["queue_states"])}

    # -- the workers registry ---------------------------------------------------

    async def register_worker(self, worker: WorkerRegistration, ttl: float) -> None:
        queues = None if worker.queues is None else json.dumps(worker.queues)
        await self._rowcount(_Q["register_worker"], (
            worker.name, worker.host, worker.pid, queues, worker.concurrency, worker.version,
            _micros(ttl), worker.node))

    async def heartbeat_worker(self, name: str, ttl: float) -> bool:
        # MySQL counts rows changed, not matched: heartbeat_at always changes.
        return await self._rowcount(_Q["heartbeat_worker"], (_micros(ttl), name)) == 1

    async def deregister_worker(self, name: str) -> None:
        await self._rowcount(_Q["deregister_worker"], (name,))

    async def sweep_workers(self, retention: float) -> tuple[int, int]:
        return (await self._rowcount(_Q["mark_dead_workers"]),
                await self._rowcount(_Q["prune_workers"], (_micros(retention),)))

    async def list_workers(self, retention: float) -> list[WorkerInfo]:
        return rows_to_workers(await self._fetch(_Q["list_workers"], (_micros(retention),)),
                               await self._fetch(_Q["running_jobs_by_worker"]))

    async def advance_tick(self, schedule: str, expected: datetime | None, tick: datetime,
                           jobs: Sequence[tuple[NewJob, str]]) -> list[str] | None:
        def naive(moment: datetime) -> datetime:
            return moment.astimezone(UTC).replace(tzinfo=None)

        async def op(cur: aiomysql.Cursor) -> list[str] | None:
            won = (await cur.execute(_Q["start_schedule"], (schedule, naive(tick)))
                   if expected is None else
                   await cur.execute(_Q["advance_tick"], (naive(tick), schedule, naive(expected))))
            if not won:
                return None
            if not jobs:
                return []
            ids = await self.insert_jobs([j for j, _ in jobs], connection=cur.connection)
            for job_id, (_, meta) in zip(ids, jobs, strict=True):
                await cur.execute(_Q["set_meta"], (meta, job_id))
            return ids

        return await self._run("periodic", op, transaction=True)

    async def purge_task(self, task: str, older_than: float, batch_size: int) -> int:
        return await delete_in_batches(
            lambda: self._rowcount(_Q["purge_task_batch"],
                                   [task, _micros(older_than), batch_size]),
            batch_size)

    async def last_ticks(self) -> dict[str, datetime]:
        return {r[0]: r[1].replace(tzinfo=UTC) for r in await self._fetch(_Q["last_ticks"])}

    async def workers_on_node(self, node: str) -> list[tuple[str, int]]:
        return [(r[0], int(r[1])) for r in await self._fetch(_Q["workers_on_node"], (node,))]

    async def listen(
        self, on_new: NewJobHandler, on_done: DoneHandler, on_cancel: CancelHandler | None = None,
        on_handover: HandoverHandler | None = None,
    ) -> Listener | None:
        return None
