"""PostgreSQL (asyncpg): the connection plumbing, the schema, and the core
every backend has (insert, claim, complete, renew, rescue, read).

One pooled connection is kept out of the pool between calls for the next
call that finds it free (a producer enqueueing one job per await, a worker's
claim loop skip the pool's acquire and release); concurrent calls use the
pool. Every call goes through :meth:`PostgresCore._run`, the one place driver
errors are translated (see :func:`aqueue.backends.common.at_edge`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import asyncpg

from aqueue.backends.base import CallerConnection
from aqueue.backends.common import (
    JOB_COLUMNS,
    LEASE_EXPIRED_MESSAGE,
    WORKER_GONE_MESSAGE,
    Replayable,
    at_edge,
    claimed_jobs,
    insert_resolving_unique_keys,
    insert_through,
    resolve_unique_keys,
    row_to_info,
)
from aqueue.backends.sqlfile import (
    Queries,
    latest_version,
    load_migrations,
    load_queries,
    load_statements,
)
from aqueue.dsn import DSN, command_timeout, postgres_options
from aqueue.errors import AqueueError, DatabaseUnavailable, SchemaError
from aqueue.records import (
    ClaimedJob,
    JobInfo,
    JobKind,
    LeaseState,
    NewJob,
    Outcome,
)

T = TypeVar("T")
log = logging.getLogger("aqueue.backend")
_PACKAGE = __package__ or "aqueue.backends.postgres"
_RAW = load_queries(_PACKAGE)
#: The named statements of queries.sql, placeholders filled.
SQL = Queries(_RAW, JOB_COLUMNS=JOB_COLUMNS, BATCH_ROWS=_RAW["batch_rows"])
# Jobs without unique keys cannot conflict, and ON CONFLICT's speculative
# insertion costs ~12 % of a 20,000-job insert: each insert has a form without it.
_ON_CONFLICT = (
    "ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL "
    "AND status IN ('queued', 'running') DO NOTHING"
)
_INSERT_JOB = SQL.render("insert_job", IF_UNIQUE_KEYS="")
_INSERT_JOB_UNIQUE = SQL.render("insert_job", IF_UNIQUE_KEYS=_ON_CONFLICT)
_INSERT_JOB_OFFERED = SQL["insert_job_offered"]
_INSERT_JOBS = SQL["insert_jobs"]
_INSERT_JOBS_UNIQUE = SQL.render("insert_jobs_unique", IF_UNIQUE_KEYS=_ON_CONFLICT)
# insert_job in the %(name)s style of sync drivers (psycopg under Django).
_DBAPI_INSERT_JOB = re.sub(r"\$(\d+)", r"%(p\1)s", _INSERT_JOB)


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


#: After an enqueue that found no idle worker's offer standing, producers
#: write plain queued jobs this long before looking again (aqueue/offers.py):
#: a busy system pays for the look-up once a second, not on every enqueue.
NO_OFFER_SECONDS = 1.0


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
    return isinstance(exc, asyncpg.exceptions.InternalClientError) and str(exc).startswith(
        "cannot switch to state"
    )


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT) or _never_sent(exc)


def uuid_or_none(job_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(job_id))
    except ValueError:
        return None


def _row(j: NewJob) -> tuple[Any, ...]:
    """One job's parameters, in the order of the single-row inserts."""
    return (
        j.id,
        j.task,
        j.queue,
        j.priority,
        j.args,
        j.kwargs,
        j.max_attempts,
        j.timeout,
        j.unique_key,
        j.delay,
        j.run_at,
        j.meta,
        j.limit_key,
    )


class PostgresCore:
    """Jobs in ``aqueue_jobs``; a pool for queries (one connection kept out of it)."""

    dialect = "postgresql"
    # Only when LISTEN fails (or is not to be had, as behind PgBouncer without
    # a listen DSN) does an idle worker probe, ten times a second.
    idle_probe_interval = 0.1
    migrates_on_open = False

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
                min_size=1,
                max_size=self._pool_size,
                command_timeout=command_timeout(self._dsn),
                reset=_reset_connection,
                **self._connect_args(),
                **extra,
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
        self,
        what: str,
        operation: Callable[[asyncpg.Connection], Awaitable[T]],
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
                broken = (
                    not isinstance(exc, asyncpg.PostgresError)
                    or isinstance(exc, _UNAVAILABLE)
                    or conn.is_in_transaction()
                )
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
            elif (
                self._kept is None
                and self._pool_size > 1
                and self._pool is pool
                and not conn.is_in_transaction()
            ):
                self._kept = conn
            else:
                # A healthy connection's reset is at most a ROLLBACK: no timer needed.
                await pool.release(conn)
            return result

        return await at_edge(
            once,
            what=what,
            is_transient=_is_transient,
            translate=self._translate,
            borrowed=connection is not None,
        )

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
                pending = [m for m in load_migrations(_PACKAGE) if m.version not in done]
                for migration in pending:
                    async with conn.transaction():
                        statements = migration.statements
                        if migration is pending[-1]:
                            # The functions' one definition (functions.sql), with
                            # the run's last step: a run that dies before it
                            # leaves that step to do again, functions included.
                            statements += load_statements(_PACKAGE, "functions.sql")
                        for statement in statements:
                            await conn.execute(statement)
                        await conn.execute(
                            "INSERT INTO aqueue_migrations (version, name) VALUES ($1, $2)",
                            migration.version,
                            migration.name,
                        )
                    applied.append(migration.version)
            finally:
                if not self._bouncer:
                    await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
            return applied

        return await self._run("migrate", op)

    def latest_version(self) -> int:
        return latest_version(_PACKAGE)

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
            [j.id for j in batch],
            [j.args for j in batch],
            None if all(k == "{}" for k in kwargs) else kwargs,
            None if all(k is None for k in keys) else keys,
            kind_of,
            [k.task for k in kinds],
            [k.queue for k in kinds],
            [k.priority for k in kinds],
            [k.max_attempts for k in kinds],
            [k.timeout for k in kinds],
            [k.delay for k in kinds],
            [k.run_at for k in kinds],
            [k.meta for k in kinds],
            [k.limit_key for k in kinds],
        )

    async def _insert(self, batch: Sequence[NewJob], connection: Any = None) -> None:
        if len(batch) == 1:
            j = batch[0]
            if (
                connection is None
                and j.can_hand_over()
                and time.monotonic() >= self._no_offer_until
            ):
                # On the caller's connection its transaction could outlast the
                # attempt's lease before the worker hears of it: never there.
                taken = await self._run(
                    "insert",
                    lambda c: c.fetchval(
                        _INSERT_JOB_OFFERED,
                        j.id,
                        j.task,
                        j.queue,
                        j.priority,
                        j.args,
                        j.kwargs,
                        j.max_attempts,
                        j.timeout,
                        j.meta,
                        j.delay,
                    ),
                )
                if not taken:
                    self._no_offer_until = time.monotonic() + NO_OFFER_SECONDS
                return
            sql = _INSERT_JOB if j.unique_key is None else _INSERT_JOB_UNIQUE
            await self._run(
                "insert",
                lambda c: c.execute(sql, *_row(j)),
                connection,
            )
            return
        columns = self._batch_columns(batch)
        await self._run(
            "insert", lambda c: c.execute(_insert_jobs_sql(columns), *columns), connection
        )

    async def _holders(
        self, keys: list[str], ids: list[str], connection: Any = None
    ) -> list[tuple[str | None, str]]:
        rows = await self._run(
            "insert", lambda c: c.fetch(SQL["key_holders"], keys, ids), connection
        )
        return [(r[0], r[1]) for r in rows]

    async def insert_jobs(self, jobs: Sequence[NewJob], connection: Any = None) -> list[str]:
        if isinstance(connection, CallerConnection):
            # psycopg under Django: the enqueue's NOTIFY goes at its commit.
            return await insert_through(
                connection,
                _DBAPI_INSERT_JOB,
                [{f"p{n}": v for n, v in enumerate(_row(j), 1)} for j in jobs],
                jobs,
            )
        return await insert_resolving_unique_keys(
            jobs,
            lambda batch: self._insert(batch, connection),
            lambda keys, ids: self._holders(keys, ids, connection),
        )

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
                            conn.execute(_insert_jobs_sql(columns), *columns)
                        )
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
        rows = await self._fetch(
            SQL["claim_jobs"], worker, limit, lease, list(queues) if queues else None
        )
        return claimed_jobs(rows)

    async def complete_jobs(self, worker: str, outcomes: Sequence[Outcome]) -> list[str]:
        fenced: list[str] = []
        for start in range(0, len(outcomes), _MAX_COMPLETE_BATCH):
            batch = outcomes[start : start + _MAX_COMPLETE_BATCH]
            args: list[Any] = [
                [o.id for o in batch],
                [o.attempts for o in batch],
                ["snoozed" if o.snoozed else str(o.status) for o in batch],
                [o.result for o in batch],
                [o.error for o in batch],
                [o.retry_delay for o in batch],
                worker,
            ]
            outputs = [o.output for o in batch if o.output is not None]
            if outputs:  # stored by the same statement
                args += [
                    [o.job_id for o in outputs],
                    [o.id for o in outputs],
                    [o.attempt for o in outputs],
                    [o.text for o in outputs],
                    [o.cut for o in outputs],
                ]
            query = "complete_jobs_with_output" if outputs else "complete_jobs"
            rows = await self._fetch(SQL[query], *args)
            written = {r[0] for r in rows if r[0] is not None}
            fenced.extend(o.id for o in batch if o.id not in written)
        return fenced

    async def renew_leases(
        self, worker: str, job_ids: Sequence[str], lease: float
    ) -> list[LeaseState]:
        rows = await self._fetch(SQL["renew_leases"], worker, lease, list(job_ids))
        return [LeaseState(r[0], r[1], r[2]) for r in rows]

    async def cancel_requests(self, worker: str, job_ids: Sequence[str]) -> list[str]:
        keys = [k for k in map(uuid_or_none, job_ids) if k is not None]
        return [r[0] for r in await self._fetch(SQL["cancel_requests"], worker, keys)]

    async def rescue_expired_leases(self, gone: Sequence[str] = ()) -> int:
        rows = await self._fetch(
            SQL["rescue_expired_leases"], LEASE_EXPIRED_MESSAGE, list(gone), WORKER_GONE_MESSAGE
        )
        return int(rows[0][0])

    async def hand_back(self, worker: str, jobs: Sequence[tuple[str, int]]) -> int:
        rows = await self._fetch(
            SQL["hand_back"], [j[0] for j in jobs], [j[1] for j in jobs], worker
        )
        return int(rows[0][0])

    async def set_progress(self, job_id: str, attempts: int, worker: str, progress: str) -> bool:
        return await self._execute(SQL["set_progress"], job_id, attempts, progress, worker) == 1

    async def get_job(self, job_id: str) -> JobInfo | None:
        key = uuid_or_none(job_id)
        if key is None:
            return None
        rows = await self._fetch(SQL["get_job"], key)
        return row_to_info(rows[0]) if rows else None

    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobInfo]:
        keys = [k for k in map(uuid_or_none, job_ids) if k is not None]
        return [row_to_info(r) for r in await self._fetch(SQL["get_jobs"], keys)]

    async def has_due(self, queues: Sequence[str] | None) -> bool:
        return bool(await self._fetchval(SQL["has_due"], list(queues) if queues else None))
