"""Jobs a worker claims ahead of its free slots (``prefetch``)."""

from __future__ import annotations

import asyncio

import aqueue
from aqueue import JobStatus
from aqueue.records import JobFilter
from tests.counting import totals


async def _held_setup(queue: aqueue.Queue) -> tuple[asyncio.Event, asyncio.Event, list[str]]:
    started = asyncio.Event()
    release = asyncio.Event()
    ran: list[str] = []

    @queue.task(name="blocker")
    async def blocker(n: int) -> int:
        ran.append(str(n))
        started.set()
        await release.wait()
        return n

    await queue.enqueue_many([blocker.prepare(n) for n in range(5)])
    return started, release, ran


async def _statuses(queue: aqueue.Queue) -> dict[str, int]:
    return (await totals(queue)).get("default", {})


async def test_jobs_held_ahead_go_back_to_the_queue_at_shutdown(queue: aqueue.Queue) -> None:
    started, release, ran = await _held_setup(queue)
    worker = aqueue.Worker(queue, concurrency=1, prefetch=3, poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    # One job runs and three more are claimed ahead: all four are leased.
    assert (await _statuses(queue)).get("running") == 4
    worker.stop()
    await worker.signals.handed_back.wait(3)
    # The held ones are back at once, before the running job has finished...
    assert (await _statuses(queue)).get("queued") == 4
    release.set()
    await asyncio.wait_for(running, 10)
    # ...and their attempt is not counted: they never ran.
    jobs = await queue.jobs.list(JobFilter(statuses=("queued",)))
    assert len(jobs) == 4 and all(j.attempts == 0 for j in jobs)
    assert len(ran) == 1 and (await _statuses(queue)).get("succeeded") == 1


async def test_cancelling_a_job_held_ahead_means_it_never_runs(queue: aqueue.Queue) -> None:
    started, release, ran = await _held_setup(queue)
    worker = aqueue.Worker(queue, concurrency=1, prefetch=3, lease=0.6, poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    held = [
        j
        for j in await queue.jobs.list(JobFilter(statuses=("running",)))
        if j.args != [int(ran[0])]
    ]
    assert len(held) == 3
    await queue.job(held[0].id).cancel()
    # The lease keeper (every lease/3 s; at once on PostgreSQL) drops the job:
    # its cancelled outcome is written.
    await worker.signals.written.wait(1)
    release.set()
    await worker.signals.written.wait(5)  # and the four others ran
    worker.stop()
    await asyncio.wait_for(running, 10)
    assert (await queue.job(held[0].id).refresh()).status == JobStatus.CANCELLED
    assert str(held[0].args[0]) not in ran and len(ran) == 4
