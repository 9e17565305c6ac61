"""MySQL 8 / MariaDB 10.6+ (aiomysql): the connection plumbing, the schema,
and the core every backend has (insert, claim, complete, renew, rescue, read).

Sessions run under READ COMMITTED: FOR UPDATE SKIP LOCKED followed by UPDATE
deadlocks within seconds under REPEATABLE READ (see docs/backends.md).
Every call goes through :meth:`MySQLCore._run`, the one place driver errors
are translated (see :func:`aqueue.backends.common.at_edge`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC
from typing import Any, TypeVar

import aiomysql
import pymysql

from aqueue.backends.base import CallerConnection
from aqueue.backends.common import (
    JOB_COLUMNS,
    LEASE_EXPIRED_MESSAGE,
    WORKER_GONE_MESSAGE,
    at_edge,
    claimed_jobs,
    insert_resolving_unique_keys,
    insert_through,
    row_to_info,
)
from aqueue.backends.ports import ReleaseAlgorithm
from aqueue.backends.sqlfile import Queries, latest_version, load_migrations, load_queries
from aqueue.dsn import DSN, command_timeout, mysql_options
from aqueue.errors import AqueueError, ConfigurationError, DatabaseUnavailable, SchemaError
from aqueue.records import ClaimedJob, EndedEdge, JobInfo, JobStatus, LeaseState, NewJob, Outcome

T = TypeVar("T")
_PACKAGE = __package__ or "aqueue.backends.mysql"
_JOB_COLUMNS = JOB_COLUMNS.replace("priority,", "-neg_priority AS priority,")
# With a queue or task filter, MariaDB's ORDER BY ... LIMIT heuristic may walk
# the whole primary key looking for matches; the (queue, id) and (task, id)
# indexes give the same order over the matches alone.
_SOURCES = {
    "finished_by_name": "aqueue_jobs IGNORE INDEX (PRIMARY)",
    "queued_limited": "aqueue_jobs FORCE INDEX (aqueue_jobs_limited)",
}
#: The named statements of queries.sql, placeholders filled.
SQL = Queries(load_queries(_PACKAGE), NOW="UTC_TIMESTAMP(6)", JOB_COLUMNS=_JOB_COLUMNS)


_MIGRATION_LOCK = "aqueue_migrate"

# Connection-level failures: refused, gone away, lost, server shutdown, killed,
# too many connections, access denied, unknown database.
_UNAVAILABLE_CODES = {1040, 1044, 1045, 1049, 1053, 1927, 2002, 2003, 2005, 2006, 2013, 2055, 4031}
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


def marks(count: int) -> str:
    """``count`` placeholders for an IN list; ``NULL`` (matches nothing) for none."""
    return ", ".join(["%s"] * count) if count else "NULL"


def micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


class MySQLReleaseSteps:
    """Releasing children on one cursor (see :mod:`aqueue.dependencies`): the
    statements :data:`~aqueue.backends.ports.ReleaseAlgorithm` runs over."""

    def __init__(self, cur: aiomysql.Cursor) -> None:
        self._cur = cur

    async def ended_edges(self, parents: Sequence[str] | None) -> list[EndedEdge]:
        if parents is None:
            await self._cur.execute(SQL["all_ended_edges"])
        else:
            await self._cur.execute(
                SQL.render("ended_edges", ids=marks(len(parents))), list(parents)
            )
        return [EndedEdge(r[0], r[1], r[2], bool(r[3])) for r in await self._cur.fetchall()]

    async def mark_released(self, edges: Sequence[EndedEdge]) -> None:
        await self._cur.executemany(SQL["mark_released"], [(e.child, e.parent) for e in edges])

    async def count_down(self, child: str, n: int) -> None:
        await self._cur.execute(SQL["count_down"], (n, n, child))

    async def cancel_child(self, child: str, message: str) -> bool:
        error = json.dumps({"type": "ParentFailed", "message": message, "traceback": None})
        return bool(await self._cur.execute(SQL["cancel_child"], (error, child)))


class MySQLCore:
    """Jobs in ``aqueue_jobs`` on InnoDB, claimed with FOR UPDATE SKIP LOCKED."""

    dialect = "mysql"
    # Without LISTEN an idle worker probes ~13 times a second: a job waits
    # ~40 ms for it on average, and with the claim that still polls each
    # second the idle worker costs the server < 20 statements a second.
    idle_probe_interval = 0.075
    migrates_on_open = False

    def __init__(self, dsn: DSN, *, release: ReleaseAlgorithm, pool_size: int = 10) -> None:
        #: aqueue.dependencies' release, run in the transaction that records
        #: jobs' ends (MySQL has no function for it).
        self._release = release
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
                    "does not offer it; the connection would be plain text"
                )

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

        return await at_edge(
            once,
            what=what,
            is_transient=_is_transient,
            translate=self._translate,
            borrowed=connection is not None,
        )

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
                    "WHERE table_schema = DATABASE() AND table_name = 'aqueue_migrations'"
                )
                if not (await cur.fetchone())[0]:
                    await cur.execute(
                        "CREATE TABLE aqueue_migrations (version INT PRIMARY KEY, "
                        "name VARCHAR(255) NOT NULL, applied_at DATETIME(6) NOT NULL)"
                    )
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

    def latest_version(self) -> int:
        return latest_version(_PACKAGE)

    # -- producing ------------------------------------------------------------

    @staticmethod
    def _insert_params(j: NewJob) -> tuple[Any, ...]:
        """``insert_job``'s parameters (``%s`` style, for aiomysql and mysqlclient)."""
        run_at = j.run_at.astimezone(UTC).replace(tzinfo=None) if j.run_at else None
        return (
            j.id,
            j.task,
            j.queue,
            -j.priority,
            j.args,
            j.kwargs,
            j.max_attempts,
            j.timeout,
            j.unique_key,
            run_at,
            micros(j.delay),
            j.meta,
            j.limit_key,
        )

    async def insert_jobs(self, jobs: Sequence[NewJob], connection: Any = None) -> list[str]:
        if isinstance(connection, CallerConnection):  # mysqlclient under Django
            return await insert_through(
                connection, SQL["insert_job"], [self._insert_params(j) for j in jobs], jobs
            )

        async def insert(batch: Sequence[NewJob]) -> None:
            if len(batch) == 1:
                params = self._insert_params(batch[0])

                async def one(cur: aiomysql.Cursor) -> None:
                    await cur.execute(SQL["insert_job"], params)

                await self._run("insert", one, connection=connection)
                return
            rows = []
            for j in batch:
                row: dict[str, Any] = {
                    "id": j.id,
                    "task": j.task,
                    "queue": j.queue,
                    "priority": j.priority,
                    "args": j.args,
                    "kwargs": j.kwargs,
                    "max_attempts": j.max_attempts,
                    "delay_us": micros(j.delay),
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
                await cur.execute(SQL["insert_jobs"], (payload,))

            await self._run("insert", many, connection=connection)

        async def holders(keys: list[str], ids: list[str]) -> list[tuple[str | None, str]]:
            sql = SQL.render("key_holders", keys=marks(len(keys)), ids=marks(len(ids)))

            async def op(cur: aiomysql.Cursor) -> list[tuple[str | None, str]]:
                await cur.execute(sql, [*keys, *ids])
                return [(r[0], r[1]) for r in await cur.fetchall()]

            return await self._run("insert", op, connection=connection)

        return await insert_resolving_unique_keys(jobs, insert, holders)

    async def insert_job_batches(self, batches: Iterator[list[NewJob]]) -> list[str]:
        # Encode everything first, then the one all-or-nothing insert: there is
        # no second connection's work to overlap the encoding with here.
        return await self.insert_jobs([job for batch in batches for job in batch])

    # -- working --------------------------------------------------------------

    async def claim_jobs(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        if queues:
            select = SQL.render("select_claimable_in_queues", queues=marks(len(queues)))
            select_args: list[Any] = [*queues, limit]
        else:
            select, select_args = SQL["select_claimable"], [limit]

        async def op(cur: aiomysql.Cursor) -> list[ClaimedJob]:
            await cur.execute(select, select_args)
            rows = await cur.fetchall()
            if not rows:
                return []
            ids = [r[0] for r in rows]
            await cur.execute(
                SQL.render("mark_claimed", ids=marks(len(ids))), [worker, micros(lease), *ids]
            )
            return claimed_jobs(rows)

        return await self._run("claim", op, transaction=True)

    async def complete_jobs(self, worker: str, outcomes: Sequence[Outcome]) -> list[str]:
        async def op(cur: aiomysql.Cursor) -> list[str]:
            fenced: list[str] = []
            for o in outcomes:
                query = (
                    "snooze_attempt"
                    if o.snoozed
                    else "retry_attempt"
                    if o.status == JobStatus.QUEUED
                    else "complete_job"
                )
                changed = await cur.execute(
                    SQL[query],
                    {
                        "result": o.result,
                        "error": o.error,
                        "status": str(o.status),
                        "delay_us": micros(o.retry_delay),
                        "id": o.id,
                        "attempts": o.attempts,
                        "worker": worker,
                    },
                )
                if not changed:
                    fenced.append(o.id)
            outputs = [o.output for o in outcomes if o.output is not None]
            if outputs:
                rows = [(o.id, o.attempt, o.text, o.cut, o.job_id) for o in outputs]
                await cur.executemany(SQL["save_output"], rows)
            # Children of the jobs that ended (a retry of a job whose cancel
            # was requested ends it too), in this transaction: one statement
            # when they have none.
            if outcomes:
                await self._release(MySQLReleaseSteps(cur), [o.id for o in outcomes])
            return fenced

        return await self._run("complete", op, transaction=True)

    async def renew_leases(
        self, worker: str, job_ids: Sequence[str], lease: float
    ) -> list[LeaseState]:
        in_list = marks(len(job_ids))

        async def op(cur: aiomysql.Cursor) -> list[LeaseState]:
            await cur.execute(
                SQL.render("renew_leases", ids=in_list), [micros(lease), worker, *job_ids]
            )
            await cur.execute(SQL.render("leases_held", ids=in_list), [worker, *job_ids])
            return [LeaseState(r[0], int(r[1]), bool(r[2])) for r in await cur.fetchall()]

        return await self._run("renew", op, transaction=True)

    async def cancel_requests(self, worker: str, job_ids: Sequence[str]) -> list[str]:
        if not job_ids:
            return []
        sql = SQL.render("cancel_requests", ids=marks(len(job_ids)))
        return [r[0] for r in await self._fetch(sql, [*job_ids, worker])]

    async def rescue_expired_leases(self, gone: Sequence[str] = ()) -> int:
        sql = SQL.render("rescue_expired_leases", workers=marks(len(gone)) if gone else "NULL")
        return await self._rowcount(sql, (LEASE_EXPIRED_MESSAGE, WORKER_GONE_MESSAGE, *gone))

    async def hand_back(self, worker: str, jobs: Sequence[tuple[str, int]]) -> int:
        async def op(cur: aiomysql.Cursor) -> int:
            count = 0
            for job_id, attempts in jobs:
                count += int(await cur.execute(SQL["hand_back"], (job_id, attempts, worker)))
            return count

        return await self._run("hand back", op, transaction=True)

    async def set_progress(self, job_id: str, attempts: int, worker: str, progress: str) -> bool:
        return await self._rowcount(SQL["set_progress"], (progress, job_id, attempts, worker)) == 1

    async def get_job(self, job_id: str) -> JobInfo | None:
        rows = await self._fetch(SQL["get_job"], (job_id,))
        return row_to_info(rows[0]) if rows else None

    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobInfo]:
        if not job_ids:
            return []
        rows = await self._fetch(SQL.render("get_jobs", ids=marks(len(job_ids))), list(job_ids))
        return [row_to_info(r) for r in rows]

    async def has_due(self, queues: Sequence[str] | None) -> bool:
        in_queues = f"AND queue IN ({marks(len(queues))})" if queues else ""
        sql = SQL.render("has_due", in_queues=in_queues)
        return bool((await self._fetch(sql, [*(queues or ()), *(queues or ())]))[0][0])
