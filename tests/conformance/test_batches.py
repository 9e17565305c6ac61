"""Batches on each backend: jobs added over time by several producers, then
closed; each callback runs once, when every job has ended, with the counts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aqueue
from aqueue import JobStatus


def batch_tasks(
    queue: aqueue.Queue, ran: list[Any], five_ran: asyncio.Event | None = None
) -> dict[str, aqueue.Task]:  # type: ignore[type-arg]
    five_ran = five_ran or asyncio.Event()

    @queue.task(name="member")
    async def member(n: int) -> int:
        ran.append(("member", n))
        if sum(r[0] == "member" for r in ran) == 5:
            five_ran.set()
        return n

    @queue.task(name="broken", max_attempts=1)
    async def broken(n: int) -> None:
        ran.append(("broken", n))
        raise RuntimeError(f"member {n} broke")

    @queue.task(name="callback")
    async def callback(counts: dict[str, Any], on: str) -> str:
        ran.append((on, counts))
        return on

    return {"member": member, "broken": broken, "callback": callback}


async def _open(queue: aqueue.Queue, t: dict[str, aqueue.Task]) -> aqueue.Batch:  # type: ignore[type-arg]
    cb = t["callback"]
    return await queue.open_batch(
        on_success=cb.link("success"),
        on_failure=cb.link("failure"),
        on_complete=cb.link("complete"),
    )


def _calls(ran: list[Any], on: str) -> list[dict[str, Any]]:
    return [r[1] for r in ran if r[0] == on]


async def test_callbacks_wait_for_the_close_and_every_job(queue: aqueue.Queue) -> None:
    ran: list[Any] = []
    t = batch_tasks(queue, ran)
    batch = await _open(queue, t)
    await batch.add([t["member"].prepare(n) for n in range(3)])
    # Another producer, with only the id: a queue object of its own.
    other = aqueue.Queue(queue.dsn)
    async with other:
        await other.batch(batch.id).add([other.task_named("member").prepare(n) for n in (3, 4)])
    await queue.drain()
    assert sorted(n for kind, n in ran if kind == "member") == [0, 1, 2, 3, 4]
    assert not any(r[0] in ("success", "complete") for r in ran)  # still open
    assert not await batch.is_closed()
    assert await batch.close() is True
    assert await batch.is_closed() and await batch.close() is False  # once
    await queue.drain()
    counts = {"batch": batch.id, "total": 5, "succeeded": 5, "failed": 0, "cancelled": 0}
    assert _calls(ran, "success") == [counts] and _calls(ran, "complete") == [counts]
    assert _calls(ran, "failure") == []
    callbacks = await batch.callbacks()
    assert await callbacks["success"].result(timeout=5) == "success"
    failure = await callbacks["failure"].refresh()
    assert failure.status == JobStatus.CANCELLED and failure.error is not None
    assert "had no failed or cancelled job" in failure.error["message"]
    assert await batch.counts() == {"succeeded": 5}
    # The batch's row goes with its anchor, the on_complete callback.
    assert await queue.jobs.delete(callbacks["complete"].id) == JobStatus.SUCCEEDED
    with pytest.raises(aqueue.BatchClosed, match="does not exist"):
        await batch.is_closed()


async def test_a_failure_cancels_on_success_and_runs_on_failure(queue: aqueue.Queue) -> None:
    ran: list[Any] = []
    t = batch_tasks(queue, ran)
    batch = await _open(queue, t)
    await batch.add([t["member"].prepare(1), t["broken"].prepare(2), t["member"].prepare(3)])
    await queue.drain()
    callbacks = await batch.callbacks()
    success = await callbacks["success"].refresh()  # cancelled at once, before the close
    assert success.status == JobStatus.CANCELLED and success.error is not None
    assert success.error["type"] == "ParentFailed"
    await batch.close()
    await queue.drain()
    counts = {"batch": batch.id, "total": 3, "succeeded": 2, "failed": 1, "cancelled": 0}
    assert _calls(ran, "failure") == [counts] and _calls(ran, "complete") == [counts]
    assert _calls(ran, "success") == []


async def test_a_closed_batch_takes_no_more_jobs(queue: aqueue.Queue) -> None:
    ran: list[Any] = []
    t = batch_tasks(queue, ran)
    batch = await _open(queue, t)
    await batch.close()
    with pytest.raises(aqueue.BatchClosed, match="is closed"):
        await batch.add([t["member"].prepare(1), t["member"].prepare(2)])
    assert await batch.counts() == {}
    missing = queue.batch("0193a1b2-0000-7000-8000-000000000000")
    with pytest.raises(aqueue.BatchClosed, match="does not exist"):
        await missing.add([t["member"].prepare(1)])
    with pytest.raises(aqueue.BatchClosed, match="does not exist"):
        await missing.close()
    with pytest.raises(ValueError, match="batch id"):
        queue.batch("nope")
    with pytest.raises(ValueError, match="needs a callback"):
        await queue.open_batch()
    with pytest.raises(ValueError, match="unique key"):
        await batch.add([t["member"].using(unique_key="k").prepare(1)])
    # An empty batch, closed: success and complete run, with nothing counted.
    await queue.drain()
    empty = {"batch": batch.id, "total": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
    assert _calls(ran, "success") == [empty] and _calls(ran, "complete") == [empty]
    assert not any(r[0] == "member" for r in ran)


async def test_jobs_added_while_others_end_are_all_waited_for(queue: aqueue.Queue) -> None:
    """Producers add in parallel while a worker runs the batch's jobs; the
    close races the last adds: every job that went in is counted, once."""
    ran: list[Any] = []
    five_ran = asyncio.Event()
    t = batch_tasks(queue, ran, five_ran)
    batch = await _open(queue, t)
    worker = aqueue.Worker(queue, concurrency=5, poll_interval=0.05)
    running = asyncio.create_task(worker.run())

    async def produce(first: int) -> int:
        added = 0
        for n in range(first, first + 10):
            try:
                await batch.add([t["member"].prepare(n)])
                added += 1
            except aqueue.BatchClosed:
                break
        return added

    producers = [asyncio.create_task(produce(p * 100)) for p in range(4)]
    await asyncio.wait_for(five_ran.wait(), 30)  # the worker is running the batch's jobs
    await batch.close()
    added = sum(await asyncio.gather(*producers))
    callbacks = await batch.callbacks()
    await callbacks["complete"].result(timeout=30)
    await callbacks["success"].result(timeout=30)
    worker.stop()
    await running
    [counts] = _calls(ran, "complete")
    assert counts["total"] == counts["succeeded"] == added
    assert len([r for r in ran if r[0] == "member"]) == added
    assert _calls(ran, "success") == [counts]
