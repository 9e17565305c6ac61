"""How a worker runs Django tasks: found by module path, wrapped so that they
get Django's ``TaskContext`` and signals, and sync ones Django's connection
handling (stale connections closed before and after, as around a request)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.tasks import Task as DjangoTask
from django.tasks import TaskContext, TaskResult, TaskResultStatus
from django.tasks.signals import task_finished, task_started
from django.utils import timezone

from aqueue.context import JobContext
from aqueue.queue import Queue
from aqueue.task import Task

if TYPE_CHECKING:
    from aqueue.contrib.django.backend import AqueueBackend


def _running(task: DjangoTask, ctx: JobContext, backend: AqueueBackend) -> TaskResult:
    now = timezone.now()
    return TaskResult(
        task=task.using(queue_name=ctx.queue),
        id=ctx.job_id,
        status=TaskResultStatus.RUNNING,
        enqueued_at=None,
        started_at=now,
        finished_at=None,
        last_attempted_at=now,
        args=list(ctx.args),
        kwargs=dict(ctx.kwargs),
        backend=backend.alias,
        errors=[],
        worker_ids=[ctx.worker] * ctx.attempt,
    )


def _ended(result: TaskResult, status: TaskResultStatus) -> None:
    object.__setattr__(result, "status", status)
    object.__setattr__(result, "finished_at", timezone.now())


def _failed(
    result: TaskResult,
    ctx: JobContext,
    sender: type,
    started: float,
    timeout: float | None,
    exc: BaseException,
) -> None:
    """The attempt raised ``exc``: the task has finished, FAILED, only if aqueue
    will not run it again. An attempt that is retried leaves the task READY, as
    ``get_result`` then says, and sends no ``task_finished``: Django's own
    handler logs FAILED as an ERROR, and alerts on it would fire on every retry.
    """
    if isinstance(exc, asyncio.CancelledError):
        # A cancel request is final; a timeout (the attempt ran its whole
        # time) is retried like any failure.
        ran_out = timeout is not None and time.monotonic() - started >= timeout * 0.99
        final = not ran_out or ctx.attempt >= ctx.max_attempts
    else:
        final = ctx.attempt >= ctx.max_attempts
    if final:
        _ended(result, TaskResultStatus.FAILED)
        task_finished.send(sender, task_result=result)


def wrap(task: DjangoTask, backend: AqueueBackend) -> Callable[..., Any]:
    """The function aqueue runs for ``task``: async for async tasks, sync
    (run in a worker thread) for sync ones."""
    func = task.func
    sender = type(backend)
    timeout = backend.timeout

    if inspect.iscoroutinefunction(func):

        async def run_async(ctx: JobContext, *args: Any, **kwargs: Any) -> Any:
            result = _running(task, ctx, backend)
            started = time.monotonic()
            # The async ORM runs in one shared thread: its connection is
            # checked like a request's would be.
            await sync_to_async(close_old_connections)()
            task_started.send(sender, task_result=result)
            try:
                if task.takes_context:
                    value = await func(TaskContext(task_result=result), *args, **kwargs)
                else:
                    value = await func(*args, **kwargs)
            except BaseException as exc:
                _failed(result, ctx, sender, started, timeout, exc)
                raise
            finally:
                await sync_to_async(close_old_connections)()
            _ended(result, TaskResultStatus.SUCCESSFUL)
            task_finished.send(sender, task_result=result)
            return value

        return run_async

    def run_sync(ctx: JobContext, *args: Any, **kwargs: Any) -> Any:
        result = _running(task, ctx, backend)
        started = time.monotonic()
        close_old_connections()
        task_started.send(sender, task_result=result)
        try:
            if task.takes_context:
                value = func(TaskContext(task_result=result), *args, **kwargs)
            else:
                value = func(*args, **kwargs)
        except BaseException as exc:
            _failed(result, ctx, sender, started, timeout, exc)
            raise
        finally:
            close_old_connections()
        _ended(result, TaskResultStatus.SUCCESSFUL)
        task_finished.send(sender, task_result=result)
        return value

    return run_sync


def resolver(queue: Queue, backend: AqueueBackend) -> Callable[[str], Task[..., Any] | None]:
    """Finds the Django task a job names (its module path) and registers it."""

    def resolve(name: str) -> Task[..., Any] | None:
        task = backend.project_tasks.find(name)
        if task is None:
            return None
        registered: Task[..., Any] = queue.task(
            name=name,
            queue=task.queue_name,
            takes_context=True,
            max_attempts=backend.max_attempts,
            timeout=backend.timeout,
        )(wrap(task, backend))
        return registered

    return resolve
