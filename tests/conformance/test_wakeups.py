"""Wake-ups without LISTEN: the idle worker's "is anything due" probe (MariaDB,
and wherever notifications are missing), and SQLite's wake-up socket."""

from __future__ import annotations

import asyncio

import aqueue
from aqueue.worker import Worker


async def test_the_probe_sees_what_a_claim_would_take(queue: aqueue.Queue) -> None:
    @queue.task(name="noop")
    async def noop() -> None:
        return None

    @queue.task(name="capped", concurrency=1)
    async def capped() -> None:
        return None

    backend = queue.backend
    assert not await backend.has_due(None)
    await noop.using(delay=3600).enqueue()  # not due
    assert not await backend.has_due(None)
    await queue.pause("mail")
    await noop.using(queue="mail").enqueue()  # due, but its queue is paused
    assert not await backend.has_due(None)
    assert not await backend.has_due(["mail"])
    await queue.resume("mail")
    assert await backend.has_due(None)
    assert await backend.has_due(["mail"])
    assert not await backend.has_due(["other"])
    await queue.process(10)
    assert not await backend.has_due(None)
    await capped.using(queue="limited").enqueue()  # due, for the limited claim
    assert await backend.has_due(["limited"])
    assert not await backend.has_due(["mail"])


async def test_an_idle_worker_without_notifications_probes(queue: aqueue.Queue) -> None:
    """With no listener, a worker whose poll is 30 s still starts a job enqueued
    while it is idle, because its probe finds it (regression: it waited the
    whole poll interval)."""
    started = asyncio.Event()

    @queue.task(name="mark")
    async def mark() -> None:
        started.set()

    worker = Worker(queue, poll_interval=30, probe_interval=0.05, register=False)
    # As on a database that cannot notify: no public switch turns LISTEN off.
    worker._listen = _no_listener  # type: ignore[method-assign]
    running = asyncio.create_task(worker.run())
    try:
        await worker.signals.idle.wait()  # into its 30 s wait
        other = aqueue.Queue(queue.dsn)
        async with other:
            # From another queue object: no in-process hook wakes the worker.
            await other.enqueue("mark")
        await asyncio.wait_for(started.wait(), 10)  # a third of its poll
    finally:
        worker.stop()
        await running


async def _no_listener() -> None:
    return None
