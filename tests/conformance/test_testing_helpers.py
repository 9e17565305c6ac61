"""aqueue.testing on each backend: the clock moves due times, drain runs
retries and delays, eager enqueue returns finished jobs or raises, and the
record of what was enqueued; the queue is put back as it was."""

from __future__ import annotations

from typing import Any

import pytest

import aqueue
from aqueue.testing import queue_under_test
from tests.counting import pending
from tests.databases import TestDatabase


def make_app() -> tuple[aqueue.Queue, dict[str, aqueue.Task[..., Any]]]:
    app = aqueue.Queue("sqlite:///never-opened-by-these-tests.db")
    calls: list[str] = []

    @app.task(name="double")
    async def double(value: int) -> int:
        return value * 2

    @app.task(name="shaky", max_attempts=3, backoff=aqueue.Backoff(base=600, jitter=0))
    async def shaky() -> str:
        calls.append("shaky")
        if len(calls) < 3:
            raise RuntimeError(f"attempt {len(calls)}")
        return "third time"

    @app.task(name="fan_out")
    async def fan_out(n: int) -> int:
        for i in range(n):
            await double.enqueue(i)
        return n

    @app.task(name="broken", max_attempts=2, backoff=aqueue.Backoff(base=60, jitter=0))
    async def broken() -> None:
        raise ValueError("always")

    return app, {"double": double, "shaky": shaky, "fan_out": fan_out, "broken": broken}


async def test_drain_runs_retries_and_delays_on_the_clock(database: TestDatabase) -> None:
    app, tasks = make_app()
    async with queue_under_test(app, database.dsn) as queue:
        later = await tasks["double"].using(delay=86400).enqueue(5)
        shaky = await tasks["shaky"].enqueue()
        assert await queue.drain(advance=False) == 1  # shaky's first attempt; the rest wait
        info = await queue.get_job(shaky.id)
        assert info is not None and info.status == "queued" and info.attempts == 1
        assert await queue.drain() == 3  # two back-offs of 10 minutes, a day's delay
        assert await shaky.result(timeout=1) == "third time"
        assert await later.result(timeout=1) == 10
        assert 86000 < queue.advanced < 86401  # less the real time that passed


async def test_advance_moves_only_what_the_clock_reaches(database: TestDatabase) -> None:
    app, tasks = make_app()
    async with queue_under_test(app, database.dsn) as queue:
        soon = await tasks["double"].using(delay=60).enqueue(1)
        late = await tasks["double"].using(delay=7200).enqueue(2)
        assert await queue.advance(61) == 2
        assert await queue.drain(advance=False) == 1
        assert (await queue.get_job(soon.id)).status == "succeeded"
        assert (await queue.get_job(late.id)).status == "queued"
        with pytest.raises(ValueError, match="forwards"):
            await queue.advance(-1)


async def test_enqueued_records_requests(database: TestDatabase) -> None:
    app, tasks = make_app()
    async with queue_under_test(app, database.dsn) as queue:
        await tasks["double"].using(queue="math", priority=3).enqueue(21)
        await app.enqueue("double", 4)
        await app.enqueue_many([tasks["double"].prepare(i) for i in range(3)])
        await tasks["fan_out"].enqueue(2)
        assert len(queue.enqueued(task=tasks["double"])) == 5
        [math] = queue.enqueued(task="double", queue="math")
        assert (math.args, math.priority) == ([21], 3)
        assert queue.enqueued(task="double", args=(4,))  # a tuple equals the stored list
        assert queue.enqueued(task="double", args=[99]) == []
        await queue.drain()
        # Jobs enqueued by jobs are recorded too.
        assert len(queue.enqueued(task="double")) == 7
        queue.clear()
        assert queue.enqueued() == []


async def test_eager_enqueue_returns_finished_jobs(database: TestDatabase) -> None:
    app, tasks = make_app()
    async with queue_under_test(app, database.dsn, eager=True) as queue:
        job = await tasks["double"].using(delay=3600).enqueue(8)
        info = await queue.get_job(job.id)
        assert info is not None and info.status == "succeeded" and info.result == 16
        fan = await tasks["fan_out"].enqueue(3)  # its children run before enqueue returns
        assert await fan.result(timeout=0) == 3
        assert [j.status for j in await queue.jobs.list()].count("succeeded") == 5
        with pytest.raises(aqueue.JobFailed, match="always") as failed:
            await tasks["broken"].enqueue()
        assert failed.value.error_type == "ValueError"
        broken = await queue.get_job(failed.value.job_id)
        assert broken is not None and broken.attempts == 2  # retried on the clock


async def test_the_queue_is_put_back(database: TestDatabase) -> None:
    app, tasks = make_app()
    before = app.dsn
    async with queue_under_test(app, database.dsn):
        await tasks["double"].enqueue(1)
    assert app.dsn == before and not app.middleware.enqueues
    async with queue_under_test(app) as queue:  # in memory, empty again
        assert await pending(queue.queue) == 0


async def test_sync_calls_refuse_an_in_memory_database() -> None:
    app, _ = make_app()
    async with queue_under_test(app):
        with pytest.raises(aqueue.ConfigurationError, match="in-memory"):
            app.sync_bridge()
