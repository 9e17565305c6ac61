"""Run one claimed job's function and turn what happened into an :class:`Outcome`."""

from __future__ import annotations

import asyncio
import functools
import math
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aqueue import serialization
from aqueue._worker.isolation import Isolated, Request
from aqueue._worker.output import Captured, capturing
from aqueue.backends.base import Backend
from aqueue.context import JobContext
from aqueue.errors import ConfigurationError, Retry, Snooze, TooManySnoozes, UnknownTask
from aqueue.middleware import Middleware
from aqueue.records import WORKFLOW_META_KEY, ClaimedJob, JobStatus, Outcome
from aqueue.steps import StepStore
from aqueue.task import Task
from aqueue.validation import MAX_DELAY_SECONDS, MAX_SNOOZES

if TYPE_CHECKING:
    from aqueue.queue import Queue

#: How a worker runs a sync function (see :class:`aqueue.threads.SyncRunner`).
RunSync = Callable[[Callable[[], Any]], Awaitable[Any]]


def _describe(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception as inner:  # a __str__ that raises must not lose the error
        return f"<{type(exc).__name__} whose str() raised {type(inner).__name__}>"


def error_record(exc: BaseException, with_traceback: bool = True) -> str:
    """The stored form of an error: its type, message and traceback, as JSON.

    Always storable: lone surrogates (file names from ``os.listdir``) become
    ``\\udcxx`` escapes, and JSON escapes U+0000. Always bounded: a message
    over 8 KB or a traceback over 64 KB is cut, with a marker.
    """
    stored = getattr(exc, "stored_error", None)
    if isinstance(stored, str):  # raised in a child process, stored there
        return stored
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    tb = "".join(traceback.format_exception(exc)) if with_traceback else None
    return serialization.encode(serialization.error_fields(name, _describe(exc), tb))


def _failure(job: ClaimedJob, exc: BaseException, delay: float | None) -> Outcome:
    """Retry after ``delay`` while attempts remain, else fail for good."""
    if delay is not None:  # Retry checks its delay; a subclass may have changed it since
        delay = MAX_DELAY_SECONDS if math.isnan(delay) else min(max(delay, 0.0), MAX_DELAY_SECONDS)
    if delay is not None and job.attempts < job.max_attempts:
        return Outcome(
            job.id, job.attempts, JobStatus.QUEUED, error=error_record(exc), retry_delay=delay
        )
    return Outcome(job.id, job.attempts, JobStatus.FAILED, error=error_record(exc))


def _snoozed(job: ClaimedJob, exc: Snooze) -> Outcome:
    """Queued again after the snooze's delay, the attempt given back; failed
    for good past :data:`MAX_SNOOZES`."""
    done = (job.meta or {}).get("snoozes", 0)
    if exc.limited and isinstance(done, int) and done >= MAX_SNOOZES:
        too_many = TooManySnoozes(f"the job snoozed {done} times, the most one job may")
        return _failure(job, too_many, None)
    return Outcome(job.id, job.attempts, JobStatus.QUEUED, retry_delay=exc.delay, snoozed=True)


class UnknownTaskError(Exception):
    """Stored as the error of a job naming a task the worker lacks."""


class JobTimeout(Exception):
    """Stored as the error of an attempt that ran past the task's timeout."""


class UndecodableArguments(Exception):
    """Stored as the error of a job whose stored arguments cannot be decoded."""


def job_context(job: ClaimedJob, worker: str, backend: Backend) -> JobContext:
    """The context a task that takes one, and every middleware, receives."""
    return JobContext(
        job.id,
        job.task,
        job.queue,
        job.attempts,
        job.max_attempts,
        worker,
        backend,
        args=tuple(job.args),
        kwargs=job.kwargs,
        meta=job.meta,
    )


async def call_task(
    task: Task[Any, Any],
    job: ClaimedJob,
    worker: str,
    backend: Backend,
    run_sync: RunSync,
    middleware: Middleware | None = None,
    processes: Isolated | None = None,
    output: Captured | None = None,
) -> Any:
    """Call the task's function: a coroutine directly, a sync function in a thread,
    or either in a child process, inside the queue's job middleware if it has any."""
    assert task.func is not None
    func = task.func
    wrapped = middleware is not None and bool(middleware.jobs)
    ctx = job_context(job, worker, backend) if task.takes_context or wrapped else None
    args: list[Any] = [ctx, *job.args] if task.takes_context else list(job.args)

    async def call() -> Any:
        if processes is not None and processes.wants(task.isolation):
            return await in_child(processes, task, job, worker, backend, output)
        if task.isolation == "process":
            raise ConfigurationError(
                f"task {task.name!r} runs in a child process (isolation='process'), and "
                "this worker has none: run it with aqueue-worker, or give "
                "Worker(processes=aqueue.Processes(app='module:attribute'))"
            )
        if task.is_async:
            return await func(*args, **job.kwargs)
        return await run_sync(functools.partial(func, *args, **job.kwargs))

    if wrapped:
        assert middleware is not None and ctx is not None
        return await middleware.run_job(ctx, call)
    return await call()


async def in_child(
    processes: Isolated,
    task: Task[Any, Any],
    job: ClaimedJob,
    worker: str,
    backend: Backend,
    output: Captured | None = None,
) -> Any:
    """Run ``job`` in one of the worker's child processes; progress it reports
    is written here, fenced by this attempt, and what it prints goes to ``output``."""
    request = Request(
        job.id,
        task.name,
        job.queue,
        job.attempts,
        job.max_attempts,
        worker,
        tuple(job.args),
        dict(job.kwargs),
        dict(job.meta) if job.meta else None,
        capture=output is not None,
    )

    def progress(encoded: str) -> Awaitable[bool]:
        return backend.set_progress(job.id, job.attempts, worker, encoded)

    async def step(op: str, name: str, value: str | None) -> str | None:
        if not isinstance(backend, StepStore):
            raise ConfigurationError("this database keeps no durable steps")
        if op == "get":
            return await backend.job_step(job.id, name)
        if op == "signal":
            return await backend.job_signal(job.id, name)
        assert value is not None
        return await backend.store_step(job.id, job.attempts, worker, name, value)

    return await processes.run(request, progress, output, step)


async def run_job(
    task: Task[Any, Any] | None,
    job: ClaimedJob,
    worker: str,
    backend: Backend,
    run_sync: RunSync,
    max_payload_bytes: int,
    middleware: Middleware | None = None,
    processes: Isolated | None = None,
    output: Captured | None = None,
) -> Outcome:
    """Run one attempt; what it prints and logs goes to ``output``, if given.
    ``asyncio.CancelledError`` propagates to the caller."""
    if job.decode_error is not None:
        # Retrying cannot help: the stored text stays what it is.
        bad = UndecodableArguments(job.decode_error)
        return Outcome(job.id, job.attempts, JobStatus.FAILED, error=error_record(bad, False))
    if task is None or task.func is None:
        exc = UnknownTaskError(
            f"unknown task {job.task!r}: no task by that name is registered in this worker"
        )
        return Outcome(job.id, job.attempts, JobStatus.FAILED, error=error_record(exc, False))
    timeout = job.timeout if job.timeout is not None else task.options.timeout
    scope: asyncio.Timeout | None = None
    call = functools.partial(
        call_task, task, job, worker, backend, run_sync, middleware, processes, output
    )
    try:
        # The timeout covers the middleware too: one that hangs is stopped.
        with capturing(output):
            if timeout is None:
                value = await call()
            else:
                async with asyncio.timeout(timeout) as scope:
                    value = await call()
    except TimeoutError as exc:
        # Only our own scope expiring is the job's timeout; a TimeoutError the
        # task raised itself (its own asyncio.timeout) is an ordinary error.
        if scope is not None and scope.expired():
            timed_out = JobTimeout(f"the task ran longer than its timeout of {timeout:g}s")
            return _failure(job, timed_out, task.backoff.delay(job.attempts))
        return _failure(job, exc, task.backoff.delay(job.attempts))
    except Retry as exc:
        return _failure(job, exc, exc.delay)
    except Snooze as exc:
        return _snoozed(job, exc)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        # SystemExit (a task calling sys.exit(), code it imports) would end
        # the event loop and the worker with it: it fails this attempt alone.
        return _failure(job, exc, task.backoff.delay(job.attempts))
    try:
        result = serialization.encode_result(value, max_payload_bytes)
    except (TypeError, ValueError) as exc:
        return _failure(job, exc, task.backoff.delay(job.attempts))
    return Outcome(job.id, job.attempts, JobStatus.SUCCEEDED, result=result)


class Runner:
    """A worker's attempts, run: the job's task found by name, then :func:`run_job`."""

    def __init__(
        self, queue: Queue, worker: str, run_sync: RunSync, processes: Isolated | None
    ) -> None:
        self._queue = queue
        self._worker = worker
        self._run_sync = run_sync
        self._processes = processes

    async def __call__(self, job: ClaimedJob, output: Captured | None = None) -> Outcome:
        queue = self._queue
        try:
            task = queue.find_task(job.task)
        except UnknownTask as exc:  # the resolver failed on this job's name alone
            return Outcome(job.id, job.attempts, JobStatus.FAILED, error=error_record(exc, False))
        if job.meta is not None and WORKFLOW_META_KEY in job.meta:
            # Imported here: a worker whose jobs use no workflow never loads it.
            from aqueue.workflows.batches import NotNeeded
            from aqueue.workflows.inputs import BadWorkflowShape, with_inputs

            try:  # a workflow's link: its parents' results first among its arguments
                job = await with_inputs(queue.backend, job)
            except BadWorkflowShape as exc:
                return Outcome(job.id, job.attempts, JobStatus.FAILED, error=error_record(exc))
            except NotNeeded as exc:  # a batch's callback whose condition did not hold
                error = error_record(exc, with_traceback=False)
                return Outcome(job.id, job.attempts, JobStatus.CANCELLED, error=error)
            except Exception as exc:  # the read failed (the database): try again later
                delay = task.backoff.delay(job.attempts) if task is not None else None
                return _failure(job, exc, delay)
        return await run_job(
            task,
            job,
            self._worker,
            queue.backend,
            self._run_sync,
            queue.max_payload_bytes,
            queue.middleware,
            self._processes,
            output,
        )


def cancelled_outcome(job: ClaimedJob) -> Outcome:
    """The outcome of a running job stopped by ``cancel``."""
    return Outcome(
        job.id,
        job.attempts,
        JobStatus.CANCELLED,
        error=serialization.encode(
            {"type": "Cancelled", "message": "cancelled while running", "traceback": None}
        ),
    )
