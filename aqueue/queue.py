"""The :class:`Queue`: tasks, a database, and the producer API.

Beside it: ``queue.jobs`` (:class:`~aqueue.jobs.Jobs`, reading, counting and
acting on many jobs) and ``queue.results`` (:class:`~aqueue.results.Results`,
waiting for jobs to finish).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from aqueue import dsn as dsn_module
from aqueue import validation
from aqueue.backends import Backend, create_backend
from aqueue.backends.base import Dependencies, Registry, Schema
from aqueue.dependencies import related_rows, release, write_related
from aqueue.errors import ConfigurationError, SchemaError
from aqueue.health import check as health_check
from aqueue.job import Job
from aqueue.jobs import Jobs
from aqueue.loop_lock import LoopLock
from aqueue.middleware import Middleware
from aqueue.records import JobInfo, NewJob, WorkerInfo
from aqueue.registry import TaskRegistry
from aqueue.replica import Reads
from aqueue.results import Results
from aqueue.retention import retention_policy
from aqueue.sync import SyncBridge, require_no_running_loop
from aqueue.task import (
    JobOptions,
    JobRequest,
    _checked,
    batch_connection,
    job_ids,
    new_jobs,
)
from aqueue.workflows.entry import WorkflowEntry

P = ParamSpec("P")
R = TypeVar("R")

#: A batch enqueue larger than this is encoded and inserted in parts of this
#: size, in one transaction (PostgreSQL overlaps the two).
_ENCODE_BATCH = 2000
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024


class Queue(TaskRegistry, WorkflowEntry):
    """A job queue stored in one database.

    ``dsn`` is ``postgresql://``, ``mysql://`` (or ``mariadb://``) or
    ``sqlite:///path.db``; without one, ``AQUEUE_DSN`` is read, else
    ``sqlite:///aqueue.db`` is used. Use it as ``async with queue:`` to open
    and close its connections; the producer API also opens it on first use.
    ``retention`` (``{"succeeded": "7d", "failed": "30d", "cancelled": "7d"}``)
    has workers delete finished jobs past those ages (see :mod:`aqueue.retention`).
    ``read_dsn`` (or ``AQUEUE_READ_DSN``): a read replica for lists, counts,
    charts and health (see :mod:`aqueue.replica`).
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        pool_size: int = 10,
        default_queue: str = "default",
        retention: Mapping[str, str | float | timedelta] | None = None,
        listen_dsn: str | None = None,
        read_dsn: str | None = None,
    ) -> None:
        self._dsn = dsn_module.parse(dsn_module.resolve(dsn))
        # Where PostgreSQL's LISTEN connects when not to ``dsn``: the server
        # itself, when ``dsn`` goes through PgBouncer (AQUEUE_LISTEN_DSN).
        self._listen_dsn = dsn_module.listen_dsn(listen_dsn)
        #: Where operators' reads go: the read replica, if any (see :mod:`aqueue.replica`).
        self.reads = Reads(self, dsn_module.read_dsn(read_dsn, self._dsn))
        #: Seconds finished jobs are kept, per final status; unlisted ones are kept.
        self.retention = retention_policy(retention or {})
        if max_payload_bytes < 1:
            raise ConfigurationError("max_payload_bytes must be positive")
        self.max_payload_bytes = max_payload_bytes
        self.pool_size = pool_size
        TaskRegistry.__init__(self, _checked(JobOptions(), queue=default_queue))
        self._backend: Backend | None = None
        self._open_lock = LoopLock()
        self._opened = False
        #: Callbacks run when this process enqueues jobs (in-process wake-up).
        self.enqueue_hooks: list[Callable[[str], None]] = []
        #: Wrappers around each job's execution and each enqueue (see
        #: :mod:`aqueue.middleware`): ``@queue.middleware``, ``@queue.middleware.enqueue``.
        self.middleware = Middleware()
        self._sync_bridge: SyncBridge | None = None
        #: Reading, counting and acting on many jobs (see :mod:`aqueue.jobs`).
        self.jobs = Jobs(self)
        #: Waiting for jobs to finish (see :mod:`aqueue.results`).
        self.results = Results(self)

    def __repr__(self) -> str:
        return f"<aqueue.Queue {self._dsn}>"

    @property
    def dsn(self) -> str:
        """The DSN in use, with any password hidden."""
        return str(self._dsn)

    @property
    def dialect(self) -> str:
        return self._dsn.dialect

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite database's file; None for a server database or ``:memory:``."""
        if self._dsn.dialect != "sqlite" or self._dsn.database == ":memory:":
            return None
        return self._dsn.database

    def use_dsn(
        self, dsn: str | None, listen_dsn: str | None = None, read_dsn: str | None = None
    ) -> str:
        """Point a queue that is not open yet at another database (``--dsn``;
        None keeps it), LISTEN connection (``--listen-dsn``) and read replica
        (``--read-dsn``); the DSN it replaced, as it was given (to put back,
        as :mod:`aqueue.testing` does)."""
        if self._opened:
            raise ConfigurationError("cannot change the DSN of an open queue")
        replaced = self._dsn.raw
        if dsn is not None:
            self._dsn = dsn_module.parse(dsn)
        if listen_dsn is not None:
            self._listen_dsn = dsn_module.listen_dsn(listen_dsn)
        if dsn is not None or read_dsn is not None:
            self.reads = Reads(self, dsn_module.read_dsn(read_dsn or self.reads.raw_dsn, self._dsn))
        self._backend = None
        self.close_sync()  # sync calls run on a twin made with the DSN of its time
        self._sync_bridge = None
        return replaced

    @property
    def backend(self) -> Backend:
        """The database behind this queue (see :mod:`aqueue.backends.base`)."""
        if self._backend is None:
            self._backend = create_backend(
                self._dsn, release=release, pool_size=self.pool_size, listen_dsn=self._listen_dsn
            )
        return self._backend

    # -- connections -----------------------------------------------------------

    async def open(self) -> None:
        """Connect. SQLite databases are migrated on open (zero set-up)."""
        async with self._open_lock():
            if self._opened:
                return
            backend = self.backend
            await backend.open()
            try:
                if isinstance(backend, Schema) and backend.migrates_on_open:
                    await backend.migrate()
            except BaseException:
                await backend.close()
                raise
            self._opened = True

    async def close(self, timeout: float = 3.0) -> None:
        """Close every connection: gracefully within ``timeout`` seconds, then by
        dropping them, so that an unreachable database never holds up an exit."""
        async with self._open_lock():
            end = asyncio.get_running_loop().time() + timeout
            await self.results.close(timeout)
            await self.reads.close(timeout)
            if self._backend is not None:
                await self._backend.close(max(0.05, end - asyncio.get_running_loop().time()))
            self._opened = False

    async def __aenter__(self) -> Queue:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _schema(self) -> Schema:
        await self.open()
        backend = self.backend
        if not isinstance(backend, Schema):
            raise ConfigurationError(f"{self.dsn} has no migrations")
        return backend

    async def migrate(self) -> list[int]:
        """Create or upgrade aqueue's tables; returns the versions applied."""
        return await (await self._schema()).migrate()

    async def schema_versions(self) -> tuple[int | None, int]:
        """The schema version in the database (None: no tables), and this aqueue's."""
        schema = await self._schema()
        return await schema.schema_version(), schema.latest_version()

    async def check_schema(self) -> None:
        """Raise :class:`SchemaError` unless the schema is this version's."""
        found, wanted = await self.schema_versions()
        if found is None:
            raise SchemaError(f"aqueue's tables are missing in {self.dsn}: run `aqueue migrate`")
        if found < wanted:
            raise SchemaError(
                f"the schema in {self.dsn} is at version {found}, this aqueue needs {wanted}: "
                "run `aqueue migrate`"
            )

    # -- producing ---------------------------------------------------------------

    async def enqueue(self, task_name: str, /, *args: Any, **kwargs: Any) -> Job[Any]:
        """Queue a job for the task called ``task_name`` (registered here or not)."""
        return await self.task_named(task_name).enqueue(*args, **kwargs)

    async def enqueue_many(
        self, requests: Iterable[JobRequest], *, connection: Any = None
    ) -> list[Job[Any]]:
        """Queue many jobs in one round trip; build them with ``task.prepare(...)``.

        Every argument is checked first: one bad job and nothing is written.
        ``connection`` writes them on the caller's own connection and
        transaction: an asyncpg, aiomysql or aiosqlite connection, or a
        :class:`~aqueue.backends.base.CallerConnection` (a DB-API connection,
        as Django's backend passes); the enqueue middleware runs either way.
        """
        requests = list(requests)
        if not requests:
            return []
        if self.middleware.enqueues:

            async def write(changed: list[JobRequest]) -> list[Job[Any]]:
                return await self._write(list(changed), connection)

            return await self.middleware.run_enqueue(requests, write)
        return await self._write(requests, connection)

    async def _write(self, requests: list[JobRequest], connection: Any) -> list[Job[Any]]:
        if not requests:
            return []
        connection = batch_connection(requests, connection)
        # On the caller's connection nothing of aqueue's own is needed: no pool
        # is opened (a caller's thread and loop may be of its own, as Django's).
        backend = self.backend if connection is not None else await self._ready()
        queues: set[str] = set()
        # Requests prepared alike share one options object: look at each once.
        options = {id(r.options): r.options for r in requests}.values()
        if any(o.unique_rule for o in options):
            from aqueue import uniqueness  # only for producers that use it

            ids = await uniqueness.write(
                backend, requests, connection, self.max_payload_bytes, self._write
            )
            queues = {r.options.queue for r in requests}
        elif any(o.relates for o in options):
            if not isinstance(backend, Dependencies):
                raise ConfigurationError(f"{self.dsn} cannot hold jobs that wait for others")
            ids = job_ids(requests)
            rows = new_jobs(requests, self.max_payload_bytes, ids)
            related = related_rows(requests, ids)
            queues = {row.kind.queue for row in rows}
            ids = await backend.insert_dependent_jobs(
                rows, related, write_related, connection=connection
            )
        elif connection is None and len(requests) > _ENCODE_BATCH:
            # Encode in parts inside one transaction, so that the database
            # inserts one part while Python encodes the next. (Ids only ever
            # increase, so the parts keep the batch's order.)

            def parts() -> Iterator[list[NewJob]]:
                for first in range(0, len(requests), _ENCODE_BATCH):
                    part = requests[first : first + _ENCODE_BATCH]
                    rows = new_jobs(part, self.max_payload_bytes, job_ids(part))
                    queues.update(row.kind.queue for row in rows)
                    yield rows

            ids = await backend.insert_job_batches(parts())
        else:
            rows = new_jobs(requests, self.max_payload_bytes)
            queues = {row.kind.queue for row in rows}
            ids = await backend.insert_jobs(rows, connection=connection)
        for queue_name in queues:
            for hook in self.enqueue_hooks:
                hook(queue_name)
        return [Job(self, job_id) for job_id in ids]

    async def signal(self, job_id: str, name: str, payload: Any = None) -> bool:
        """Send the signal ``name`` (a JSON ``payload``) to a queued or running
        job, for its ``await ctx.wait_for(name)``: kept until the job is
        deleted, so one sent before the wait is not lost, and a job parked
        waiting for it runs at once. False for a missing or finished job, or
        one that had a signal of that name already (the first stays)."""
        from aqueue.steps import send_signal

        return await send_signal(await self._ready(), job_id, name, payload)

    async def _ready(self) -> Backend:
        if not self._opened:
            await self.open()
        return self.backend

    # -- producing from sync code ------------------------------------------------

    def sync_bridge(self) -> SyncBridge:
        """The private loop sync calls run on (see :mod:`aqueue.sync`)."""
        if self._dsn.dialect == "sqlite" and self._dsn.database == ":memory:":
            # The twin would get a database of its own: jobs would vanish.
            raise ConfigurationError(
                "sync calls cannot use an in-memory SQLite database (it "
                "is private to one connection, and sync calls use "
                "their own): use a file, sqlite:///path"
            )
        if self._sync_bridge is None:

            def twin() -> Queue:
                copy = Queue(
                    self._dsn.raw,
                    max_payload_bytes=self.max_payload_bytes,
                    pool_size=self.pool_size,
                    default_queue=self.default_options.queue,
                    listen_dsn=self._listen_dsn.raw if self._listen_dsn else None,
                    read_dsn=self.reads.raw_dsn,
                )
                copy.tasks = self.tasks
                copy.middleware = self.middleware
                copy.task_resolver = self.task_resolver
                return copy

            self._sync_bridge = SyncBridge(twin)
        return self._sync_bridge

    def enqueue_sync(self, task_name: str, /, *args: Any, **kwargs: Any) -> Job[Any]:
        """:meth:`enqueue` for code without an event loop; durable once it returns."""
        return self.task_named(task_name).enqueue_sync(*args, **kwargs)

    def get_job_sync(self, job_id: str) -> JobInfo | None:
        """:meth:`get_job` for code without an event loop."""
        require_no_running_loop("get_job_sync()", "await queue.get_job()")
        return self.sync_bridge().call(lambda q: q.get_job(job_id))

    def close_sync(self) -> None:
        """Close the connections sync calls opened (also done at exit)."""
        if self._sync_bridge is not None:
            self._sync_bridge.close()

    # -- one job, queues, workers ----------------------------------------------------

    def job(self, job_id: str) -> Job[Any]:
        """A handle on an existing job by id."""
        return Job(self, job_id)

    async def get_job(self, job_id: str) -> JobInfo | None:
        """A snapshot of the job, or ``None`` for an id this database does not hold.
        A job enqueued ``after`` others names them (``depends_on``, ``waiting_for``)."""
        backend = await self._ready()
        info = await backend.get_job(str(job_id))
        if info is not None and info.waiting is not None and isinstance(backend, Dependencies):
            parents = await backend.job_parents(info.id)
            info = replace(
                info,
                depends_on=tuple(p for p, _ in parents),
                waiting_for=tuple(p for p, ended in parents if not ended),
            )
        return info

    async def pause(self, queue: str) -> None:
        """Stop every worker claiming ``queue``'s jobs (running ones finish).

        Enqueue still works; the pause holds across restarts until :meth:`resume`.
        """
        await self.jobs.set_paused(validation.check_name("queue", queue), True)

    async def resume(self, queue: str) -> None:
        """Let workers claim ``queue``'s jobs again (on PostgreSQL they wake at once)."""
        name = validation.check_name("queue", queue)
        await self.jobs.set_paused(name, False)
        for hook in self.enqueue_hooks:
            hook(name)

    async def paused(self) -> list[str]:
        """The queues paused now."""
        return [name for name, paused in (await self.jobs.queue_states()).items() if paused]

    async def workers(self) -> list[WorkerInfo]:
        """The workers registry: running workers first, each with its running jobs;
        stopped and dead ones for an hour after they went."""
        from aqueue._worker.heartbeat import RETENTION_SECONDS

        backend = await self.reads.backend()
        if not isinstance(backend, Registry):
            return []
        return await backend.list_workers(RETENTION_SECONDS)

    #: ``await queue.health(...)``: check the database, schema, waiting jobs,
    #: leases, workers and replica lag (see :func:`aqueue.health.check`); never
    #: raises for an unreachable database.
    health = health_check

    # -- processing without a worker process ---------------------------------------

    async def process(self, limit: int, *, queues: Sequence[str] | None = None) -> int:
        """Run up to ``limit`` due jobs in this process; return how many ran."""
        from aqueue.worker import Worker

        worker = Worker(
            self,
            concurrency=min(max(limit, 1), 10),
            queues=queues,
            burst=True,
            max_jobs=limit,
            register=False,
        )
        await worker.run()
        return worker.processed_count

    async def drain(
        self, *, queues: Sequence[str] | None = None, max_jobs: int | None = None
    ) -> int:
        """Run due jobs here until none is due, including those that become
        due meanwhile (jobs they enqueue, retries without a back-off); return
        how many attempts ran (at most ``max_jobs``)."""
        ran = 0
        while max_jobs is None or ran < max_jobs:
            done = await self.process(
                1000 if max_jobs is None else min(1000, max_jobs - ran), queues=queues
            )
            ran += done
            if done == 0:
                break
        return ran

    async def process_one(self, *, queues: Sequence[str] | None = None) -> JobInfo | None:
        """Run the next due job, if any, and return it as it ended."""
        from aqueue.worker import Worker

        worker = Worker(self, concurrency=1, queues=queues, burst=True, max_jobs=1, register=False)
        await worker.run()
        return await self.get_job(worker.processed[0]) if worker.processed else None
