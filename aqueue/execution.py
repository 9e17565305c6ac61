"""Run one claimed job's function and turn what happened into an :class:`Outcome`."""

from __future__ import annotations

import asyncio
import functools
import traceback
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter

from aqueue import serialization
from aqueue.backends.base import Backend
from aqueue.context import JobContext
from aqueue.errors import Retry
from aqueue.records import ClaimedJob, JobStatus, Outcome
from aqueue.task import Task


def error_record(exc: BaseException, with_traceback: bool = True) -> str:
    """The stored form of an error: its type, message and traceback, as JSON."""
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    tb = "".join(traceback.format_exception(exc)) if with_traceback else None
    return serialization.encode({"type": name, "message": str(exc), "traceback": tb})


def _failure(job: ClaimedJob, exc: BaseException, delay: float | None) -> Outcome:
    """Retry after ``delay`` while attempts remain, else fail for good."""
    if delay is not None and job.attempts < job.max_attempts:
        return Outcome(job.id, job.attempts, JobStatus.QUEUED, error=error_record(exc),
                       retry_delay=delay)
    return Outcome(job.id, job.attempts, JobStatus.FAILED, error=error_record(exc))


class UnknownTaskError(Exception):
    """Stored as the error of a job naming a task the worker lacks."""


class JobTimeout(Exception):
    """Stored as the error of an attempt that ran past the task's timeout."""


async def call_task(
    task: Task[Any, Any], job: ClaimedJob, worker: str, backend: Backend, limiter: CapacityLimiter
) -> Any:
    """Call the task's function: a coroutine directly, a sync function in a thread."""
    assert task.func is not None
    args: list[Any] = list(job.args)
    if task.takes_context:
        ctx = JobContext(job.id, job.task, job.queue, job.attempts, job.max_attempts, worker,
                         backend)
        args.insert(0, ctx)
    if task.is_async:
        return await task.func(*args, **job.kwargs)
    # abandon_on_cancel: a timed-out or cancelled sync task cannot be stopped,
    # but the worker must not wait for it.
    return await anyio.to_thread.run_sync(
        functools.partial(task.func, *args, **job.kwargs),
        abandon_on_cancel=True,
        limiter=limiter,
    )


async def run_job(
    task: Task[Any, Any] | None,
    job: ClaimedJob,
    worker: str,
    backend: Backend,
    limiter: CapacityLimiter,
    max_payload_bytes: int,
) -> Outcome:
    """Run one attempt. ``asyncio.CancelledError`` propagates to the caller."""
    if task is None or task.func is None:
        exc = UnknownTaskError(f"unknown task {job.task!r}: no task by that name is registered "
                               "in this worker")
        return Outcome(job.id, job.attempts, JobStatus.FAILED, error=error_record(exc, False))
    timeout = job.timeout if job.timeout is not None else task.options.timeout
    try:
        if timeout is None:
            value = await call_task(task, job, worker, backend, limiter)
        else:
            async with asyncio.timeout(timeout):
                value = await call_task(task, job, worker, backend, limiter)
    except TimeoutError as exc:
        if timeout is not None and isinstance(exc.__context__, asyncio.CancelledError):
            timed_out = JobTimeout(f"the task ran longer than its timeout of {timeout:g}s")
            return _failure(job, timed_out, task.backoff.delay(job.attempts))
        return _failure(job, exc, task.backoff.delay(job.attempts))
    except Retry as exc:
        return _failure(job, exc, exc.delay)
    except Exception as exc:
        return _failure(job, exc, task.backoff.delay(job.attempts))
    try:
        result = serialization.encode_result(value, max_payload_bytes)
    except (TypeError, ValueError) as exc:
        return _failure(job, exc, task.backoff.delay(job.attempts))
    return Outcome(job.id, job.attempts, JobStatus.SUCCEEDED, result=result)


def cancelled_outcome(job: ClaimedJob) -> Outcome:
    """The outcome of a running job stopped by ``cancel``."""
    return Outcome(job.id, job.attempts, JobStatus.CANCELLED,
                   error=serialization.encode({"type": "Cancelled",
                                               "message": "cancelled while running",
                                               "traceback": None}))
