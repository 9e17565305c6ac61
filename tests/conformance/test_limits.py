"""Global concurrency and rate limits, enforced in the claim, on each backend.

In-process workers here (two where it is about several); the bounds under
three worker processes and 1,000 jobs are in tests/acceptance/test_limit_workers.py.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.records import JobFilter, TaskLimit
from aqueue.validation import parse_rate
from aqueue.worker import Worker
from tests.databases import TestDatabase


class Gauge:
    """Jobs running at once, overall and per key, at their highest."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.starts: list[float] = []

    async def hold(self, key: str, seconds: float) -> None:
        self.starts.append(time.monotonic())
        for k in (key, "*"):
            self.now[k] += 1
            self.peak[k] = max(self.peak[k], self.now[k])
        try:
            await asyncio.sleep(seconds)
        finally:
            for k in (key, "*"):
                self.now[k] -= 1


def most_in_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    best, left = 0, 0
    for right, t in enumerate(starts):
        while t - starts[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best


async def run_workers(queue: aqueue.Queue, count: int, *, concurrency: int = 10) -> None:
    workers = [
        Worker(queue, concurrency=concurrency, burst=True, register=False, poll_interval=0.05)
        for _ in range(count)
    ]
    await asyncio.wait_for(asyncio.gather(*(w.run() for w in workers)), 60)


async def all_succeeded(queue: aqueue.Queue, count: int) -> None:
    jobs = await queue.jobs.list(JobFilter(limit=10_000))
    assert len(jobs) == count
    assert Counter(j.status for j in jobs) == {JobStatus.SUCCEEDED: count}


async def test_concurrency_holds_across_two_workers(queue: aqueue.Queue) -> None:
    gauge = Gauge()

    @queue.task(name="capped", concurrency=2)
    async def capped(n: int) -> int:
        await gauge.hold("capped", 0.03)
        return n

    await queue.enqueue_many([capped.prepare(n) for n in range(20)])
    await run_workers(queue, 2)
    assert gauge.peak["capped"] == 2  # reached, never passed
    await all_succeeded(queue, 20)


async def test_limit_key_applies_the_limit_per_key(queue: aqueue.Queue) -> None:
    gauge = Gauge()

    @queue.task(name="per_tenant", concurrency=1)
    async def per_tenant(tenant: str, n: int) -> None:
        await gauge.hold(tenant, 0.03)

    await queue.enqueue_many(
        [per_tenant.using(limit_key=f"tenant:{t}").prepare(t, n) for n in range(5) for t in "abc"]
    )
    info = await queue.jobs.list(JobFilter(limit=1))
    assert info[0].task == "per_tenant"
    await run_workers(queue, 2)
    assert [gauge.peak[t] for t in "abc"] == [1, 1, 1]
    assert gauge.peak["*"] >= 2  # the keys ran side by side
    await all_succeeded(queue, 15)


async def test_held_back_jobs_do_not_block_the_jobs_behind_them(queue: aqueue.Queue) -> None:
    order: list[str] = []

    @queue.task(name="slow_capped", concurrency=1)
    async def slow_capped(n: int) -> None:
        await asyncio.sleep(0.05)
        order.append("capped")

    @queue.task(name="free")
    async def free(n: int) -> None:
        order.append("free")

    await queue.enqueue_many([slow_capped.prepare(n) for n in range(10)])
    await queue.enqueue_many([free.prepare(n) for n in range(10)])
    await run_workers(queue, 1)
    # Every unlimited job ran before the capped backlog (0.5 s of it) was through.
    assert order.index("free") < 3 and order[-1] == "capped"
    assert order.count("free") == 10


async def test_rate_limit_holds_in_any_window(queue: aqueue.Queue) -> None:
    gauge = Gauge()

    @queue.task(name="throttled", rate_limit="5/s")
    async def throttled(n: int) -> None:
        await gauge.hold("throttled", 0)

    await queue.enqueue_many([throttled.prepare(n) for n in range(12)])
    began = time.monotonic()
    await run_workers(queue, 2)
    # 12 starts at 5 per second: the third five cannot start before 2 s.
    assert time.monotonic() - began >= 2.0
    # Starts are stamped by the task, a little after the claim that counted
    # them: a window a few milliseconds short of the second absorbs that skew.
    assert most_in_window(gauge.starts, 0.95) == 5
    await all_succeeded(queue, 12)


async def test_jobs_with_a_limit_key_the_worker_does_not_know_still_run(
    database: TestDatabase,
) -> None:
    """A producer whose task has limits, a worker whose task has none (a deploy
    in between): the worker runs them, unlimited, rather than never."""
    producer = aqueue.Queue(database.dsn)

    @producer.task(name="changed", concurrency=1)
    async def changed() -> None: ...

    worker_queue = aqueue.Queue(database.dsn)

    @worker_queue.task(name="changed")
    async def changed_now() -> None: ...

    async with producer, worker_queue:
        await producer.enqueue_many([changed.prepare() for _ in range(3)])
        await worker_queue.process(3)
        await all_succeeded(worker_queue, 3)


async def test_bad_limits_are_refused_where_they_are_given(queue: aqueue.Queue) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        queue.task(name="x", rate_limit="lots")
    with pytest.raises(ValueError, match="concurrency"):
        queue.task(name="y", concurrency=0)

    @queue.task(name="plain")
    async def plain() -> None: ...

    with pytest.raises(ValueError, match="no concurrency or rate limit"):
        plain.using(limit_key="tenant:1")

    @queue.task(name="limited", concurrency=3)
    async def limited() -> None: ...

    with pytest.raises(ValueError, match="control characters"):
        limited.using(limit_key="bad\x00key")
    assert await queue.jobs.list(JobFilter(limit=10)) == []


def test_rates_read_as_people_write_them() -> None:
    assert parse_rate("100/m") == (100, 60.0)
    assert parse_rate("5/s") == (5, 1.0)
    assert parse_rate("1000/h") == (1000, 3600.0)
    assert parse_rate("10/5s") == (10, 5.0)
    for bad in ("0/s", "5", "5/d", "-1/s", "x/m"):
        with pytest.raises(ValueError):
            parse_rate(bad)
    limit = TaskLimit("t", concurrency=3, rate=10, period=1.0)
    assert limit.available(running=1, recent_starts=9) == 1
    assert limit.available(running=3, recent_starts=0) == 0
    assert TaskLimit("t").available(5, 5) is None


async def test_one_claim_visits_keys_in_turn_and_says_what_it_held_back(
    queue: aqueue.Queue,
) -> None:
    """The claim's own steps (one function call on PostgreSQL): keys are
    served in turn from where the last claim stopped, a key at its limit is
    held back and said to be, and the jobs of a task the worker has no limits
    for are claimed without them."""
    from aqueue.backends.base import Limits
    from aqueue.limits import LimitedClaimer

    @queue.task(name="sync", concurrency=2)
    async def sync(n: int) -> None: ...

    for key in ("a", "b"):
        await queue.enqueue_many([sync.using(limit_key=key).prepare(n) for n in range(4)])
    backend = queue.backend
    assert isinstance(backend, Limits)
    limits = {"sync": TaskLimit("sync", 2)}

    async def keys(jobs: list[aqueue.records.ClaimedJob]) -> list[str]:
        return [str(info.limit_key) for j in jobs if (info := await queue.get_job(j.id))]

    claimer = LimitedClaimer(backend, "w1", None, 60.0, limits)
    first, _ = await claimer.claim(1)
    second, _ = await claimer.claim(1)
    # One from each key, in turn: the second claim starts after the first's key.
    assert await keys(first) + await keys(second) == ["a", "b"]
    # Each key has one place left of its two: a claim of ten takes two, and
    # says it was held back (more may start once a place frees).
    third, waiting = await claimer.claim(10)
    assert sorted(await keys(third)) == ["a", "b"] and waiting == "slot"
    # Both keys are full: a claim takes nothing and says it waits for a limit.
    # (A new claimer: this one rests 50 ms after a claim that took nothing.)
    full = LimitedClaimer(backend, "w2", None, 60.0, limits)
    assert await full.claim(10) == ([], "limit")
    # A worker that knows no limits of "sync" takes the rest without them.
    unaware = LimitedClaimer(backend, "w3", None, 60.0, {})
    rest, _ = await unaware.claim(10)
    assert len(rest) == 4
