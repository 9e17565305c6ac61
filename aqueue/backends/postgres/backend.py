"""PostgreSQL backend (asyncpg): SKIP LOCKED claims, batch statements, LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from aqueue.backends.base import CancelHandler, DoneHandler, HandoverHandler, NewJobHandler
from aqueue.backends.common import (
    IMPORTED_COLUMNS,
    JOB_COLUMNS,
    LEASE_EXPIRED_MESSAGE,
    WORKER_GONE_MESSAGE,
    Replayable,
    at_edge,
    claimed_jobs,
    delete_in_batches,
    group_stats,
    insert_resolving_unique_keys,
    list_jobs_sql,
    resolve_unique_keys,
    row_to_info,
    rows_to_workers,
)
from aqueue.backends.sqlfile import Queries, load_migrations, load_queries
from aqueue.dependencies import Edge, add_dependencies
from aqueue.dsn import DSN, command_timeout, postgres_options
from aqueue.errors import AqueueError, DatabaseUnavailable, SchemaError
from aqueue.limits import LimitedClaim, LimitedResult, TaskLimit, claim_limited
from aqueue.offers import NO_OFFER_SECONDS, can_hand_over
from aqueue.records import (
    ClaimedJob,
    ImportedJob,
    JobFilter,
    JobInfo,
    JobKind,
    LeaseState,
    NewJob,
    Outcome,
    WorkerInfo,
    WorkerRegistration,
)

T = TypeVar("T")
log = logging.getLogger("aqueue.backend")
_PACKAGE = __package__ or "aqueue.backends.postgres"
_RAW = load_queries(_PACKAGE)
_Q = Queries(_RAW, JOB_COLUMNS=JOB_COLUMNS, BATCH_ROWS=_RAW["batch_rows"])
# Jobs without unique keys cannot conflict, and ON CONFLICT's speculative
# insertion costs ~12 % of a 20,000-job insert: each insert has a form without it.
_ON_CONFLICT = ("ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL "
                "AND status IN ('queued', 'running') DO NOTHING")
_INSERT_JOB = _Q.render("insert_job", IF_UNIQUE_KEYS="")
_INSERT_JOB_UNIQUE = _Q.render("insert_job", IF_UNIQUE_KEYS=_ON_CONFLICT)
_INSERT_JOB_OFFERED = _Q["insert_job_offered"]
_INSERT_JOBS = _Q["insert_jobs"]
_INSERT_JOBS_UNIQUE = _Q.render("insert_jobs_unique", IF_UNIQUE_KEYS=_ON_CONFLICT)
# insert_job in the %(name)s style of sync drivers (psycopg under Django).
_DBAPI_INSERT_JOB = re.sub(r"\$(\d+)", r"%(p\1)s", _INSERT_JOB)


def dbapi_insert_job(j: NewJob) -> tuple[str, dict[str, Any]]:
    """The statement and parameters inserting ``j`` through a sync DB-API
    cursor (``%(name)s`` style): how a job joins a transaction of Django's
    connection. The enqueue's NOTIFY is sent when that transaction commits."""
    if j.unique_key is not None:
        raise ValueError("jobs with unique keys are written by aqueue's own connections")
    values = (j.id, j.task, j.queue, j.priority, j.args, j.kwargs, j.max_attempts, j.timeout,
              j.unique_key, j.delay, j.run_at, j.meta, j.limit_key)
    return _DBAPI_INSERT_JOB, {f"p{n}": v for n, v in enumerate(values, 1)}
# pg_notify payloads must stay under 8000 bytes: 100 ids of 37 bytes fit.
_MAX_COMPLETE_BATCH = 100
_ACQUIRE_TIMEOUT = 30.0
_MIGRATION_LOCK = 0x61717565  # "aque": the advisory lock taken while migrating

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.InvalidCatalogNameError,  # the database does not exist
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.InternalClientError,  # see _never_sent; other kinds too
)
_TRANSIENT = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.LockNotAvailableError,
)


def _insert_jobs_sql(columns: tuple[Any, ...]) -> str:
    # The fourth column, unique keys, is None when no job in the batch has one.
    return _INSERT_JOBS if columns[3] is None else _INSERT_JOBS_UNIQUE


async def _reset_connection(conn: asyncpg.Connection) -> None:
    # aqueue sets no session state on pooled connections (LISTEN has its own
    # connection), so asyncpg's default RESET ALL / UNLISTEN round trip on every
    # release is pure cost. Only an abandoned transaction needs undoing.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def _lost(conn: asyncpg.Connection) -> bool:
    """Whether a pooled connection closed since it was acquired (asyncpg then
    releases it to its pool itself: every method raises InterfaceError)."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True


def _never_sent(exc: BaseException) -> bool:
    """An operation refused before anything was sent, on a connection the
    server had just ended.

    When PostgreSQL ends a session (``pg_terminate_backend``, a restart, an
    idle timeout), it sends a FATAL error and closes. asyncpg reads the error
    on an idle connection as a protocol fault and parks the connection in its
    error state until it reads the close; an operation started in between
    fails when it switches state, before writing a byte. Nothing ran, so the
    operation may go again on another connection.
    """
    return (isinstance(exc, asyncpg.exceptions.InternalClientError)
            and str(exc).startswith("cannot switch to state"))


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT) or _never_sent(exc)


def _uuid_or_none(job_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(job_id))
    except ValueError:
        return None


class _PostgresKeys:
    """A limited claim's statements on one connection (see :mod:`aqueue.limits`)."""

    def __init__(self, conn: asyncpg.Connection, worker: str, lease: float,
                 queues: list[str] | None) -> None:
        self._conn, self._worker, self._lease, self._queues = conn, worker, lease, queues

    async def next_key(self, after: tuple[str, str] | None) -> tuple[str, str] | None:
        if after is None:
            row = await self._conn.fetchrow(_Q["limited_first_key"], self._queues)
        else:
            row = await self._conn.fetchrow(_Q["limited_next_key"], *after, self._queues)
        return None if row is None else (row[0], row[1])

    async def lock(self, task: str, key: str) -> bool:
        if await self._conn.fetchval(_Q["limited_lock"], task, key) is not None:
            return True
        if await self._conn.fetchval(_Q["limited_exists"], task, key) is not None:
            return False  # exists, so another worker holds it
        return await self._conn.fetchval(_Q["limited_create"], task, key) is not None

    async def counts(self, limit: TaskLimit, key: str) -> tuple[int, int]:
        row = await self._conn.fetchrow(_Q["limited_counts"], limit.task, key, limit.period)
        return int(row[0]), int(row[1])

    async def claim(self, task: str, key: str, n: int) -> list[Sequence[object]]:
        return list(await self._conn.fetch(_Q["limited_claim"], task, key, n, self._worker,
                                           self._lease, self._queues))

    async def record_starts(self, task: str, key: str, n: int) -> None:
        await self._conn.execute(_Q["limited_record_starts"], task, key, n)


class _PostgresDeps:
    """Dependency statements on one connection (see :mod:`aqueue.dependencies`)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def lock_parents(self, ids: Sequence[str]) -> dict[str, str]:
        valid = [u for u in (_uuid_or_none(i) for i in ids) if u is not None]
        rows = await self._conn.fetch(_Q["lock_parents"], valid)
        return {r[0]: r[1] for r in rows}

    async def insert_edges(self, edges: Sequence[Edge]) -> None:
        await self._conn.execute(_Q["insert_edges"], [e.child for e in edges],
                                 [e.parent for e in edges], [e.run_on_failure for e in edges])

    async def set_waiting(self, counts: dict[str, int]) -> None:
        await self._conn.execute(_Q["set_waiting"], list(counts), list(counts.values()))

    async def release(self, parents: Sequence[str]) -> None:
        await self._conn.execute(_Q["release"], list(parents))


class PostgresBackend:
    """Jobs in ``aqueue_jobs``; a pool for queries and, on demand, one listening connection."""

    dialect = "postgresql"
    # Only when LISTEN fails (or is not to be had, as behind PgBouncer without
    # a listen DSN) does an idle worker probe, ten times a second.
    idle_probe_interval = 0.1
    single_host = False
    migrates_on_open = False
    supports_handover = True

    def __init__(self, dsn: DSN, *, pool_size: int = 10, listen_dsn: DSN | None = None) -> None:
        self._dsn = dsn
        self._pool_size = max(1, pool_size)
        self._pool: asyncpg.Pool | None = None
        # One pooled connection is kept out of the pool between calls and used
        # by the next call when free: a producer enqueueing one job per await
        # (and a worker's claim loop) skips the pool's acquire and release,
        # ~20 us of a ~250 us enqueue. Concurrent calls use the pool.
        self._kept: asyncpg.Connection | None = None
        self._kept_busy = False
        # Behind a transaction-pooling proxy (?pgbouncer=on) consecutive
        # statements may reach different server sessions: no prepared
        # statement may outlive its transaction, nor any session state.
        self._bouncer = dsn.options.get("pgbouncer") == "on"
        # LISTEN needs a session of its own: through the proxy only to a
        # listen DSN that reaches the server directly.
        self._listen_dsn = listen_dsn
        #: False behind PgBouncer without a listen DSN: idle workers probe.
        self.supports_notify = not self._bouncer or listen_dsn is not None
        # Until then (time.monotonic()) single enqueues skip looking for an
        # idle worker's offer: the last look found none (aqueue/offers.py).
        self._no_offer_until = 0.0

    def _connect_args(self, dsn: DSN | None = None) -> dict[str, Any]:
        dsn = dsn or self._dsn
        # Pass the parsed parts, not the raw DSN, so that driver errors never echo it.
        args: dict[str, Any] = {
            "host": dsn.host or None,
            "port": dsn.port or None,
            "user": dsn.user or None,
            "password": dsn.password,
            "database": dsn.database or None,
            "timeout": 10,  # to connect; ?connect_timeout= overrides it
        }
        args.update(postgres_options(dsn))
        return {k: v for k, v in args.items() if v is not None}

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"PostgreSQL at {self._dsn}: {type(exc).__name__}: {exc}")

    def _translate(self, exc: BaseException) -> AqueueError | None:
        if isinstance(exc, asyncpg.exceptions.UndefinedTableError):
            return SchemaError(f"aqueue's tables are missing in {self._dsn}: run `aqueue migrate`")
        if isinstance(exc, _UNAVAILABLE):
            return self._unavailable(exc)
        return None

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            extra: dict[str, Any] = {"statement_cache_size": 0} if self._bouncer else {}
            self._pool = await asyncpg.create_pool(
                min_size=1, max_size=self._pool_size,
                command_timeout=command_timeout(self._dsn), reset=_reset_connection,
                **self._connect_args(), **extra
            )
        except Exception as exc:
            raise (self._translate(exc) or exc) from None

    async def close(self, timeout: float = 3.0) -> None:
        pool, self._pool = self._pool, None
        kept, self._kept = self._kept, None
        if pool is None:
            return
        # Gracefully if the server answers; a partition must not hold up an exit.
        try:
            async with asyncio.timeout(timeout):
                if kept is not None:
                    await pool.release(kept)
                await pool.close()
        except Exception:
            pool.terminate()

    async def _run(
        self, what: str, operation: Callable[[asyncpg.Connection], Awaitable[T]],
        connection: Any = None,
    ) -> T:
        async def once() -> T:
            if connection is not None:
                return await operation(connection)
            pool = self._pool
            if pool is None:
                raise DatabaseUnavailable("the queue is not open: use `async with queue:`")
            conn = self._kept
            if conn is not None and not self._kept_busy and _lost(conn):
                # Closed while kept (the server restarted, or ended the
                # session): asyncpg hands such a connection back to its pool.
                self._kept = conn = None
            kept = conn is not None and not self._kept_busy
            if kept:
                self._kept_busy = True
            else:
                # asyncio.timeout, not acquire(timeout=): that one runs the acquire
                # in a task of its own, a third of a single enqueue's time.
                async with asyncio.timeout(_ACQUIRE_TIMEOUT):
                    conn = await pool.acquire()
            assert conn is not None
            try:
                if self._bouncer and not conn.is_in_transaction():
                    # asyncpg parses a statement (one Sync) before running it
                    # (another): only a transaction keeps both on one session.
                    async with conn.transaction():
                        result = await operation(conn)
                else:
                    result = await operation(conn)
            except BaseException as exc:
                # A server error leaves the connection usable; anything else
                # (a drop, a timeout, a cancellation) may leave it mid-protocol,
                # where the pool's reset-on-release can hang. Close it first.
                # (A lost connection may already be back in the pool: suppress.)
                broken = (not isinstance(exc, asyncpg.PostgresError)
                          or isinstance(exc, _UNAVAILABLE) or conn.is_in_transaction())
                if kept:
                    self._kept_busy = False
                    if not broken:
                        raise
                    self._kept = None
                with contextlib.suppress(Exception):
                    if broken:
                        conn.terminate()
                    await pool.release(conn, timeout=_ACQUIRE_TIMEOUT)
                raise
            if kept:
                self._kept_busy = False
            elif (self._kept is None and self._pool_size > 1 and self._pool is pool
                  and not conn.is_in_transaction()):
                self._kept = conn
            else:
                # A healthy connection's reset is at most a ROLLBACK: no timer needed.
                await pool.release(conn)
            return result

        return await at_edge(once, what=what, is_transient=_is_transient,
                             translate=self._translate, borrowed=connection is not None)

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._run("query", lambda c: c.fetch(sql, *args))

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        return await self._run("query", lambda c: c.fetchval(sql, *args))

    async def _execute(self, sql: str, *args: Any) -> int:
        status = await self._run("update", lambda c: c.execute(sql, *args))
        return int(status.rsplit(" ", 1)[-1])

    # -- schema -------------------------------------------------------------

    async def schema_version(self) -> int | None:
        if await self._fetchval("SELECT to_regclass('aqueue_migrations') IS NOT NULL") is False:
            return None
        value = await self._fetchval("SELECT max(version) FROM aqueue_migrations")
        return None if value is None else int(value)

    async def migrate(self) -> list[int]:
        async def op(conn: asyncpg.Connection) -> list[int]:
            applied: list[int] = []
            if self._bouncer:
                # All of it in _run's one transaction, under a lock that ends
                # with it (a session lock could stay behind on the server).
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            else:
                await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS aqueue_migrations (version integer PRIMARY KEY, "
                    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {r[0] for r in await conn.fetch("SELECT version FROM aqueue_migrations")}
                for migration in load_migrations(_PACKAGE):
                    if migration.version in done:
                        continue
                    async with conn.transaction():
                        for statement in migration.statements:
                            await conn.execute(statement)
                        await conn.execute(
                            "INSERT INTO aqueue_migrations (version, name) VALUES ($1, $2)",
                            migration.version, migration.name,
                        )
                    applied.append(migration.version)
            finally:
                if not self._bouncer:
                    await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
            return applied

        return await self._run("migrate", op)

    # -- producing ------------------------------------------------------------

    @staticmethod
    def _batch_columns(batch: Sequence[NewJob]) -> tuple[Any, ...]:
        """The ``insert_jobs`` parameters: per-job columns, and each kind once."""
        # Kinds are shared objects: a batch sends each once, by position.
        positions: dict[int, int] = {}
        kinds: list[JobKind] = []
        kind_of: list[int] = []
        for j in batch:
            position = positions.get(id(j.kind))
            if position is None:
                kinds.append(j.kind)
                position = positions[id(j.kind)] = len(kinds)
            kind_of.append(position)
        kwargs = [j.kwargs for j in batch]
        keys = [j.unique_key for j in batch]
        return (
            [j.id for j in batch], [j.args for j in batch],
            None if all(k == "{}" for k in kwargs) else kwargs,
            None if all(k is None for k in keys) else keys,
            kind_of,
            [k.task for k in kinds], [k.queue for k in kinds], [k.priority for k in kinds],
            [k.max_attempts for k in kinds], [k.timeout for k in kinds],
            [k.delay for k in kinds], [k.run_at for k in kinds], [k.meta for k in kinds],
            [k.limit_key for k in kinds],
        )

    async def _insert(self, batch: Sequence[NewJob], connection: Any = None) -> None:
        if len(batch) == 1:
            j = batch[0]
            if (connection is None and can_hand_over(j)
                    and time.monotonic() >= self._no_offer_until):
                # On the caller's connection its transaction could outlast the
                # attempt's lease before the worker hears of it: never there.
                taken = await self._run("insert", lambda c: c.fetchval(
                    _INSERT_JOB_OFFERED, j.id, j.task, j.queue, j.priority, j.args, j.kwargs,
                    j.max_attempts, j.timeout, j.meta, j.delay))
                if not taken:
                    self._no_offer_until = time.monotonic() + NO_OFFER_SECONDS
                return
            sql = _INSERT_JOB if j.unique_key is None else _INSERT_JOB_UNIQUE
            await self._run("insert", lambda c: c.execute(
                sql, j.id, j.task, j.queue, j.priority, j.args, j.kwargs,
                j.max_attempts, j.timeout, j.unique_key, j.delay, j.run_at, j.meta, j.limit_key,
            ), connection)
            return
        columns = self._batch_columns(batch)
        await self._run("insert", lambda c: c.execute(_insert_jobs_sql(columns), *columns),
                        connection)

    async def _holders(self, keys: list[str], ids: list[str], connection: Any = None
                       ) -> list[tuple[str | None, str]]:
        rows = await self._run(
            "insert", lambda c: c.fetch(_Q["key_holders"], keys, ids), connection
        )
        return [(r[0], r[1]) for r in rows]

    async def insert_jobs(self, jobs: Sequence[NewJob], connection: Any = None) -> list[str]:
        return await insert_resolving_unique_keys(
            jobs, lambda batch: self._insert(batch, connection),
            lambda keys, ids: self._holders(keys, ids, connection))

    async def insert_job_batches(self, batches: Iterator[list[NewJob]]) -> list[str]:
        source = Replayable(batches)

        async def op(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                pending: asyncio.Future[str] | None = None
                try:
                    # Drawing a batch encodes it, here in Python, while the
                    # server inserts the previous one: the two overlap.
                    for batch in source:
                        if pending is not None:
                            await pending
                        columns = self._batch_columns(batch)
                        pending = asyncio.ensure_future(
                            conn.execute(_insert_jobs_sql(columns), *columns))
                        await asyncio.sleep(0)  # let it send before encoding the next
                    if pending is not None:
                        await pending
                except BaseException:
                    # The connection must be idle before the rollback.
                    if pending is not None and not pending.done():
                        with contextlib.suppress(BaseException):
                            await pending
                    raise

        await self._run("insert", op)
        return await resolve_unique_keys(source.jobs(), self._insert, self._holders)


    # -- working --------------------------------------------------------------

    async def claim_jobs(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        rows = await self._fetch(_Q["claim_jobs"], worker, limit, lease,
                                 list(queues) if queues else None)
        return claimed_jobs(rows)

    async def offer(self, worker: str, queues: Sequence[str] | None, lease: float,
                    ttl: float, token: float) -> datetime:
        value: datetime = await self._fetchval(_Q["offer"], worker,
                                               list(queues) if queues else None, lease, ttl,
                                               token)
        return value

    async def claim_jobs_withdrawing(self, worker: str, queues: Sequence[str] | None,
                                     limit: int, lease: float, slots: int) -> list[ClaimedJob]:
        rows = await self._fetch(_Q["claim_jobs_withdrawing"], worker, limit, lease,
                                 list(queues) if queues else None, slots)
        return claimed_jobs(rows)

    async def withdraw_offer(self, worker: str) -> bool:
        return bool(await self._fetchval(_Q["withdraw_offer"], worker))

    async def handed_over(self, worker: str, job_id: str) -> ClaimedJob | None:
        rows = await self._fetch(_Q["handed_over_job"], job_id, worker)
        jobs = claimed_jobs(rows)
        return jobs[0] if jobs else None

    async def handed_over_since(self, worker: str, since: datetime,
                                held: Sequence[str]) -> list[ClaimedJob]:
        return claimed_jobs(await self._fetch(_Q["handed_over_since"], worker, since, list(held)))

    async def insert_dependent_jobs(
        self, jobs: Sequence[NewJob], edges: Sequence[Edge], connection: Any = None
    ) -> list[str]:
        async def write(conn: asyncpg.Connection) -> list[str]:
            ids = await self.insert_jobs(jobs, connection=conn)
            kept = {j.id for j, i in zip(jobs, ids, strict=True) if i == j.id}
            await add_dependencies(_PostgresDeps(conn),
                                   [e for e in edges if e.child in kept])
            return ids

        async def op(conn: asyncpg.Connection) -> list[str]:
            async with conn.transaction():
                return await write(conn)

        if connection is not None:
            return await write(connection)
        return await self._run("insert", op)

    async def release_ended(self, parents: Sequence[str] | None = None) -> None:
        if parents is None:
            await self._execute(_Q["release_ended"])
        else:
            await self._execute(_Q["release"], [u for u in map(_uuid_or_none, parents) if u])

    async def job_parents(self, job_id: str) -> list[tuple[str, bool]]:
        if _uuid_or_none(job_id) is None:
            return []
        return [(r[0], bool(r[1])) for r in await self._fetch(_Q["job_parents"], job_id)]

    async def claim_limited(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float,
        request: LimitedClaim,
    ) -> LimitedResult:
        queue_list = list(queues) if queues else None

        async def op(conn: asyncpg.Connection) -> LimitedResult:
            keys = _PostgresKeys(conn, worker, lease, queue_list)
            # Most claims find no limited job due: one statement, no transaction.
            if await keys.next_key(None) is None:
                return LimitedResult([], request.after)
            async with conn.transaction():
                result = await claim_limited(keys, request, limit)
                slots = request.withdraw_offer_at
                if slots is not None and len(result.jobs) >= slots:
                    # The claim fills the worker's slots: its offer goes with it.
                    await conn.execute(_Q["withdraw_offer"], worker)
                return result

        return await self._run("claim", op)

    async def complete_jobs(self, worker: str, outcomes: Sequence[Outcome]) -> list[str]:
        fenced: list[str] = []
        for start in range(0, len(outcomes), _MAX_COMPLETE_BATCH):
            batch = outcomes[start : start + _MAX_COMPLETE_BATCH]
            rows = await self._fetch(
                _Q["complete_jobs"],
                [o.id for o in batch], [o.attempts for o in batch],
                [str(o.status) for o in batch], [o.result for o in batch],
                [o.error for o in batch], [o.retry_delay for o in batch], worker,
            )
            written = {r[0] for r in rows if r[0] is not None}
            fenced.extend(o.id for o in batch if o.id not in written)
        return fenced

    async def renew_leases(
        self, worker: str, job_ids: Sequence[str], lease: float
    ) -> list[LeaseState]:
        rows = await self._fetch(_Q["renew_leases"], worker, lease, list(job_ids))
        return [LeaseState(r[0], r[1], r[2]) for r in rows]

    async def cancel_requests(self, worker: str, job_ids: Sequence[str]) -> list[str]:
        keys = [k for k in map(_uuid_or_none, job_ids) if k is not None]
        return [r[0] for r in await self._fetch(_Q["cancel_requests"], worker, keys)]

    async def rescue_expired_leases(self, gone: Sequence[str] = ()) -> int:
        rows = await self._fetch(_Q["rescue_expired_leases"], LEASE_EXPIRED_MESSAGE, list(gone),
                                 WORKER_GONE_MESSAGE)
        return int(rows[0][0])

    async def hand_back(self, worker: str, jobs: Sequence[tuple[str, int]]) -> int:
        rows = await self._fetch(_Q["hand_back"], [j[0] for j in jobs], [j[1] for j in jobs],
                                 worker)
        return int(rows[0][0])

    async def set_progress(self, job_id: str, attempts: int, worker: str, progress: str) -> bool:
        return await self._execute(_Q["set_progress"], job_id, attempts, progress, worker) == 1

    # -- inspecting and administering ------------------------------------------

    async def get_job(self, job_id: str) -> JobInfo | None:
        key = _uuid_or_none(job_id)
        if key is None:
            return None
        rows = await self._fetch(_Q["get_job"], key)
        return row_to_info(rows[0]) if rows else None

    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobInfo]:
        keys = [k for k in map(_uuid_or_none, job_ids) if k is not None]
        return [row_to_info(r) for r in await self._fetch(_Q["get_jobs"], keys)]

    async def list_jobs(self, job_filter: JobFilter) -> list[JobInfo]:
        args: list[Any] = []

        def bind(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        sql, ascending = list_jobs_sql(
            job_filter, bind, columns=JOB_COLUMNS, id_cast="::uuid",
            running="lease_expires_at IS NOT NULL AND status = 'running'")
        rows = [row_to_info(r) for r in await self._fetch(sql, *args)]
        return rows[::-1] if ascending else rows

    async def delete_job(self, job_id: str) -> str | None:
        key = _uuid_or_none(job_id)
        if key is None:
            return None
        status = await self._fetchval(_Q["delete_job"], key)
        return None if status is None else str(status)

    async def queue_counts(self) -> list[Sequence[Any]]:
        return list(await self._fetch(_Q["queue_counts"]))

    async def recent_finished(self, long: float, short: float) -> list[Sequence[Any]]:
        return list(await self._fetch(_Q["recent_finished"], long, short))

    async def cancel_job(self, job_id: str) -> str | None:
        key = _uuid_or_none(job_id)
        if key is None:
            return None
        rows = await self._fetch(_Q["cancel_job"], key)
        if rows:
            return str(rows[0][0])
        status = await self._fetchval(_Q["job_status"], key)
        return None if status is None else str(status)

    async def retry_job(self, job_id: str) -> bool:
        key = _uuid_or_none(job_id)
        return key is not None and bool(await self._fetch(_Q["retry_job"], key))

    async def stats(self) -> dict[str, dict[str, int]]:
        return group_stats(await self._fetch(_Q["stats"]))

    async def import_jobs(self, jobs: Sequence[ImportedJob]) -> int:
        if not jobs:
            return 0
        columns = [[getattr(j, name) for j in jobs] for name in IMPORTED_COLUMNS]
        rows = await self._run("import", lambda c: c.fetch(_Q["import_jobs"], *columns))
        return len(rows)

    async def count_expired_leases(self, grace: float) -> int:
        return int(await self._fetchval(_Q["expired_leases"], grace))

    async def shift_schedules(self, seconds: float) -> int:
        return await self._execute(_Q["shift_schedules"], seconds)

    async def start_session(self, key: str, ttl: float) -> None:
        await self._execute(_Q["start_session"], key, ttl)

    async def session_alive(self, key: str) -> bool:
        return await self._fetchval(_Q["session_alive"], key) is not None

    async def end_session(self, key: str) -> None:
        await self._execute(_Q["end_session"], key)

    async def has_due(self, queues: Sequence[str] | None) -> bool:
        return bool(await self._fetchval(_Q["has_due"], list(queues) if queues else None))

    async def next_due_in(self) -> float | None:
        value = await self._fetchval(_Q["next_due_in"])
        return None if value is None else float(value)

    async def count_pending(self, queues: Sequence[str] | None) -> int:
        return int(await self._fetchval(_Q["count_pending"], list(queues or [])))

    async def purge(
        self, older_than: float, statuses: Sequence[str], dry_run: bool, batch_size: int
    ) -> int:
        if dry_run:
            return int(await self._fetchval(_Q["count_purgeable"], older_than, list(statuses)))
        return await delete_in_batches(
            lambda: self._execute(_Q["purge_batch"], older_than, list(statuses), batch_size),
            batch_size,
        )

    async def set_paused(self, queue: str, paused: bool) -> None:
        await self._fetch(_Q["set_paused"], queue, paused)

    async def queue_states(self) -> dict[str, bool]:
        return {r[0]: bool(r[1]) for r in await self._fetch(_Q["queue_states"])}

    # -- the workers registry ---------------------------------------------------

    async def register_worker(self, worker: WorkerRegistration, ttl: float) -> None:
        queues = None if worker.queues is None else json.dumps(worker.queues)
        await self._execute(_Q["register_worker"], worker.name, worker.host, worker.pid, queues,
                            worker.concurrency, worker.version, ttl, worker.node)

    async def heartbeat_worker(self, name: str, ttl: float) -> bool:
        return await self._execute(_Q["heartbeat_worker"], name, ttl) == 1

    async def deregister_worker(self, name: str) -> None:
        await self._execute(_Q["deregister_worker"], name)

    async def sweep_workers(self, retention: float) -> tuple[int, int]:
        return (await self._execute(_Q["mark_dead_workers"]),
                await self._execute(_Q["prune_workers"], retention))

    async def list_workers(self, retention: float) -> list[WorkerInfo]:
        return rows_to_workers(await self._fetch(_Q["list_workers"], retention),
                               await self._fetch(_Q["running_jobs_by_worker"]))

    async def advance_tick(self, schedule: str, expected: datetime | None, tick: datetime,
                           jobs: Sequence[tuple[NewJob, str]]) -> list[str] | None:
        async def op(conn: asyncpg.Connection) -> list[str] | None:
            async with conn.transaction():
                won = (await conn.fetchval(_Q["start_schedule"], schedule, tick)
                       if expected is None else
                       await conn.fetchval(_Q["advance_tick"], schedule, tick, expected))
                if won is None:
                    return None
                if not jobs:
                    return []
                ids = await self.insert_jobs([j for j, _ in jobs], connection=conn)
                await conn.executemany(_Q["set_meta"],
                                       [(i, meta) for i, (_, meta) in zip(ids, jobs, strict=True)])
                return ids

        return await self._run("periodic", op)

    async def purge_task(self, task: str, older_than: float, batch_size: int) -> int:
        return await delete_in_batches(
            lambda: self._execute(_Q["purge_task_batch"], task, older_than, batch_size),
            batch_size)

    async def last_ticks(self) -> dict[str, datetime]:
        return {r[0]: r[1] for r in await self._fetch(_Q["last_ticks"])}

    async def workers_on_node(self, node: str) -> list[tuple[str, int]]:
        return [(r[0], int(r[1])) for r in await self._fetch(_Q["workers_on_node"], node)]

    async def listen(
        self, on_new: NewJobHandler, on_done: DoneHandler, on_cancel: CancelHandler | None = None,
        on_handover: HandoverHandler | None = None,
    ) -> PostgresListener | None:
        if not self.supports_notify:
            return None
        listener = PostgresListener(self._connect_args(self._listen_dsn), on_new, on_done,
                                    on_cancel, self._unavailable, on_handover)
        await listener.start()
        return listener


class PostgresListener:
    """Holds one connection LISTENing on both channels, reconnecting with backoff.

    After a reconnect it reports "anything may have changed" (``on_new("*")``,
    ``on_done(None)``), since notifications sent meanwhile were lost.
    """

    def __init__(
        self,
        connect_args: dict[str, Any],
        on_new: NewJobHandler,
        on_done: DoneHandler,
        on_cancel: CancelHandler | None,
        unavailable: Callable[[BaseException], DatabaseUnavailable],
        on_handover: HandoverHandler | None = None,
    ) -> None:
        self._connect_args = connect_args
        self._on_new = on_new
        self._on_done = on_done
        self._on_cancel = on_cancel
        self._on_handover = on_handover
        self._unavailable = unavailable
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None

    def _notified(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        if channel == "aqueue_new":
            self._on_new(payload)
        elif channel == "aqueue_handover":
            if self._on_handover is not None:
                self._on_handover(payload)
        elif channel == "aqueue_cancel":
            if self._on_cancel is not None:
                self._on_cancel(payload)
        else:
            self._on_done(payload.split(",") if payload else None)

    async def _connect(self) -> tuple[asyncpg.Connection, asyncio.Event]:
        lost = asyncio.Event()
        conn = await asyncpg.connect(**self._connect_args)
        try:
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener("aqueue_new", self._notified)
            await conn.add_listener("aqueue_done", self._notified)
            if self._on_cancel is not None:
                await conn.add_listener("aqueue_cancel", self._notified)
            if self._on_handover is not None:
                await conn.add_listener("aqueue_handover", self._notified)
        except BaseException:
            # A connection that cannot LISTEN is of no use: never leak it.
            conn.terminate()
            raise
        self._conn = conn
        return conn, lost

    async def start(self) -> None:
        try:
            first = await self._connect()
        except Exception as exc:
            raise self._unavailable(exc) from None
        self._task = asyncio.create_task(self._keep(first), name="aqueue-listener")

    async def _keep(self, first: tuple[asyncpg.Connection, asyncio.Event]) -> None:
        conn, lost = first
        pause = 0.1
        while True:
            try:
                # A silent network drop never fires the termination listener, so
                # ping now and then.
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 15)
                    if not lost.is_set():
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), 10)
            except Exception as exc:
                log.warning("LISTEN connection failed: %s", self._unavailable(exc))
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)
            while True:
                await asyncio.sleep(pause)
                try:
                    conn, lost = await self._connect()
                    break
                except Exception as exc:
                    pause = min(10.0, pause * 2)
                    log.warning("cannot re-LISTEN, retrying in %.1fs: %s", pause,
                                self._unavailable(exc))
            pause = 0.1
            log.info("LISTEN connection restored")
            self._on_new("*")
            self._on_done(None)

    async def close(self, timeout: float = 2.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=timeout)  # asyncpg drops it past that
