"""aqueue's job snapshots as Django ``TaskResult`` objects."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from django.tasks import TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.exceptions import TaskResultDoesNotExist

from aqueue.records import JobInfo, JobStatus

if TYPE_CHECKING:
    from aqueue.contrib.django.backend import AqueueBackend

#: Django has no "cancelled": a cancelled task did not succeed, and its error says why.
STATUS = {
    JobStatus.QUEUED: TaskResultStatus.READY,
    JobStatus.RUNNING: TaskResultStatus.RUNNING,
    JobStatus.SUCCEEDED: TaskResultStatus.SUCCESSFUL,
    JobStatus.FAILED: TaskResultStatus.FAILED,
    JobStatus.CANCELLED: TaskResultStatus.FAILED,
}


def exception_path(name: str) -> str:
    """A stored error type as Django's ``exception_class_path``: importable
    (builtins get their module back: aqueue stores ``ValueError`` bare)."""
    if "." not in name and isinstance(getattr(builtins, name, None), type):
        return f"builtins.{name}"
    return name


def _errors(info: JobInfo) -> list[TaskError]:
    errors = [
        TaskError(
            exception_class_path=exception_path(a.error or "Exception"), traceback=a.message or ""
        )
        for a in info.history
        if a.error
    ]
    if info.error and info.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        errors.append(
            TaskError(
                exception_class_path=exception_path(str(info.error.get("type") or "Exception")),
                traceback=str(info.error.get("traceback") or info.error.get("message") or ""),
            )
        )
    return errors


def task_result(info: JobInfo, backend: AqueueBackend) -> TaskResult:
    """``info`` as Django's ``TaskResult`` (``TaskResultDoesNotExist`` when the
    job is not a task of this project: its module path does not import)."""
    task = backend.project_tasks.find(info.task)
    if task is None:
        raise TaskResultDoesNotExist(
            f"{info.id} is a job of {info.task!r}, which is not a Django task of this project"
        )
    task = task.using(priority=info.priority, queue_name=info.queue, backend=backend.alias)
    final = info.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
    result = TaskResult(
        task=task,
        id=info.id,
        status=STATUS[info.status],
        enqueued_at=info.created_at,
        started_at=info.started_at,
        finished_at=info.finished_at if final else None,
        last_attempted_at=info.started_at,
        args=info.args,
        kwargs=info.kwargs,
        backend=backend.alias,
        errors=_errors(info),
        # aqueue keeps the worker of the last attempt only.
        worker_ids=[info.worker or ""] * info.attempts,
    )
    if info.status == JobStatus.SUCCEEDED:
        value: Any = info.result
        object.__setattr__(result, "_return_value", value)
    return result
