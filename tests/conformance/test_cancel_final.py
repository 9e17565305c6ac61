"""A cancel request is final (SPEC §5.9): rescue, retry and hand-back end such a
job ``cancelled``, never run it again. On PostgreSQL the holder hears at once."""

from __future__ import annotations

import asyncio
import time

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.records import Outcome
from tests.raw import expire_leases


async def _claimed(queue: aqueue.Queue, worker: str, lease: float) -> aqueue.Job[None]:
    @queue.task(name="victim", max_attempts=5)
    async def victim() -> None:
        return None

    job = await victim.enqueue()
    [claimed] = await queue.backend.claim_jobs(worker, None, 1, lease)
    assert claimed.id == job.id
    assert await job.cancel() == JobStatus.RUNNING
    return job


async def test_rescue_of_a_cancelled_job_ends_it(queue: aqueue.Queue) -> None:
    job = await _claimed(queue, "dies", 30)
    await expire_leases(queue, "dies")
    assert await queue.backend.rescue_expired_leases() == 1
    info = await job.refresh()
    assert info.status == JobStatus.CANCELLED and info.finished_at is not None
    assert await queue.process(5) == 0
    with pytest.raises(aqueue.JobCancelled):
        await job.result(timeout=2)


async def test_retry_of_a_cancelled_job_ends_it(queue: aqueue.Queue) -> None:
    job = await _claimed(queue, "w", 30)
    retry = Outcome(job.id, 1, JobStatus.QUEUED, error='{"type":"E","message":"m"}', retry_delay=0)
    assert await queue.backend.complete_jobs("w", [retry]) == []
    assert (await job.refresh()).status == JobStatus.CANCELLED
    assert await queue.process(5) == 0


async def test_hand_back_of_a_cancelled_job_ends_it(queue: aqueue.Queue) -> None:
    job = await _claimed(queue, "w", 30)
    assert await queue.backend.hand_back("w", [(job.id, 1)]) == 1
    info = await job.refresh()
    assert (info.status, info.attempts) == (JobStatus.CANCELLED, 1)
    assert await queue.process(5) == 0


async def test_hand_back_and_progress_are_fenced_by_worker(queue: aqueue.Queue) -> None:
    @queue.task(name="held")
    async def held() -> None:
        return None

    job = await held.enqueue()
    await queue.backend.claim_jobs("owner", None, 1, 30)
    assert await queue.backend.hand_back("stranger", [(job.id, 1)]) == 0
    assert not await queue.backend.set_progress(job.id, 1, "stranger", "1")
    assert await queue.backend.set_progress(job.id, 1, "owner", "2")
    info = await job.refresh()
    assert (info.status, info.progress) == (JobStatus.RUNNING, 2)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_cancel_reaches_the_worker_at_once_on_postgres(queue: aqueue.Queue) -> None:
    started = asyncio.Event()

    @queue.task(name="endless")
    async def endless() -> None:
        started.set()
        await asyncio.sleep(600)

    job = await endless.enqueue()
    worker = aqueue.Worker(queue, concurrency=1, lease=30)  # renewals every 10 s
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(started.wait(), 10)
        began = time.monotonic()
        assert await job.cancel() == JobStatus.RUNNING
        with pytest.raises(aqueue.JobCancelled):
            await job.result(timeout=5)
        # Not the next renewal, 10 s away: the NOTIFY.
        assert time.monotonic() - began < 5
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)


async def test_a_cancel_stops_a_running_job_within_a_second(queue: aqueue.Queue) -> None:
    """Regression: on MariaDB a 5 s job cancelled at 0.3 s ended succeeded at
    5 s (the cancel was seen at the next lease renewal). Every database now
    stops it within a second: PostgreSQL and SQLite are told, MariaDB's
    worker asks twice a second while it runs jobs."""
    started = asyncio.Event()
    finished = False

    @queue.task(name="long")
    async def long() -> None:
        nonlocal finished
        started.set()
        await asyncio.sleep(5)
        finished = True

    job = await long.enqueue()
    worker = aqueue.Worker(queue, concurrency=1, lease=30)  # renewals every 10 s
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(started.wait(), 10)
        began = time.monotonic()
        assert await job.cancel() == JobStatus.RUNNING
        with pytest.raises(aqueue.JobCancelled):
            await job.result(timeout=5)
        assert time.monotonic() - began < 1.5
        assert not finished
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
    assert (await job.refresh()).status == JobStatus.CANCELLED
