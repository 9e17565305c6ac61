"""Pausing a queue: its jobs are not claimed by any worker (running ones
finish), enqueue still works, and the state survives restarts."""

from __future__ import annotations

import asyncio
import time

import pytest

import aqueue
from aqueue import JobStatus
from tests.databases import TestDatabase


async def test_a_paused_queue_is_not_claimed_until_resumed(queue: aqueue.Queue) -> None:
    @queue.task(name="noop")
    async def noop() -> None:
        return None

    await queue.pause("mail")
    assert await queue.paused() == ["mail"]
    held = await noop.using(queue="mail").enqueue()  # enqueue still works
    other = await noop.using(queue="default").enqueue()
    assert await queue.process(10) == 1
    assert (await other.refresh()).status == JobStatus.SUCCEEDED
    assert (await held.refresh()).status == JobStatus.QUEUED
    assert await queue.backend.claim_jobs("w", ["mail"], 10, 30) == []
    await queue.resume("mail")
    assert await queue.paused() == []
    assert await queue.process(10) == 1
    assert (await held.refresh()).status == JobStatus.SUCCEEDED


async def test_running_jobs_of_a_paused_queue_finish(queue: aqueue.Queue) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    @queue.task(name="slow", queue="mail")
    async def slow() -> str:
        started.set()
        await release.wait()
        return "done"

    first = await slow.enqueue()
    worker = aqueue.Worker(queue, concurrency=5, poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    await queue.pause("mail")
    second = await slow.enqueue()
    release.set()
    assert await first.result(timeout=10) == "done"
    # A few polls: nothing more is claimed.
    await worker.signals.idle.wait(worker.signals.idle.count + 3)
    assert (await second.refresh()).status == JobStatus.QUEUED
    await queue.resume("mail")  # wakes the worker in this process at once
    assert await second.result(timeout=10) == "done"
    worker.stop()
    await asyncio.wait_for(running, 10)


async def test_a_pause_survives_a_restart(database: TestDatabase) -> None:
    async with aqueue.Queue(database.dsn) as first:
        await first.pause("reports")
    async with aqueue.Queue(database.dsn) as second:
        assert await second.paused() == ["reports"]
        await second.resume("reports")
        assert await second.paused() == []


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_resume_wakes_an_idle_worker_elsewhere_at_once(database: TestDatabase) -> None:
    producer = aqueue.Queue(database.dsn)
    worker_queue = aqueue.Queue(database.dsn)

    @worker_queue.task(name="quick")
    async def quick() -> int:
        return 1

    async with producer, worker_queue:
        await producer.pause("q")
        job = await producer.task_named("quick").using(queue="q").enqueue()
        worker = aqueue.Worker(worker_queue, concurrency=1, poll_interval=30)
        running = asyncio.create_task(worker.run())
        await worker.signals.idle.wait(1)  # listening, and found nothing to claim
        assert (await job.refresh()).status == JobStatus.QUEUED
        began = time.monotonic()
        await producer.resume("q")
        assert await job.result(timeout=5) == 1
        assert time.monotonic() - began < 5  # NOTIFY, not the 30 s poll
        worker.stop()
        await asyncio.wait_for(running, 10)
