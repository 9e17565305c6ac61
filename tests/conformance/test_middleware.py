"""Middleware around each job's execution and around enqueue, on each backend."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from typing import Any

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.middleware import CallNext, EnqueueNext
from aqueue.records import JobFilter
from tests.databases import TestDatabase

tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
NO_RETRY = aqueue.Backoff(base=0, jitter=0)


async def test_job_middleware_wraps_in_order_and_sees_the_job(queue: aqueue.Queue) -> None:
    seen: list[str] = []

    @queue.middleware
    async def outer(ctx: aqueue.JobContext, call_next: CallNext) -> Any:
        seen.append(f"outer in {ctx.task} {ctx.attempt} {ctx.args} {dict(ctx.kwargs)}")
        result = await call_next()
        seen.append("outer out")
        return {"wrapped": result}

    @queue.middleware.job
    async def inner(ctx: aqueue.JobContext, call_next: CallNext) -> Any:
        seen.append("inner in")
        token = tenant.set(str(ctx.kwargs["who"]))
        try:
            return await call_next()
        finally:
            tenant.reset(token)
            seen.append("inner out")

    @queue.task(name="greet")
    async def greet(n: int, who: str) -> str:
        seen.append("task")
        return f"{n} {tenant.get()}"

    @queue.task(name="greet_sync")
    def greet_sync(who: str) -> str:
        return f"sync {tenant.get()}"  # the context reaches the worker thread

    job = await greet.enqueue(1, who="acme")
    sync_job = await greet_sync.enqueue(who="globex")
    assert await queue.process(2) == 2
    assert seen[:5] == [
        "outer in greet 1 (1,) {'who': 'acme'}",
        "inner in",
        "task",
        "inner out",
        "outer out",
    ]
    # The outermost middleware's return value is what is stored.
    assert (await job.refresh()).result == {"wrapped": "1 acme"}
    assert (await sync_job.refresh()).result == {"wrapped": "sync globex"}


async def test_a_task_error_passes_through_unchanged(queue: aqueue.Queue) -> None:
    @queue.middleware
    async def observer(ctx: aqueue.JobContext, call_next: CallNext) -> Any:
        return await call_next()

    @queue.task(name="breaks", max_attempts=1)
    async def breaks() -> None:
        raise KeyError("gone")

    job = await breaks.enqueue()
    await queue.process(1)
    info = await job.refresh()
    assert info.status == JobStatus.FAILED and info.error is not None
    assert info.error["type"] == "KeyError"


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_failing_middleware_fails_the_attempt_clearly(
    queue: aqueue.Queue, when: str
) -> None:
    ran: list[int] = []

    @queue.middleware
    async def session(ctx: aqueue.JobContext, call_next: CallNext) -> Any:
        if when == "before":
            raise ConnectionError("no session <pool>")
        await call_next()
        raise ConnectionError("commit failed")

    @queue.task(name="guarded", max_attempts=2, backoff=NO_RETRY)
    async def guarded() -> None:
        ran.append(1)

    job = await guarded.enqueue()
    assert await queue.process(2) == 2  # the attempt is retried like any failure
    info = await job.refresh()
    assert info.status == JobStatus.FAILED and info.attempts == 2 and info.error is not None
    # One name: the one users import it by, and docs/middleware.md gives.
    assert info.error["type"] == "aqueue.MiddlewareError"
    assert (
        "middleware test_a_failing_middleware_fails_the_attempt_clearly.<locals>.session "
        "raised ConnectionError" in info.error["message"]
    )
    assert "ConnectionError" in info.error["traceback"]  # the cause is kept
    assert len(ran) == (0 if when == "before" else 2)
    assert [a.error for a in info.history] == ["aqueue.MiddlewareError"]


async def test_retry_from_a_middleware_is_a_retry(queue: aqueue.Queue) -> None:
    @queue.middleware
    async def throttle(ctx: aqueue.JobContext, call_next: CallNext) -> Any:
        if ctx.attempt == 1:
            raise aqueue.Retry(delay=0)
        return await call_next()

    @queue.task(name="throttled", max_attempts=2)
    async def throttled() -> str:
        return "ok"

    job = await throttled.enqueue()
    await queue.process(2)
    info = await job.refresh()
    assert info.status == JobStatus.SUCCEEDED and info.attempts == 2


async def test_the_timeout_covers_a_hanging_middleware(queue: aqueue.Queue) -> None:
    @queue.middleware
    async def hangs(ctx: aqueue.JobContext, call_next: CallNext) -> Any:
        await asyncio.sleep(3600)

    @queue.task(name="quick", max_attempts=1, timeout=0.2)
    async def quick() -> None:
        return None

    job = await quick.enqueue()
    await asyncio.wait_for(queue.process(1), 10)
    info = await job.refresh()
    assert info.status == JobStatus.FAILED and info.error is not None
    assert "timeout" in info.error["message"]


async def test_enqueue_middleware_sees_and_changes_the_requests(queue: aqueue.Queue) -> None:
    calls: list[str] = []

    @queue.middleware.enqueue
    async def stamp(
        requests: list[aqueue.JobRequest], call_next: EnqueueNext
    ) -> list[aqueue.Job[Any]]:
        calls.append(f"stamp {len(requests)}")
        changed = [
            dataclasses.replace(r, kwargs={**r.kwargs, "who": tenant.get()}) for r in requests
        ]
        jobs = await call_next(changed)
        calls.append(f"written {len(jobs)}")
        return jobs

    @queue.middleware.enqueue
    async def audit(
        requests: list[aqueue.JobRequest], call_next: EnqueueNext
    ) -> list[aqueue.Job[Any]]:
        calls.append(f"audit {[r.kwargs['who'] for r in requests]}")
        return await call_next(requests)

    @queue.task(name="hello")
    async def hello(who: str = "?") -> str:
        return who

    tenant.set("acme")
    one = await hello.enqueue()
    many = await queue.enqueue_many([hello.prepare(), hello.prepare()])
    assert calls == [
        "stamp 1",
        "audit ['acme']",
        "written 1",
        "stamp 2",
        "audit ['acme', 'acme']",
        "written 2",
    ]
    for job in [one, *many]:
        assert (await job.refresh()).kwargs == {"who": "acme"}


async def test_an_enqueue_middleware_that_raises_writes_nothing(queue: aqueue.Queue) -> None:
    @queue.middleware.enqueue
    async def refuse(
        requests: list[aqueue.JobRequest], call_next: EnqueueNext
    ) -> list[aqueue.Job[Any]]:
        raise PermissionError("tenant over quota")

    @queue.task(name="denied")
    async def denied() -> None:
        return None

    with pytest.raises(PermissionError, match="over quota"):
        await denied.enqueue()
    assert await queue.jobs.list(JobFilter(tasks=("denied",))) == []


def test_sync_enqueue_goes_through_the_middleware(database: TestDatabase) -> None:
    queue = aqueue.Queue(database.dsn)
    seen: list[int] = []

    @queue.middleware.enqueue
    async def count(
        requests: list[aqueue.JobRequest], call_next: EnqueueNext
    ) -> list[aqueue.Job[Any]]:
        seen.append(len(requests))
        return await call_next(requests)

    @queue.task(name="from_sync")
    async def from_sync() -> None:
        return None

    job = from_sync.enqueue_sync()
    assert seen == [1] and queue.get_job_sync(job.id) is not None


def test_middleware_must_be_callable() -> None:
    with pytest.raises(TypeError, match="async callable"):
        aqueue.Queue("sqlite:///:memory:").middleware("not a function")  # type: ignore[type-var]
