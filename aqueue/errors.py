"""The exceptions aqueue raises, all under one :class:`AqueueError` base."""

from __future__ import annotations

from datetime import timedelta


class AqueueError(Exception):
    """Base class of every error aqueue raises."""


class ConfigurationError(AqueueError, ValueError):
    """A setting is wrong: a malformed or unsupported DSN, an unknown option."""


class DatabaseUnavailable(AqueueError, ConnectionError):
    """The database could not be reached, or the connection broke mid-call.

    Workers retry these with backoff; callers of the producer API may retry too.
    """


class SchemaError(AqueueError):
    """The aqueue tables are missing or older than this version of aqueue."""


class PayloadTooLarge(AqueueError, ValueError):
    """Encoded arguments (or a result) exceed the queue's ``max_payload_bytes``."""


class UnknownTask(AqueueError, LookupError):
    """A job names a task that this process has not registered."""


class JobNotFound(AqueueError, LookupError):
    """No job with that id exists (never enqueued, or purged)."""


class JobFailed(AqueueError):
    """Raised by :meth:`Job.result` when the job failed for good.

    Carries the remote error's type name, message and formatted traceback.
    """

    def __init__(self, job_id: str, error_type: str, message: str, traceback: str | None) -> None:
        super().__init__(f"job {job_id} failed: {error_type}: {message}")
        self.job_id = job_id
        self.error_type = error_type
        self.message = message
        self.traceback = traceback


class JobCancelled(AqueueError):
    """Raised by :meth:`Job.result` when the job was cancelled."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} was cancelled")
        self.job_id = job_id


class Retry(Exception):
    """Raise from a task to ask for another attempt after ``delay`` seconds.

    The attempt still counts towards ``max_attempts``. ``delay`` (seconds or a
    timedelta) must be finite and at most ten years: anything else raises
    ``ValueError`` right here, so the attempt fails with that clear error.
    """

    def __init__(self, delay: float | timedelta = 0.0, reason: str | None = None) -> None:
        from aqueue.validation import check_delay

        seconds = check_delay(delay, "Retry delay")
        super().__init__(reason or f"retry requested in {seconds:g}s")
        self.delay = seconds


class Snooze(Exception):
    """Raise from a task to run the job again after ``delay`` seconds without
    spending an attempt: the attempt is given back, and the job's ``meta``
    counts its snoozes. A job snoozes at most
    :data:`~aqueue.validation.MAX_SNOOZES` times; past that the attempt fails
    for good with :class:`TooManySnoozes`. ``delay`` is checked as
    :class:`Retry`'s is."""

    # Shown under the name users import it by.
    __module__ = "aqueue"
    #: Counted against the limit (a durable sleep or wait is not).
    limited = True

    def __init__(self, delay: float | timedelta = 0.0, reason: str | None = None) -> None:
        from aqueue.validation import check_delay

        seconds = check_delay(delay, "Snooze delay")
        super().__init__(reason or f"snoozed for {seconds:g}s")
        self.delay = seconds


class TooManySnoozes(AqueueError):
    """Stored as the error of a job that asked to snooze once too often."""

    __module__ = "aqueue"


class AttemptLost(AqueueError):
    """Raised in a task whose attempt no longer holds its job (its lease ran
    out and the job was rescued) when it tries to store a durable step."""

    __module__ = "aqueue"


class WorkerProcessDied(AqueueError):
    """Stored as the error of an attempt whose child process died under it
    (``os._exit``, a crash in a C extension, the kernel's OOM kill). The
    attempt is retried by the task's policy; the worker replaces the child."""

    # Stored (and shown) under the name users import it by.
    __module__ = "aqueue"
