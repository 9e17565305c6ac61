"""The flow of jobs the dashboard charts (aqueue/flow.py), on each backend:
workers add up what they ended per minute and queue, one leader records the
depths, and old minutes go."""

from __future__ import annotations

import asyncio
import time

import aqueue
from aqueue.backends.base import Flow
from aqueue.flow import KEEP, FlowRecorder, minute_of
from aqueue.records import FlowRow
from aqueue.worker import Worker


def flow_of(queue: aqueue.Queue) -> Flow:
    backend = queue.backend
    assert isinstance(backend, Flow)
    return backend


async def test_workers_add_up_what_they_ended(queue: aqueue.Queue) -> None:
    tries: dict[int, int] = {}

    @queue.task(name="ok")
    async def ok() -> None:
        return None

    @queue.task(name="boom", max_attempts=1)
    async def boom() -> None:
        raise ValueError("no")

    @queue.task(name="flaky", max_attempts=2, backoff=aqueue.Backoff(base=0, jitter=0))
    async def flaky(n: int) -> None:
        tries[n] = tries.get(n, 0) + 1
        if tries[n] == 1:
            raise ValueError("first time")

    since = minute_of(time.time())
    await queue.enqueue_many(
        [ok.using(queue="mail").prepare() for _ in range(5)]
        + [boom.using(queue="web").prepare() for _ in range(2)]
        + [flaky.using(queue="web").prepare(n) for n in range(3)]
    )
    # Two workers, each adding its own counts to the same minutes.
    workers = [Worker(queue, burst=True, register=False, concurrency=4) for _ in range(2)]
    await asyncio.wait_for(asyncio.gather(*(w.run() for w in workers)), 60)

    def totals(rows: list[FlowRow]) -> tuple[int, int, int]:
        return (
            sum(r.succeeded for r in rows),
            sum(r.failed for r in rows),
            sum(r.retried for r in rows),
        )

    backend = flow_of(queue)
    assert totals(await backend.read_flow(since, "mail")) == (5, 0, 0)
    assert totals(await backend.read_flow(since, "web")) == (3, 2, 3)
    everything = await backend.read_flow(since, None)
    assert totals(everything) == (8, 2, 3)
    assert {r.queue for r in everything} == {"*"}
    assert [r.minute for r in everything] == sorted({r.minute for r in everything})


async def test_rows_for_one_minute_add_up_and_depths_and_pruning(queue: aqueue.Queue) -> None:
    backend = flow_of(queue)
    minute = minute_of(time.time())
    # Two flushes (two workers) of the same minute and queue add up.
    await backend.add_flow([FlowRow(minute, "a", 1, 2, 3), FlowRow(minute, "b", 1, 0, 0)])
    await backend.add_flow([FlowRow(minute, "a", 10, 20, 30)])
    await backend.set_depths(minute, [("a", 7), ("c", 0)])
    await backend.set_depths(minute, [("a", 8)])  # a second sample replaces the first
    rows = {r.queue: r for r in await backend.read_flow(minute, None)} | {
        r.queue: r for q in "abc" for r in await backend.read_flow(minute, q)
    }
    assert rows["a"] == FlowRow(minute, "a", 11, 22, 33, 8)
    assert rows["b"] == FlowRow(minute, "b", 1, 0, 0, None)
    assert rows["c"] == FlowRow(minute, "c", 0, 0, 0, 0)
    assert rows["*"] == FlowRow(minute, "*", 12, 22, 33, 8)
    old = minute - KEEP - 60
    await backend.add_flow([FlowRow(old, "a", 1)])
    assert len(await backend.read_flow(old, "a")) == 2
    await backend.prune_flow(minute - KEEP)
    assert [r.minute for r in await backend.read_flow(old, "a")] == [minute]


async def test_one_leader_samples_the_depths_once_a_minute(queue: aqueue.Queue) -> None:
    @queue.task(name="later")
    async def later() -> None:
        return None

    await queue.enqueue_many([later.using(queue="q1").prepare() for _ in range(3)])
    first, second = FlowRecorder.of(queue, "w1"), FlowRecorder.of(queue, "w2")
    assert first is not None and second is not None
    now = time.time()
    assert await first.sample(now)  # takes the lead
    assert not await first.sample(now)  # this minute is done
    assert not await second.sample(now)  # not the leader
    rows = await flow_of(queue).read_flow(minute_of(now), "q1")
    assert [(r.depth, r.succeeded) for r in rows] == [(3, 0)]
