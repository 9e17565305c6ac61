"""The :class:`Queue`: tasks, a database, and the producer API."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar, overload

from aqueue import dsn as dsn_module
from aqueue import durations, validation
from aqueue.backends import Backend, create_backend
from aqueue.backends.base import Listener
from aqueue.backends.common import summarize_queues
from aqueue.backoff import Backoff
from aqueue.context import JobContext
from aqueue.dependencies import dependency_edges
from aqueue.errors import ConfigurationError, SchemaError, UnknownTask
from aqueue.health import Health
from aqueue.job import Job
from aqueue.limits import TaskLimit
from aqueue.middleware import Middleware
from aqueue.periodic import CatchUp, Schedule
from aqueue.records import (
    FINAL_STATUS_NAMES,
    FINAL_STATUSES,
    ImportedJob,
    JobFilter,
    JobInfo,
    JobStatus,
    NewJob,
    QueueSummary,
    WorkerInfo,
)
from aqueue.retention import retention_policy
from aqueue.sync import SyncBridge, require_no_running_loop
from aqueue.task import (
    DEFAULT_MAX_ATTEMPTS,
    JobOptions,
    JobRequest,
    Task,
    _checked,
    job_ids,
    new_jobs,
)

P = ParamSpec("P")

#: A batch enqueue larger than this is encoded and inserted in parts of this
#: size, in one transaction (PostgreSQL overlaps the two).
_ENCODE_BATCH = 2000
R = TypeVar("R")

DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024


def _module_name(fn: Callable[..., Any]) -> str:
    # Run as `python -m pkg.mod`, a module calls itself __main__ while the
    # worker imports it as pkg.mod: name tasks after the importable name.
    module = fn.__module__
    if module == "__main__":
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if spec is not None and spec.name:
            return str(spec.name)
    return module


class TaskDecorator(Protocol):
    """What ``@queue.task(...)`` with options returns: the decorator proper.

    An ``async def`` task's jobs have the coroutine's result type, so that
    ``await job.result()`` is typed as what the function returns.
    """

    @overload
    def __call__(self, func: Callable[P, Awaitable[R]], /) -> Task[P, R]: ...

    @overload
    def __call__(self, func: Callable[P, R], /) -> Task[P, R]: ...


class ContextTaskDecorator(Protocol):
    """``@queue.task(takes_context=True)``: the function's first parameter is the
    :class:`JobContext`, which callers of ``enqueue`` do not pass."""

    @overload
    def __call__(self, func: Callable[Concatenate[JobContext, P], Awaitable[R]], /
                 ) -> Task[P, R]: ...

    @overload
    def __call__(self, func: Callable[Concatenate[JobContext, P], R], /) -> Task[P, R]: ...


def _listen_dsn(given: str | None) -> dsn_module.DSN | None:
    raw = given or os.environ.get("AQUEUE_LISTEN_DSN")
    if not raw:
        return None
    parsed = dsn_module.parse(raw)
    if parsed.dialect != "postgresql":
        raise ConfigurationError(f"listen_dsn must be a PostgreSQL DSN, not {parsed}")
    return parsed


def _one_connection(requests: Sequence[JobRequest], connection: Any) -> Any:
    """The caller's connection a batch is written on: the one given, or the one
    its jobs were prepared with (``using(connection=...)``). A batch is one
    transaction, so it cannot be split over several connections."""
    named = {id(r.options.connection): r.options.connection for r in requests}
    named.pop(id(None), None)
    if connection is not None:
        named.setdefault(id(connection), connection)
    if len(named) > 1:
        raise ValueError("enqueue_many: the jobs name different connections (using(connection="
                         "...)); a batch is written in one transaction, on one connection")
    if named and any(r.options.connection is None for r in requests) and connection is None:
        raise ValueError("enqueue_many: some jobs name a connection (using(connection=...)) "
                         "and some do not; pass connection= to write them all on it")
    return next(iter(named.values()), None)


class Queue:
    """A job queue stored in one database.

    ``dsn`` is ``postgresql://``, ``mysql://`` (or ``mariadb://``) or
    ``sqlite:///path.db``; without one, ``AQUEUE_DSN`` is read, else
    ``sqlite:///aqueue.db`` is used. Use it as ``async with queue:`` to open
    and close its connections; the producer API also opens it on first use.
    ``retention`` (``{"succeeded": "7d", "failed": "30d", "cancelled": "7d"}``)
    has workers delete finished jobs past those ages (see :mod:`aqueue.retention`).
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
    ) -> None:
        self._dsn = dsn_module.parse(dsn_module.resolve(dsn))
        # Where PostgreSQL's LISTEN connects when not to ``dsn``: the server
        # itself, when ``dsn`` goes through PgBouncer (AQUEUE_LISTEN_DSN).
        self._listen_dsn = _listen_dsn(listen_dsn)
        #: Seconds finished jobs are kept, per final status; unlisted ones are kept.
        self.retention = retention_policy(retention or {})
        if max_payload_bytes < 1:
            raise ConfigurationError("max_payload_bytes must be positive")
        self.max_payload_bytes = max_payload_bytes
        self.pool_size = pool_size
        self.default_options = _checked(JobOptions(), queue=default_queue)
        self.tasks: dict[str, Task[Any, Any]] = {}
        self._backend: Backend | None = None
        self._open_lock = asyncio.Lock()
        self._opened = False
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._done_listener: Listener | None = None
        # One LISTEN connection per queue, however many readers wait at once.
        self._listener_lock = asyncio.Lock()
        #: Callbacks run when this process enqueues jobs (in-process wake-up).
        self.enqueue_hooks: list[Callable[[str], None]] = []
        #: Wrappers around each job's execution and each enqueue (see
        #: :mod:`aqueue.middleware`): ``@queue.middleware``, ``@queue.middleware.enqueue``.
        self.middleware = Middleware()
        #: Cron schedules registered with :meth:`periodic`, kept by every worker.
        self.schedules: list[Schedule] = []
        self._sync_bridge: SyncBridge | None = None
        #: Consulted by workers for a job whose task is not registered: returns
        #: the task for that name (registering it), or None. Integrations whose
        #: tasks are found by name (Django's, by module path) set it.
        self.task_resolver: Callable[[str], Task[..., Any] | None] | None = None

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

    def use_dsn(self, dsn: str | None, listen_dsn: str | None = None) -> None:
        """Point a queue that is not open yet at another database (``--dsn``;
        None keeps it) and LISTEN connection (``--listen-dsn``)."""
        if self._opened:
            raise ConfigurationError("cannot change the DSN of an open queue")
        if dsn is not None:
            self._dsn = dsn_module.parse(dsn)
        if listen_dsn is not None:
            self._listen_dsn = _listen_dsn(listen_dsn)
        self._backend = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = create_backend(self._dsn, pool_size=self.pool_size,
                                           listen_dsn=self._listen_dsn)
        return self._backend

    # -- registering tasks ------------------------------------------------------

    @overload
    def task(self, func: Callable[P, Awaitable[R]], /) -> Task[P, R]: ...

    @overload
    def task(self, func: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(
        self,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        takes_context: Literal[False] = False,
        result_ttl: str | float | timedelta | None = None,
        concurrency: int | None = None,
        rate_limit: str | None = None,
    ) -> TaskDecorator: ...

    @overload
    def task(
        self,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        takes_context: Literal[True],
        result_ttl: str | float | timedelta | None = None,
        concurrency: int | None = None,
        rate_limit: str | None = None,
    ) -> ContextTaskDecorator: ...

    def task(  # type: ignore[misc]  # P is bound by the decorated function
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        takes_context: bool = False,
        result_ttl: str | float | timedelta | None = None,
        concurrency: int | None = None,
        rate_limit: str | None = None,
    ) -> Any:
        """Register a function (async, or sync to run in a thread) as a task.

        The name defaults to ``module.qualname``. ``takes_context=True`` passes
        a :class:`JobContext` as the first argument. ``result_ttl`` (``"1h"``,
        seconds or a timedelta) deletes this task's succeeded jobs that long
        after they finish (workers do it, see :mod:`aqueue.retention`).
        ``concurrency=5`` runs at most 5 of its jobs at once and
        ``rate_limit="100/m"`` (``/s``, ``/h``) starts at most 100 in any minute,
        across all workers; ``task.using(limit_key=...)`` applies them per key
        (see :mod:`aqueue.limits`).
        """
        ttl = None if result_ttl is None else durations.seconds(result_ttl, "result_ttl")
        # Checked here, so that bad limits fail at the decorator, not at first use.
        limit = TaskLimit.of("", concurrency, rate_limit)

        def register(fn: Callable[..., Any]) -> Task[Any, Any]:
            task_name = name or f"{_module_name(fn)}.{fn.__qualname__}"
            options = _checked(
                self.default_options,
                queue=queue if queue is not None else self.default_options.queue,
                priority=priority, max_attempts=max_attempts, timeout=timeout,
                limit_key="" if limit is not None else None,
            )
            task: Task[Any, Any] = Task(
                self, task_name, fn, options, backoff or Backoff(), takes_context, ttl,
                None if limit is None else replace(limit, task=task_name),
            )
            if task_name in self.tasks and self.tasks[task_name].func is not fn:
                raise ConfigurationError(f"a different task is already named {task_name!r}")
            self.tasks[task_name] = task
            return task

        return register(func) if func is not None else register

    def periodic(
        self,
        cron: str,
        *,
        timezone: str = "UTC",
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        catch_up: CatchUp = "latest",
        name: str | None = None,
    ) -> Callable[[Any], Any]:
        """Enqueue the task (or function, registered as a task) on a cron schedule.

        Stack it on ``@queue.task(...)`` or put it on a plain function. Every
        worker keeps the schedule and each tick is enqueued once, however many
        run (see :mod:`aqueue.periodic`). ``catch_up`` says what a worker
        starting after missed ticks enqueues: the ``"latest"`` one, ``"all"``
        (at most 100), or none (``"skip"``). ``name`` keys the schedule in the
        database (default: task, cron and timezone).
        """
        def register(target: Any) -> Any:
            task = target if isinstance(target, Task) else self.task(target)
            if task.queue is not self or task.func is None:
                raise ConfigurationError(f"{task.name!r} is not a task of this queue")
            schedule = Schedule(task.name, cron, timezone, tuple(args), dict(kwargs or {}),
                                catch_up, name or "")
            if any(s.name == schedule.name for s in self.schedules):
                raise ConfigurationError(f"two schedules are named {schedule.name!r}")
            # Bad arguments fail here, at import, not at the first tick.
            new_jobs([task.prepare(*schedule.args, **schedule.kwargs)], self.max_payload_bytes)
            self.schedules.append(schedule)
            return target

        return register

    def find_task(self, name: str) -> Task[..., Any] | None:
        """The task registered as ``name``, or the one :attr:`task_resolver` finds.

        A resolver that raises — even ``SystemExit`` from code it ran — fails
        the one job that named ``name`` (:class:`UnknownTask`), never the worker.
        """
        found = self.tasks.get(name)
        if found is None and self.task_resolver is not None:
            try:
                found = self.task_resolver(name)
            except (Exception, SystemExit, KeyboardInterrupt) as exc:
                raise UnknownTask(f"finding task {name!r} failed: {type(exc).__name__}: "
                                  f"{exc}") from exc
        return found

    def task_named(self, name: str) -> Task[..., Any]:
        """The registered task ``name``, or a reference to it by name for
        producers that do not import the worker's code."""
        if name in self.tasks:
            return self.tasks[name]
        return Task(self, name, None, self.default_options, Backoff())

    # -- connections -----------------------------------------------------------

    async def open(self) -> None:
        """Connect. SQLite databases are migrated on open (zero set-up)."""
        async with self._open_lock:
            if self._opened:
                return
            await self.backend.open()
            try:
                if self.backend.migrates_on_open:
                    await self.backend.migrate()
            except BaseException:
                await self.backend.close()
                raise
            self._opened = True

    async def close(self, timeout: float = 3.0) -> None:
        """Close every connection: gracefully within ``timeout`` seconds, then by
        dropping them, so that an unreachable database never holds up an exit."""
        end = time.monotonic() + timeout
        async with self._open_lock:
            if self._done_listener is not None:
                await self._done_listener.close(max(0.05, end - time.monotonic()))
                self._done_listener = None
            if self._backend is not None:
                await self._backend.close(max(0.05, end - time.monotonic()))
            self._opened = False

    async def __aenter__(self) -> Queue:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _ready(self) -> Backend:
        if not self._opened:
            await self.open()
        return self.backend

    async def migrate(self) -> list[int]:
        """Create or upgrade aqueue's tables; returns the versions applied."""
        backend = await self._ready()
        return await backend.migrate()

    async def schema_versions(self) -> tuple[int | None, int]:
        """The schema version in the database (None: no tables), and this aqueue's."""
        from aqueue.backends.sqlfile import latest_version

        backend = await self._ready()
        found = await backend.schema_version()
        return found, latest_version(type(backend).__module__.rsplit(".", 1)[0])

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
        connection = _one_connection(requests, connection)
        backend = await self._ready()
        queues: set[str] = set()
        if any(r.options.after for r in requests):
            ids = job_ids(requests)
            rows = new_jobs(requests, self.max_payload_bytes, ids)
            edges = dependency_edges(requests, ids)
            queues = {row.kind.queue for row in rows}
            ids = await backend.insert_dependent_jobs(rows, edges, connection=connection)
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

    # -- producing from sync code ------------------------------------------------

    def sync_bridge(self) -> SyncBridge:
        """The private loop sync calls run on (see :mod:`aqueue.sync`)."""
        if self._dsn.dialect == "sqlite" and self._dsn.database == ":memory:":
            # The twin would get a database of its own: jobs would vanish.
            raise ConfigurationError("sync calls cannot use an in-memory SQLite database (it "
                                     "is private to one connection, and sync calls use "
                                     "their own): use a file, sqlite:///path")
        if self._sync_bridge is None:
            def twin() -> Queue:
                copy = Queue(self._dsn.raw, max_payload_bytes=self.max_payload_bytes,
                             pool_size=self.pool_size,
                             default_queue=self.default_options.queue,
                             listen_dsn=self._listen_dsn.raw if self._listen_dsn else None)
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

    # -- reading -------------------------------------------------------------------

    def job(self, job_id: str) -> Job[Any]:
        """A handle on an existing job by id."""
        return Job(self, job_id)

    async def get_job(self, job_id: str) -> JobInfo | None:
        """A snapshot of the job, or ``None`` for an id this database does not hold."""
        backend = await self._ready()
        info = await backend.get_job(str(job_id))
        if info is not None and info.waiting is not None:
            parents = await backend.job_parents(info.id)
            info = replace(
                info, depends_on=tuple(p for p, _ in parents),
                waiting_for=tuple(p for p, ended in parents if not ended))
        return info

    async def list_jobs(self, job_filter: JobFilter | None = None) -> list[JobInfo]:
        """Jobs matching ``job_filter`` (all, by default), newest first.

        Page with the filter's keyset cursors: ``before=<last id shown>`` for
        the next (older) page, ``after=<first id shown>`` for the previous one.
        A bad status, cursor or prefix raises ``ValueError``.
        """
        backend = await self._ready()
        return await backend.list_jobs(validation.check_job_filter(job_filter or JobFilter()))

    async def delete_job(self, job_id: str) -> JobStatus | None:
        """Delete a job that is not running; returns the status it had, or
        ``None`` for an unknown id. A running job is left alone (``running``
        is returned): cancel it, then delete it."""
        backend = await self._ready()
        status = await backend.delete_job(str(job_id))
        if status is not None and status != JobStatus.RUNNING:
            await backend.release_ended([str(job_id)])  # children of a deleted parent
        return None if status is None else JobStatus(status)

    async def retry_jobs(self, job_filter: JobFilter, *, all_jobs: bool = False) -> int:
        """Retry every failed or cancelled job matching ``job_filter`` (all of
        them, page after page, not only ``limit``); returns how many. An empty
        filter is refused unless ``all_jobs=True`` says every job is meant."""
        return await self._for_each_matching(job_filter, ("failed", "cancelled"), self.retry_job,
                                             all_jobs)

    async def cancel_jobs(self, job_filter: JobFilter, *, all_jobs: bool = False) -> int:
        """Cancel every queued job matching ``job_filter`` and ask the workers
        running the matching running ones to stop; returns how many. An empty
        filter is refused unless ``all_jobs=True`` says every job is meant."""
        async def cancel(job_id: str) -> bool:
            return await self.cancel_job(job_id) in (JobStatus.CANCELLED, JobStatus.RUNNING)

        return await self._for_each_matching(job_filter, ("queued", "running"), cancel, all_jobs)

    async def _for_each_matching(self, job_filter: JobFilter, statuses: tuple[str, ...],
                                 act: Callable[[str], Awaitable[bool]], all_jobs: bool) -> int:
        f = validation.check_job_filter(job_filter)
        if not (f.statuses or f.queues or f.tasks or f.id_prefix) and not all_jobs:
            raise ValueError("an empty filter matches every job: pass all_jobs=True to act "
                             "on every job")
        wanted = tuple(s for s in (f.statuses or statuses) if s in statuses)
        if not wanted:
            return 0
        # Walk the matching ids newest first by keyset; acted-on jobs change
        # status, so the cursor, not an offset, keeps the walk exact.
        page = JobFilter(statuses=wanted, queues=f.queues, tasks=f.tasks,
                         id_prefix=f.id_prefix, limit=500)
        done = 0
        while True:
            jobs = await self.list_jobs(page)
            for job in jobs:
                done += await act(job.id)
            if len(jobs) < page.limit:
                return done
            page = replace(page, before=jobs[-1].id)

    async def overview(self) -> list[QueueSummary]:
        """Every queue with active or failed jobs, recent finishes, or a pause
        state: counts, throughput over 5 and 60 minutes and the oldest due job's
        age. Its cost does not grow with the finished history (see
        ``docs/dashboard.md``)."""
        backend = await self._ready()
        states, counts, recent = await asyncio.gather(
            backend.queue_states(), backend.queue_counts(), backend.recent_finished(3600, 300))
        return summarize_queues(states, counts, recent)

    async def cancel_job(self, job_id: str) -> JobStatus | None:
        """Cancel a queued job, or ask the worker running it to stop it.

        Returns the status after the call (``running`` while a running job is
        being stopped), or ``None`` for an unknown id. The worker running it
        stops it within a second on every database (see docs/concepts.md).
        """
        backend = await self._ready()
        status = await backend.cancel_job(str(job_id))
        if status == JobStatus.CANCELLED:
            await backend.release_ended([str(job_id)])  # its waiting children end too
        return None if status is None else JobStatus(status)

    async def retry_job(self, job_id: str) -> bool:
        """Queue a failed or cancelled job again with fresh attempts; False otherwise."""
        backend = await self._ready()
        return await backend.retry_job(str(job_id))

    async def purge(self, older_than: float, statuses: Sequence[str] = FINAL_STATUS_NAMES, *,
                    dry_run: bool = False, batch_size: int = 1000) -> int:
        """Delete jobs that finished over ``older_than`` seconds ago, in batches."""
        bad = [s for s in statuses if s not in FINAL_STATUS_NAMES]
        if bad:
            raise ValueError(f"purge only deletes finished jobs; not: {', '.join(bad)}")
        backend = await self._ready()
        return await backend.purge(older_than, list(statuses), dry_run, batch_size)

    async def pause(self, queue: str) -> None:
        """Stop every worker claiming ``queue``'s jobs (running ones finish).

        Enqueue still works; the pause holds across restarts until :meth:`resume`.
        """
        backend = await self._ready()
        await backend.set_paused(validation.check_name("queue", queue), True)

    async def resume(self, queue: str) -> None:
        """Let workers claim ``queue``'s jobs again (on PostgreSQL they wake at once)."""
        backend = await self._ready()
        name = validation.check_name("queue", queue)
        await backend.set_paused(name, False)
        for hook in self.enqueue_hooks:
            hook(name)

    async def paused(self) -> list[str]:
        """The queues paused now."""
        backend = await self._ready()
        return [name for name, paused in (await backend.queue_states()).items() if paused]

    async def queues(self) -> dict[str, dict[str, Any]]:
        """Every queue with jobs, or ever paused: ``{name: {"paused": bool,
        status: count, ...}}``, in name order."""
        backend = await self._ready()
        states = await backend.queue_states()
        stats = await backend.stats()
        return {name: {"paused": states.get(name, False), **stats.get(name, {})}
                for name in sorted(set(states) | set(stats))}

    async def health(self, *, max_queued_age: float = 300.0, min_workers: int = 0,
                     lease_grace: float = 60.0, timeout: float = 10.0) -> Health:
        """Check the database, schema, waiting jobs, leases and workers (see
        :mod:`aqueue.health`); never raises for an unreachable database."""
        from aqueue.health import check

        return await check(self, max_queued_age=max_queued_age, min_workers=min_workers,
                           lease_grace=lease_grace, timeout=timeout)

    async def workers(self) -> list[WorkerInfo]:
        """The workers registry: running workers first, each with its running jobs;
        stopped and dead ones for an hour after they went."""
        from aqueue.heartbeat import RETENTION_SECONDS

        backend = await self._ready()
        return await backend.list_workers(RETENTION_SECONDS)

    async def import_jobs(self, jobs: Sequence[ImportedJob]) -> int:
        """Insert whole job rows (see :mod:`aqueue.transfer`), leaving alone those
        whose id is already here; how many went in."""
        backend = await self._ready()
        return await backend.import_jobs(jobs)

    async def stats(self) -> dict[str, dict[str, int]]:
        """``{queue: {status: count}}`` over every job in the table."""
        backend = await self._ready()
        return await backend.stats()

    async def count_pending(self, queue: str | Sequence[str] | None = None) -> int:
        """Queued jobs, due or not, in ``queue`` (a name or several; all when None)."""
        backend = await self._ready()
        queues = [queue] if isinstance(queue, str) else queue
        return await backend.count_pending(queues)

    async def wait_until_finished(self, job_id: str, timeout: float | None = None) -> JobInfo:
        """Wait for the job to reach a final status; ``TimeoutError`` after ``timeout``."""
        backend = await self._ready()
        deadline = None if timeout is None else time.monotonic() + timeout
        event = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)
        try:
            if backend.supports_notify and self._done_listener is None:
                async with self._listener_lock:
                    if self._done_listener is None:
                        self._done_listener = await backend.listen(lambda _q: None,
                                                                   self.notify_done)
            # Without notifications this polls, slowly backing off; with them
            # the poll is only a safety net.
            pause = 0.01
            cap = 2.0 if self._done_listener is not None else 0.5
            while True:
                event.clear()
                info = await backend.get_job(job_id)
                if info is None:
                    from aqueue.errors import JobNotFound

                    raise JobNotFound(f"no job {job_id} (never enqueued, or purged)")
                if info.status in FINAL_STATUSES:
                    return info
                wait = pause
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"job {job_id} did not finish within {timeout}s")
                    wait = min(wait, left)
                try:
                    await asyncio.wait_for(event.wait(), wait)
                except TimeoutError:
                    pause = min(cap, pause * 1.5)
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]

    def notify_done(self, job_ids: list[str] | None) -> None:
        """Wake result readers of ``job_ids`` (all of them for ``None``)."""
        if job_ids is None:
            for events in self._waiters.values():
                for event in events:
                    event.set()
            return
        for job_id in job_ids:
            for event in self._waiters.get(job_id, ()):
                event.set()

    # -- processing without a worker process ---------------------------------------

    async def process(self, limit: int, *, queues: Sequence[str] | None = None) -> int:
        """Run up to ``limit`` due jobs in this process; return how many ran."""
        from aqueue.worker import Worker

        worker = Worker(self, concurrency=min(max(limit, 1), 10), queues=queues, burst=True,
                        max_jobs=limit, register=False)
        await worker.run()
        return worker.processed_count

    async def drain(self, *, queues: Sequence[str] | None = None,
                    max_jobs: int | None = None) -> int:
        """Run due jobs here until none is due, including those that become
        due meanwhile (jobs they enqueue, retries without a back-off); return
        how many attempts ran (at most ``max_jobs``)."""
        ran = 0
        while max_jobs is None or ran < max_jobs:
            batch = 1000 if max_jobs is None else min(1000, max_jobs - ran)
            done = await self.process(batch, queues=queues)
            ran += done
            if done == 0:
                break
        return ran

    async def process_one(self, *, queues: Sequence[str] | None = None) -> JobInfo | None:
        """Run the next due job, if any, and return it as it ended."""
        from aqueue.worker import Worker

        worker = Worker(self, concurrency=1, queues=queues, burst=True, max_jobs=1,
                        register=False)
        await worker.run()
        if not worker.processed:
            return None
        return await self.get_job(worker.processed[0])
