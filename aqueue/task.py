"""Tasks: functions registered on a queue, and the options their jobs carry."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
)

from aqueue import durations, serialization, validation
from aqueue.backoff import Backoff
from aqueue.ids import new_job_ids
from aqueue.records import (
    WAITING_UNTIL,
    JobKind,
    NewJob,
    OnConflict,
    OnParentFailure,
    TaskLimit,
    group_tag,
)
from aqueue.serialization import encode_arguments

if TYPE_CHECKING:
    from aqueue.context import JobContext
    from aqueue.job import Job
    from aqueue.queue import Queue

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_ATTEMPTS = 3


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
    def __call__(
        self, func: Callable[Concatenate[JobContext, P], Awaitable[R]], /
    ) -> Task[P, R]: ...

    @overload
    def __call__(self, func: Callable[Concatenate[JobContext, P], R], /) -> Task[P, R]: ...


@dataclass(frozen=True, slots=True)
class JobOptions:
    """Options a job is enqueued with. Set on the task, or per call with ``using``."""

    queue: str = "default"
    priority: int = 0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout: float | None = None
    unique_key: str | None = None
    delay: float = 0.0
    run_after: datetime | None = None
    connection: Any = None
    #: JSON text of an object stored with the job as ``meta`` (``JobInfo.meta``,
    #: ``JobContext.meta``): what enqueue middleware records, such as
    #: :mod:`aqueue.tracing`'s trace context. Not set through ``using``.
    meta: str | None = None
    #: The key the task's concurrency and rate limits count this job under
    #: (``""``: the task as a whole); None for tasks without limits.
    limit_key: str | None = None
    #: The ids of the jobs this one waits for; see :mod:`aqueue.dependencies`.
    after: tuple[str, ...] = ()
    #: What a parent's failure or cancellation does to this job.
    on_parent_failure: OnParentFailure = "cancel"
    #: Its tags: jobs are found by tag with an index lookup (``queue.jobs.list(tag=...)``).
    tags: tuple[str, ...] = ()
    #: The workflow groups it belongs to (set by :mod:`aqueue.workflows`, not ``using``).
    groups: tuple[str, ...] = ()
    #: Seconds its unique key stays held after it is enqueued (see :mod:`aqueue.uniqueness`).
    unique_for: float | None = None
    #: The statuses of the holder of its key that keep the key held.
    unique_states: tuple[str, ...] | None = None
    #: When its key is held by a queued job: keep that job as it is, or give
    #: it this job's arguments and due time (``"replace"``: a debounce).
    on_conflict: OnConflict = "keep"
    #: The open batch it joins (set by ``Batch.add``, not ``using``).
    batch: str | None = None
    #: ``(batch id, "success" | "failure" | "complete")``: it is that batch's
    #: callback, held until the batch is closed (set by ``open_batch``).
    callback_for: tuple[str, str] | None = None

    @property
    def unique_rule(self) -> bool:
        """Whether its key is held by the rules of :mod:`aqueue.uniqueness`
        (for a period, past a job's end, or replaced) rather than only while
        a job holding it is queued or running."""
        return (
            self.unique_for is not None
            or self.unique_states is not None
            or self.on_conflict != "keep"
        )

    @property
    def relates(self) -> bool:
        """Whether rows beside the job's own are written with it (edges, tags, batches)."""
        return bool(self.after or self.tags or self.groups or self.batch or self.callback_for)

    def tag_rows(self, job_id: str) -> list[tuple[str, str]]:
        """The ``(job id, tag)`` rows stored for a job with these options."""
        rows = [(job_id, tag) for tag in self.tags]
        rows += [(job_id, group_tag(g)) for g in self.groups]
        return rows


def _check_after(value: object) -> tuple[str, ...]:
    from aqueue.job import Job

    if isinstance(value, str | Job | JobRequest):
        value = [value]
    if not isinstance(value, list | tuple | set | frozenset):
        raise TypeError(f"after must be a list of jobs or job ids, not {type(value).__name__}")
    parents: list[str] = []
    for item in value:
        if isinstance(item, Job):
            parents.append(item.id)
        elif isinstance(item, JobRequest):
            # A request named as a parent gets its id now, so the child can
            # hold it whichever batch the parent is written in.
            if item.job_id is None:
                item.job_id = new_job_ids(1)[0]
            parents.append(item.job_id)
        elif isinstance(item, str) and item:
            parents.append(validation.check_name("job id", item))
        else:
            raise TypeError(f"after takes jobs, job ids or prepared requests, not {item!r}")
    return tuple(dict.fromkeys(parents))


def _check_on_conflict(value: object) -> OnConflict:
    if value not in ("keep", "replace"):
        raise ValueError(f"on_conflict must be 'keep' or 'replace', not {value!r}")
    return value


def _check_on_parent_failure(value: object) -> OnParentFailure:
    if value not in ("cancel", "run"):
        raise ValueError(f"on_parent_failure must be 'cancel' or 'run', not {value!r}")
    return value


#: Where a task's jobs run: ``"process"`` (a child process), or None (the worker).
Isolation = Literal["process"] | None


def check_isolation(value: object) -> Isolation:
    if value is None:
        return None
    if value == "process":
        return "process"
    raise ValueError(f"isolation must be 'process' or None, not {value!r}")


_UNSET: Any = object()


def _checked(options: JobOptions, **changes: Any) -> JobOptions:
    checks: dict[str, Callable[[Any], Any]] = {
        "queue": lambda v: validation.check_name("queue", v),
        "priority": validation.check_priority,
        "max_attempts": validation.check_max_attempts,
        "timeout": validation.check_timeout,
        "unique_key": validation.check_unique_key,
        "delay": validation.check_delay,
        "run_after": lambda v: None if v is None else validation.check_run_after(v),
        "connection": lambda v: v,
        "limit_key": validation.check_limit_key,
        "after": _check_after,
        "on_parent_failure": _check_on_parent_failure,
        "tags": validation.check_tags,
        "unique_for": lambda v: None if v is None else durations.seconds(v, "unique_for"),
        "unique_states": validation.check_unique_states,
        "on_conflict": _check_on_conflict,
    }
    clean = {k: checks[k](v) for k, v in changes.items() if v is not _UNSET}
    if clean.get("run_after") is not None and clean.get("delay"):
        raise ValueError("give either delay or run_after, not both")
    options = dataclasses.replace(options, **clean)
    if options.unique_rule and options.unique_key is None:
        raise ValueError(
            "unique_for, unique_states and on_conflict apply to a unique_key: give one"
        )
    if options.after and (options.delay or options.run_after is not None):
        raise ValueError(
            "a job with after= becomes due when its parents end: "
            "delay and run_after do not apply to it"
        )
    return options


# Not frozen (a frozen dataclass sets each field through object.__setattr__,
# and batches hold tens of thousands); never changed once made.
@dataclass(slots=True, eq=False)
class JobRequest:
    """One job to enqueue through :meth:`Queue.enqueue_many`; made by ``task.prepare``.

    A request can be named in another's ``using(after=[...])`` in the same batch.
    """

    task: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: JobOptions
    #: Its id, when given one before it is written (named in another's
    #: ``after``); middleware that copies a request must keep it
    #: (``dataclasses.replace``).
    job_id: str | None = None

    def kind(self) -> JobKind:
        """The fields this job shares with others of its task and options."""
        o = self.options
        # A job with parents waits, not due, until they end (aqueue.dependencies).
        run_at = WAITING_UNTIL if o.after or o.callback_for else o.run_after
        meta = o.meta
        if o.tags:
            # Kept in meta too, so that every read of a job shows them.
            fields = serialization.decode(meta) if meta is not None else {}
            meta = serialization.encode({**fields, "tags": list(o.tags)})
        return JobKind(
            task=self.task,
            queue=o.queue,
            priority=o.priority,
            max_attempts=o.max_attempts,
            timeout=o.timeout,
            delay=o.delay,
            run_at=run_at,
            meta=meta,
            limit_key=o.limit_key,
        )


def new_jobs(
    requests: Sequence[JobRequest], max_payload_bytes: int, ids: list[str] | None = None
) -> list[NewJob]:
    """Check and encode requests into rows to insert; raises on the first bad one.

    Requests prepared from the same task and options share one :class:`JobKind`.
    """
    kinds: dict[tuple[str, int], JobKind] = {}
    rows: list[NewJob] = []
    if ids is None:
        ids = job_ids(requests)
    for request, job_id in zip(requests, ids, strict=True):
        args_json, kwargs_json = encode_arguments(
            request.task, request.args, request.kwargs, max_payload_bytes
        )
        key = (request.task, id(request.options))
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = request.kind()
        rows.append(NewJob(job_id, args_json, kwargs_json, request.options.unique_key, kind))
    return rows


def job_ids(requests: Sequence[JobRequest]) -> list[str]:
    """The ids to write ``requests`` with: their own where given, else new ones."""
    ids = new_job_ids(len(requests))
    return [r.job_id or fresh for r, fresh in zip(requests, ids, strict=True)]


class Task(Generic[P, R]):
    """A function registered on a :class:`Queue`.

    Calling the task runs the function directly; ``await task.enqueue(...)``
    queues a job for a worker instead.
    """

    def __init__(
        self,
        queue: Queue,
        name: str,
        func: Callable[P, Any] | None,
        options: JobOptions,
        backoff: Backoff,
        takes_context: bool = False,
        result_ttl: float | None = None,
        limit: TaskLimit | None = None,
        isolation: Isolation = None,
        *,
        capture_output: bool | None = None,
    ) -> None:
        self.queue = queue
        #: Keep what each attempt prints and logs with the job (see
        #: :mod:`aqueue._worker.output`); None: only when it runs in a child process.
        self.capture_output = capture_output
        #: ``"process"``: its jobs run in a child process of the worker
        #: (see :mod:`aqueue._worker.processes`); None: in the worker itself.
        self.isolation = check_isolation(isolation)
        #: Its global concurrency and rate limits (see :mod:`aqueue.limits`).
        self.limit = limit
        #: Seconds a succeeded job of this task is kept (see :mod:`aqueue.retention`).
        self.result_ttl = result_ttl
        self.name = validation.check_name("task", name)
        self.func = func
        self.options = options
        self.backoff = backoff
        self.takes_context = takes_context
        self.is_async = func is not None and inspect.iscoroutinefunction(func)
        if func is not None:
            self.__doc__ = func.__doc__
            self.__wrapped__ = func

    def __repr__(self) -> str:
        return f"<aqueue.Task {self.name!r} queue={self.options.queue!r}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        if self.func is None:
            raise TypeError(f"task {self.name!r} is a reference by name: it has no function")
        return self.func(*args, **kwargs)

    def using(
        self,
        *,
        queue: str = _UNSET,
        priority: int = _UNSET,
        delay: float | timedelta = _UNSET,
        run_after: datetime | None = _UNSET,
        unique_key: str | None = _UNSET,
        max_attempts: int = _UNSET,
        timeout: float | None = _UNSET,
        connection: Any = _UNSET,
        limit_key: str = _UNSET,
        after: Sequence[Job[Any] | str | JobRequest] = _UNSET,
        on_parent_failure: OnParentFailure = _UNSET,
        tags: Sequence[str] = _UNSET,
        unique_for: float | str | timedelta | None = _UNSET,
        unique_states: Sequence[str] | None = _UNSET,
        on_conflict: OnConflict = _UNSET,
    ) -> Task[P, R]:
        """A copy of this task whose jobs carry the given options.

        ``connection`` (an asyncpg, aiomysql or aiosqlite connection) makes
        ``enqueue`` write on that connection, inside the caller's transaction.
        ``limit_key`` (``"tenant:42"``) applies the task's concurrency and rate
        limits per key instead of to the task as a whole. ``after`` (jobs, ids,
        or requests earlier in the same ``enqueue_many``) makes the job wait
        until they have all succeeded; if one fails for good or is cancelled,
        it is cancelled too, or runs anyway with ``on_parent_failure="run"``.
        ``tags`` (up to 20 strings) are stored so that the jobs of a tag are
        an index lookup: ``queue.jobs.list(tag="customer:42")``.
        ``unique_for`` (``"1h"``) holds ``unique_key`` for that long after a job
        takes it, ``unique_states`` says which statuses of that job keep holding
        it, and ``on_conflict="replace"`` gives a queued holder this call's
        arguments and due time (see :mod:`aqueue.uniqueness`).
        """
        if limit_key is not _UNSET and self.limit is None:
            raise ValueError(
                f"task {self.name!r} has no concurrency or rate limit for "
                f"limit_key to apply to: give @queue.task(concurrency=...) "
                f"or rate_limit=..."
            )
        if limit_key is None:
            limit_key = ""
        options = _checked(
            self.options,
            queue=queue,
            priority=priority,
            delay=delay,
            run_after=run_after,
            unique_key=unique_key,
            max_attempts=max_attempts,
            timeout=timeout,
            connection=connection,
            limit_key=limit_key,
            after=after,
            on_parent_failure=on_parent_failure,
            tags=tags,
            unique_for=unique_for,
            unique_states=unique_states,
            on_conflict=on_conflict,
        )
        return Task(
            self.queue,
            self.name,
            self.func,
            options,
            self.backoff,
            self.takes_context,
            self.result_ttl,
            self.limit,
            self.isolation,
            capture_output=self.capture_output,
        )

    def prepare(self, *args: P.args, **kwargs: P.kwargs) -> JobRequest:
        """Describe a job without enqueueing it, for :meth:`Queue.enqueue_many`."""
        return JobRequest(self.name, args, kwargs, self.options)

    def link(self, *args: Any, **kwargs: Any) -> JobRequest:
        """Describe a workflow link (:func:`aqueue.chain`, :func:`aqueue.chord`):
        a job that gets the result of what it follows as its first argument,
        before ``args``. The same as :meth:`prepare`, typed for the argument
        it does not pass."""
        return JobRequest(self.name, args, kwargs, self.options)

    def enqueue_sync(self, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        """:meth:`enqueue` for code without an event loop (Django views, Flask,
        scripts): same checks, same durability, same unique keys.

        Raises ``RuntimeError`` inside a running event loop (use ``await
        enqueue()`` there). A ``connection=`` option is refused: sync code's
        connections belong to sync drivers.
        """
        from aqueue.job import Job
        from aqueue.sync import require_no_running_loop

        require_no_running_loop("enqueue_sync()", "await task.enqueue()")
        if self.options.connection is not None:
            raise ValueError(
                "enqueue_sync() cannot write on a caller's connection: use "
                "await task.using(connection=...).enqueue() from async code"
            )
        request = JobRequest(self.name, args, kwargs, self.options)
        jobs = self.queue.sync_bridge().call(lambda q: q.enqueue_many([request]))
        return Job(self.queue, jobs[0].id)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        """Queue a job; it is durable once this returns."""
        jobs = await self.queue.enqueue_many(
            [JobRequest(self.name, args, kwargs, self.options)],
            connection=self.options.connection,
        )
        return jobs[0]


def batch_connection(requests: Sequence[JobRequest], connection: Any) -> Any:
    """The caller's connection a batch is written on: the one given, or the one
    its jobs were prepared with (``using(connection=...)``). A batch is one
    transaction, so it cannot be split over several connections."""
    named = {id(r.options.connection): r.options.connection for r in requests}
    named.pop(id(None), None)
    if connection is not None:
        named.setdefault(id(connection), connection)
    if len(named) > 1:
        raise ValueError(
            "enqueue_many: the jobs name different connections (using(connection="
            "...)); a batch is written in one transaction, on one connection"
        )
    if named and any(r.options.connection is None for r in requests) and connection is None:
        raise ValueError(
            "enqueue_many: some jobs name a connection (using(connection=...)) "
            "and some do not; pass connection= to write them all on it"
        )
    return next(iter(named.values()), None)
