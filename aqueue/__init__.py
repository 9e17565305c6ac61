"""aqueue: an asyncio-native job queue on the database you already have."""

from typing import TYPE_CHECKING, Any

from aqueue._version import __version__
from aqueue._worker.isolation import Processes
from aqueue.backoff import Backoff
from aqueue.context import JobContext
from aqueue.errors import (
    AqueueError,
    AttemptLost,
    ConfigurationError,
    DatabaseUnavailable,
    JobCancelled,
    JobFailed,
    JobNotFound,
    PayloadTooLarge,
    Retry,
    SchemaError,
    Snooze,
    TooManySnoozes,
    UnknownTask,
    WorkerProcessDied,
)
from aqueue.health import Health
from aqueue.job import Job
from aqueue.middleware import Middleware, MiddlewareError
from aqueue.queue import Queue
from aqueue.records import AttemptOutput, JobInfo, JobStatus, PastAttempt, WorkerInfo
from aqueue.task import JobOptions, JobRequest, Task
from aqueue.worker import Worker

if TYPE_CHECKING:
    from aqueue.workflows import Batch, BatchClosed, Failure, Workflow, chain, chord, group

_WORKFLOWS = frozenset(("Batch", "BatchClosed", "Failure", "Workflow", "chain", "chord", "group"))


def __getattr__(name: str) -> Any:
    # Workflows load on first use: a worker whose jobs use none never imports them.
    if name in _WORKFLOWS:
        import aqueue.workflows

        return getattr(aqueue.workflows, name)
    raise AttributeError(f"module 'aqueue' has no attribute {name!r}")


__all__ = [
    "AqueueError",
    "AttemptLost",
    "AttemptOutput",
    "Backoff",
    "Batch",
    "BatchClosed",
    "ConfigurationError",
    "DatabaseUnavailable",
    "Failure",
    "Health",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobFailed",
    "JobInfo",
    "JobNotFound",
    "JobOptions",
    "JobRequest",
    "JobStatus",
    "Middleware",
    "MiddlewareError",
    "PastAttempt",
    "PayloadTooLarge",
    "Processes",
    "Queue",
    "Retry",
    "SchemaError",
    "Snooze",
    "Task",
    "TooManySnoozes",
    "UnknownTask",
    "Worker",
    "WorkerInfo",
    "WorkerProcessDied",
    "Workflow",
    "__version__",
    "chain",
    "chord",
    "group",
]
