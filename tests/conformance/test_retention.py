"""Retention on each backend: finished jobs past their status's age, or their
task's result_ttl, are deleted in batches by one worker per interval."""

from __future__ import annotations

import asyncio

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.records import JobFilter
from aqueue.retention import Retention
from tests.databases import TestDatabase
from tests.raw import set_time

DAY = 86400.0


async def _finished(queue: aqueue.Queue) -> dict[str, list[str]]:
    """Jobs of each final status; per status one finished 10 days ago, one now."""

    @queue.task(name="ok")
    async def ok() -> None:
        return None

    @queue.task(name="cache", result_ttl="1h")
    async def cache() -> None:
        return None

    @queue.task(name="bad", max_attempts=1)
    async def bad() -> None:
        raise ValueError("no")

    made: dict[str, list[str]] = {}
    for label, task in (("succeeded", ok), ("cache", cache), ("failed", bad)):
        made[label] = [(await task.enqueue()).id for _ in range(2)]
    await queue.process(10)
    made["cancelled"] = [(await ok.using(delay=3600).enqueue()).id for _ in range(2)]
    for job_id in made["cancelled"]:
        await queue.jobs.cancel(job_id)
    for ids in made.values():
        await set_time(queue, ids[0], "finished_at", -10 * DAY)
    await set_time(queue, made["cache"][1], "finished_at", -7200)  # past its 1 h ttl
    return made


async def remaining(queue: aqueue.Queue) -> set[str]:
    return {j.id for j in await queue.jobs.list(JobFilter(limit=1000))}


async def test_a_sweep_deletes_what_is_past_its_age(queue: aqueue.Queue) -> None:
    made = await _finished(queue)
    retention = Retention.of(queue, "w:1", {"succeeded": 7 * DAY, "cancelled": 7 * DAY})
    assert retention is not None
    assert await retention.sweep() == 4  # old succeeded, old cancelled, both cache jobs
    assert await remaining(queue) == {made["succeeded"][1], made["cancelled"][1], *made["failed"]}


async def test_one_worker_sweeps_per_interval(database: TestDatabase) -> None:
    queues = [aqueue.Queue(database.dsn, retention={"failed": "1d"}) for _ in range(3)]
    for q in queues:
        await q.open()
    try:
        made = await _finished(queues[0])
        sweepers = [Retention.of(q, f"w:{n}") for n, q in enumerate(queues)]
        assert all(sweepers)
        results = await asyncio.gather(*(s.sweep() for s in sweepers if s))
        [winner] = [i for i, r in enumerate(results) if r is not None]
        # The old failed job; and, if the first queue won, the cache task's
        # two jobs past their result_ttl (only that queue has the task).
        assert results[winner] == (3 if winner == 0 else 1), results
        assert made["failed"][0] not in await remaining(queues[0])
        # The leader keeps the duty; the others keep out of it...
        again = await asyncio.gather(*(s.sweep() for s in sweepers if s))
        assert [r is not None for r in again] == [i == winner for i in range(3)]
        # ...until it stops: then the next to ask takes it over.
        leader = sweepers[winner]
        assert leader is not None and leader.leadership.term is not None
        await leader.stop()
        # (Not the first queue's: only it knows the cache task, whose jobs it would delete.)
        other = sweepers[2 if winner == 1 else 1]
        assert other is not None and await other.sweep() == 0
        assert other.leadership.term == 2
    finally:
        for q in queues:
            await q.close()


async def test_a_worker_applies_the_queue_retention(database: TestDatabase) -> None:
    queue = aqueue.Queue(database.dsn, retention={"succeeded": "2d"})
    async with queue:
        made = await _finished(queue)
        worker = aqueue.Worker(queue, retention_interval=0.2, poll_interval=0.1)
        assert worker.retention is not None
        running = asyncio.create_task(worker.run())
        try:
            await worker.retention.stepped.wait()
        finally:
            worker.stop()
            await asyncio.wait_for(running, 10)
        left = await remaining(queue)
        assert made["succeeded"][0] not in left and made["succeeded"][1] in left
        assert made["failed"][0] in left  # no retention for failed jobs: kept
        assert (await queue.get_job(made["cancelled"][0])).status == JobStatus.CANCELLED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"queued": "1d"}, "retention is for finished jobs"),
        ({"failed": "soon"}, "not a duration"),
        ({"failed": -5}, "positive"),
    ],
)
def test_bad_retention_is_refused(policy: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aqueue.Queue("sqlite:///:memory:", retention=policy)  # type: ignore[arg-type]


def test_bad_result_ttl_is_refused() -> None:
    queue = aqueue.Queue("sqlite:///:memory:")
    with pytest.raises(ValueError, match="not a duration"):
        queue.task(result_ttl="forever")(lambda: None)
