"""Per-queue slots in one worker (``aqueue-worker --queue emails=1 --queue
default=2``): each queue runs at most its own slots at once, a freed slot is
taken at once by its queue's waiting jobs, and global task limits still hold."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

import aqueue
from aqueue import JobStatus


class Gate:
    """Jobs that hold their slot until let go, counting how many of each queue
    run at once."""

    def __init__(self) -> None:
        self.running: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.started = asyncio.Condition()
        self.names: set[str] = set()
        self.go: dict[str, asyncio.Event] = {}

    async def hold(self, queue: str, n: int) -> int:
        async with self.started:
            self.names.add(f"{queue}{n}")
            self.running[queue] += 1
            self.most[queue] = max(self.most[queue], self.running[queue])
            self.started.notify_all()
        try:
            await self.go.setdefault(f"{queue}{n}", asyncio.Event()).wait()
        finally:
            self.running[queue] -= 1
        return n

    def release(self, queue: str, n: int) -> None:
        self.go.setdefault(f"{queue}{n}", asyncio.Event()).set()

    async def until_started(self, *names: str) -> None:
        async with self.started:
            await asyncio.wait_for(self.started.wait_for(lambda: self.names >= set(names)), 10)

    async def until(self, counts: dict[str, int]) -> None:
        async with self.started:
            await asyncio.wait_for(
                self.started.wait_for(lambda: all(self.running[q] == c for q, c in counts.items())),
                10,
            )


async def test_each_queue_runs_at_most_its_own_slots(queue: aqueue.Queue) -> None:
    gate = Gate()

    @queue.task(name="held")
    async def held(q: str, n: int) -> int:
        return await gate.hold(q, n)

    jobs = [
        await held.using(queue=q).enqueue(q, n) for q in ("emails", "default") for n in range(4)
    ]
    # A poll of 30 s: every start below comes from a freed slot, not a poll.
    worker = aqueue.Worker(
        queue, queue_slots={"emails": 1, "default": 2}, poll_interval=30, probe_interval=0
    )
    assert worker.concurrency == 3 and worker.queues == ["emails", "default"]
    running = asyncio.create_task(worker.run())
    try:
        await gate.until_started("emails0", "default0", "default1")
        assert gate.names == {"emails0", "default0", "default1"}
        # Each freed slot is taken by the next job of its own queue.
        gate.release("emails", 0)
        await gate.until_started("emails1")
        gate.release("default", 0)
        await gate.until_started("default2")
        gate.release("default", 1)
        await gate.until_started("default3")
        assert gate.names == {"emails0", "emails1", "default0", "default1", "default2", "default3"}
        for n in range(4):
            gate.release("emails", n)
            gate.release("default", n)
        for job in jobs:
            assert await job.result(timeout=10) in range(4)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
    assert gate.most == {"emails": 1, "default": 2}


async def test_a_full_queue_leaves_the_others_running(queue: aqueue.Queue) -> None:
    gate = Gate()

    @queue.task(name="held")
    async def held(q: str, n: int) -> int:
        return await gate.hold(q, n)

    @queue.task(name="quick", queue="default")
    async def quick(n: int) -> int:
        return n

    slow = [await held.using(queue="emails").enqueue("emails", n) for n in range(3)]
    worker = aqueue.Worker(queue, queue_slots={"emails": 1, "default": 1}, poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    try:
        await gate.until_started("emails0")
        # emails is full with two more due; default's jobs still run, one by one.
        fast = [await quick.enqueue(n) for n in range(5)]
        assert [await job.result(timeout=10) for job in fast] == list(range(5))
        assert gate.running["emails"] == 1
        for n in range(3):
            gate.release("emails", n)
        for job in slow:
            await job.result(timeout=10)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
    assert gate.most["emails"] == 1


async def test_global_task_limits_hold_within_a_queues_slots(queue: aqueue.Queue) -> None:
    gate = Gate()

    @queue.task(name="limited", queue="emails", concurrency=1)
    async def limited(n: int) -> int:
        return await gate.hold("emails", n)

    jobs = [await limited.enqueue(n) for n in range(3)]
    worker = aqueue.Worker(queue, queue_slots={"emails": 3}, poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    try:
        for n in range(3):
            await gate.until({"emails": 1})  # one at a time, though three slots are free
            (name,) = gate.names - {f"emails{m}" for m in range(n)}
            gate.release("emails", int(name[-1]))
            await jobs[int(name[-1])].result(timeout=10)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
    assert gate.most["emails"] == 1
    assert {(await j.refresh()).status for j in jobs} == {JobStatus.SUCCEEDED}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"queue_slots": {"a": 0}}, "at least 1|>= 1"),
        ({"queue_slots": {"a": 1.5}}, "whole number"),
        ({"queue_slots": {"": 1}}, "queue name"),
        ({"queue_slots": {"a": 1}, "queues": ["b"]}, "not both"),
        ({"queue_slots": {"a": 1}, "prefetch": 5}, "prefetch"),
    ],
)
async def test_bad_queue_slots_are_refused_by_name(
    queue: aqueue.Queue, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        aqueue.Worker(queue, **kwargs)  # type: ignore[arg-type]


async def test_concurrency_caps_the_sum_of_the_queues_slots(queue: aqueue.Queue) -> None:
    assert aqueue.Worker(queue, queue_slots={"a": 5, "b": 20}).concurrency == 25
    assert aqueue.Worker(queue, queue_slots={"a": 5, "b": 20}, concurrency=8).concurrency == 8
    assert aqueue.Worker(queue).concurrency == 10
