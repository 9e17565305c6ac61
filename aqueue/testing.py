"""Helpers for testing code that uses aqueue: the app's own queue and tasks on
a throwaway database, jobs run on demand, a clock the test moves, and a record
of what was enqueued.

With pytest, the ``aqueue_queue`` fixture (from the plugin aqueue installs)
gives a :class:`QueueUnderTest`; point it at the app's queue with the
``aqueue_app = "myapp.jobs:queue"`` ini option or by overriding the
``aqueue_app`` fixture. Without pytest::

    async with aqueue.testing.queue_under_test(myapp.jobs.queue) as queue:
        await myapp.signup("a@example.com")
        assert queue.enqueued(task=myapp.jobs.send_welcome, args=["a@example.com"])
        await queue.drain()

The jobs are real: they are written to SQLite (in memory by default) and run
by a real burst worker, with the app's middleware, retries and timeouts.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from aqueue.backends.clock import clock_for
from aqueue.job import Job
from aqueue.queue import Queue
from aqueue.task import JobRequest, Task

__all__ = ["EnqueuedJob", "QueueUnderTest", "queue_under_test"]

#: The default database of a queue under test: private to it, gone at the end.
MEMORY_DSN = "sqlite:///:memory:"

# Set while an eager enqueue runs its jobs: jobs those enqueue run in the
# same drain, after them, not inside them.
_running_eagerly: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "aqueue_running_eagerly", default=False
)


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples are lists), to compare like stored."""
    return json.loads(json.dumps(value, default=str))


@dataclass(frozen=True, slots=True)
class EnqueuedJob:
    """One job the code under test enqueued, as it asked for it."""

    id: str
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    priority: int
    delay: float
    unique_key: str | None
    #: The request itself (every option, as given).
    request: JobRequest = field(repr=False, compare=False)


class QueueUnderTest:
    """The app's queue during a test, with helpers; every other attribute
    (``enqueue``, ``get_job``, ``jobs``...) is the queue's own."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        #: Every job enqueued since the start (or :meth:`clear`), oldest first;
        #: an enqueue that a unique key turned into an existing job adds none.
        self.recorded: list[EnqueuedJob] = []
        #: When true, ``enqueue`` runs the jobs at once and returns them
        #: finished; a job that fails for good raises :class:`~aqueue.JobFailed`.
        self.eager = False
        #: Seconds the test's clock has been moved on (see :meth:`advance`).
        self.advanced = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.queue, name)

    def __repr__(self) -> str:
        return f"<aqueue.testing.QueueUnderTest {self.queue!r}>"

    # -- what was enqueued ---------------------------------------------------------

    def enqueued(
        self,
        task: Task[..., Any] | str | None = None,
        *,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        queue: str | None = None,
    ) -> list[EnqueuedJob]:
        """The jobs enqueued so far that match every filter given.

        ``task`` is a task or its name; ``args`` and ``kwargs`` must equal the
        job's in full (compared as JSON stores them, so a tuple equals a list).
        """
        name = task.name if isinstance(task, Task) else task
        want_args = None if args is None else _plain(list(args))
        want_kwargs = None if kwargs is None else _plain(kwargs)
        return [
            j
            for j in self.recorded
            if (name is None or j.task == name)
            and (want_args is None or j.args == want_args)
            and (want_kwargs is None or j.kwargs == want_kwargs)
            and (queue is None or j.queue == queue)
        ]

    def clear(self) -> None:
        """Forget the jobs recorded so far (the database keeps them)."""
        self.recorded.clear()

    async def _record(self, requests: list[JobRequest], call_next: Any) -> list[Job[Any]]:
        jobs: list[Job[Any]] = await call_next(requests)
        seen = {j.id for j in self.recorded}
        for request, job in zip(requests, jobs, strict=True):
            if job.id in seen:  # a unique key's holder: no new job
                continue
            seen.add(job.id)
            o = request.options
            self.recorded.append(
                EnqueuedJob(
                    id=job.id,
                    task=request.task,
                    args=_plain(list(request.args)),
                    kwargs=_plain(request.kwargs),
                    queue=o.queue,
                    priority=o.priority,
                    delay=o.delay,
                    unique_key=o.unique_key,
                    request=request,
                )
            )
        if self.eager and jobs and not _running_eagerly.get():
            token = _running_eagerly.set(True)
            try:
                # The queue that wrote them: the app's, or its twin on the
                # private loop of sync calls (enqueue_sync).
                _, moved = await _drain(jobs[0].queue, advance=True, queues=None, max_jobs=10_000)
                self.advanced += moved
            finally:
                _running_eagerly.reset(token)
            for job in jobs:
                await job.result(timeout=0)  # raises JobFailed / JobCancelled
        return jobs

    # -- running and the clock -----------------------------------------------------

    async def advance(self, seconds: float) -> int:
        """Move the test's clock ``seconds`` on: queued jobs' due times draw that
        much nearer (delays, retry back-offs). Returns how many jobs it moved."""
        if seconds < 0:
            raise ValueError("the clock only moves forwards")
        self.advanced += seconds
        return await _advance(self.queue, seconds)

    async def drain(
        self, *, advance: bool = True, queues: Sequence[str] | None = None, max_jobs: int = 10_000
    ) -> int:
        """Run the jobs that are due, and those that become due meanwhile,
        until none is; with ``advance`` (the default), move the clock on to
        each next due time too, so delayed jobs and retries after a back-off
        run as well. Returns how many attempts ran. Stops with ``RuntimeError``
        past ``max_jobs`` attempts (a task that enqueues itself forever).
        """
        ran, moved = await _drain(self.queue, advance=advance, queues=queues, max_jobs=max_jobs)
        self.advanced += moved
        return ran


async def _advance(queue: Queue, seconds: float) -> int:
    await queue.open()
    return await clock_for(queue.backend).shift(seconds)


async def _drain(
    queue: Queue, *, advance: bool, queues: Sequence[str] | None, max_jobs: int
) -> tuple[int, float]:
    """Attempts run, and seconds the clock moved."""
    ran, moved = 0, 0.0
    while True:
        ran += await queue.drain(queues=queues, max_jobs=max_jobs - ran)
        if ran >= max_jobs:
            raise RuntimeError(
                f"drain stopped after {max_jobs} attempts: do jobs keep enqueueing jobs?"
            )
        if not advance:
            return ran, moved
        await queue.open()
        wait = await clock_for(queue.backend).next_due_in()
        if wait is None:
            return ran, moved
        # Due times are kept in whole microseconds on MariaDB: a hair more.
        step = max(wait, 0.0) + 0.001
        await _advance(queue, step)
        moved += step


@contextlib.asynccontextmanager
async def queue_under_test(
    queue: Queue, dsn: str = MEMORY_DSN, *, eager: bool = False
) -> AsyncIterator[QueueUnderTest]:
    """``queue`` pointed at ``dsn`` (in-memory SQLite by default) for the
    block, recording what is enqueued; put back as it was afterwards.

    Code that enqueues with ``enqueue_sync`` needs a file (``sqlite:///...``):
    an in-memory database is private to one connection, and sync calls use
    their own.
    """
    await queue.close()
    saved_dsn = queue.use_dsn(dsn)
    under_test = QueueUnderTest(queue)
    under_test.eager = eager
    queue.middleware.enqueue(under_test._record, outermost=True)
    try:
        await queue.open()
        yield under_test
    finally:
        queue.middleware.enqueues.remove(under_test._record)
        await queue.close()
        queue.use_dsn(saved_dsn)
