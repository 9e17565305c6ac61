"""Middleware: async wrappers around each job's execution and around enqueue.

Job middleware is ``async def mw(ctx, call_next)``: ``ctx`` is the attempt's
:class:`~aqueue.JobContext` (with the job's arguments), ``call_next()`` runs
the rest of the chain and then the task, and returns the task's return value,
which ``mw`` returns (or replaces). Enqueue middleware is ``async def
mw(requests, call_next)``: ``requests`` is the list of
:class:`~aqueue.JobRequest` about to be written, ``call_next(requests)``
writes them (the list may be changed on the way) and returns the jobs.

The middleware registered first is the outermost: it runs first before the
task and last after it, like Django's ``MIDDLEWARE`` list. An exception
raised by a middleware itself (not one the task raised and the middleware
let through) fails the attempt as :class:`MiddlewareError`, naming the
middleware, with the original as its cause; the attempt is retried like any
other failure. :class:`~aqueue.Retry` and :class:`~aqueue.Snooze` raised by a
middleware are honoured as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aqueue.errors import Retry, Snooze

if TYPE_CHECKING:
    from aqueue.context import JobContext
    from aqueue.job import Job
    from aqueue.task import JobRequest

CallNext = Callable[[], Awaitable[Any]]
JobMiddleware = Callable[["JobContext", CallNext], Awaitable[Any]]
EnqueueNext = Callable[[list["JobRequest"]], Awaitable[list["Job[Any]"]]]
EnqueueMiddleware = Callable[[list["JobRequest"], EnqueueNext], Awaitable[list["Job[Any]"]]]
J = TypeVar("J", bound=JobMiddleware)
E = TypeVar("E", bound=EnqueueMiddleware)


class MiddlewareError(Exception):
    """Stored as the error of an attempt a middleware failed (not the task)."""

    # Stored (and shown) under the name users import it by, aqueue.MiddlewareError.
    __module__ = "aqueue"


def _name(fn: object) -> str:
    return str(getattr(fn, "__qualname__", None) or type(fn).__qualname__)


class Middleware:
    """A queue's middleware: ``@queue.middleware`` (jobs), ``@queue.middleware.enqueue``."""

    def __init__(self) -> None:
        self.jobs: list[JobMiddleware] = []
        self.enqueues: list[EnqueueMiddleware] = []

    def __call__(self, fn: J) -> J:
        """Register ``fn`` around each job's execution (usable as a decorator)."""
        return self.job(fn)

    def job(self, fn: J, *, outermost: bool = False) -> J:
        """Register ``fn`` around each job's execution (usable as a decorator);
        ``outermost`` puts it around those registered before."""
        if not callable(fn):
            raise TypeError(f"middleware must be an async callable, not {type(fn).__name__}")
        self.jobs.insert(0 if outermost else len(self.jobs), fn)
        return fn

    def enqueue(self, fn: E, *, outermost: bool = False) -> E:
        """Register ``fn`` around each enqueue (usable as a decorator);
        ``outermost`` puts it around those registered before."""
        if not callable(fn):
            raise TypeError(f"middleware must be an async callable, not {type(fn).__name__}")
        self.enqueues.insert(0 if outermost else len(self.enqueues), fn)
        return fn

    def __bool__(self) -> bool:
        return bool(self.jobs or self.enqueues)

    async def run_job(self, ctx: JobContext, task: CallNext) -> Any:
        """Run ``task`` inside every job middleware, the first registered outermost."""
        call = task
        for mw in reversed(self.jobs):
            call = _job_layer(mw, ctx, call)
        return await call()

    async def run_enqueue(self, requests: list[JobRequest], write: EnqueueNext) -> list[Job[Any]]:
        """Write ``requests`` through every enqueue middleware."""
        call = write
        for mw in reversed(self.enqueues):
            call = _enqueue_layer(mw, call)
        return await call(requests)


def _job_layer(mw: JobMiddleware, ctx: JobContext, inner: CallNext) -> CallNext:
    async def layer() -> Any:
        passed: list[BaseException] = []

        async def call_next() -> Any:
            try:
                return await inner()
            except BaseException as exc:
                passed.append(exc)
                raise

        try:
            return await mw(ctx, call_next)
        except Exception as exc:
            if exc in passed or isinstance(exc, (Retry, Snooze)):
                raise
            raise MiddlewareError(
                f"middleware {_name(mw)} raised {type(exc).__name__}: {exc}"
            ) from exc

    return layer


def _enqueue_layer(mw: EnqueueMiddleware, inner: EnqueueNext) -> EnqueueNext:
    async def layer(requests: list[JobRequest]) -> list[Job[Any]]:
        return await mw(requests, inner)

    return layer
