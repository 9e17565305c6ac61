"""The workers registry: a worker registers, heartbeats with the jobs it runs,
deregisters on a clean exit; silent ones are marked dead, old ones pruned."""

from __future__ import annotations

import asyncio
import os
import socket

import aqueue
from aqueue.records import WorkerRegistration


async def test_a_running_worker_is_listed_with_its_jobs(queue: aqueue.Queue) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    @queue.task(name="held")
    async def held() -> None:
        started.set()
        await release.wait()

    job = await held.enqueue()
    worker = aqueue.Worker(queue, concurrency=3, queues=["default", "mail"], lease=0.9,
                           poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    [me] = [w for w in await queue.workers() if w.name == worker.name]
    assert (me.status, me.host, me.pid, me.concurrency) == (
        "running", socket.gethostname(), os.getpid(), 3)
    assert me.queues == ["default", "mail"] and me.version == aqueue.__version__
    assert me.running_jobs == [job.id]
    beat = me.heartbeat_at
    await asyncio.sleep(0.5)  # a heartbeat every lease / 3
    [me] = [w for w in await queue.workers() if w.name == worker.name]
    assert me.heartbeat_at > beat and me.expires_at > me.heartbeat_at
    release.set()
    worker.stop()
    await asyncio.wait_for(running, 10)
    [me] = [w for w in await queue.workers() if w.name == worker.name]
    assert me.status == "stopped" and me.stopped_at is not None and me.running_jobs == []


async def test_silent_workers_are_marked_dead_then_pruned(queue: aqueue.Queue) -> None:
    backend = queue.backend
    ghost = WorkerRegistration("ghost:1:abc", "elsewhere", 1, None, 5, "0.0.1")
    await backend.register_worker(ghost, ttl=0.2)
    [listed] = [w for w in await queue.workers() if w.name == ghost.name]
    assert listed.status == "running" and listed.queues is None
    await asyncio.sleep(0.4)
    marked, pruned = await backend.sweep_workers(retention=3600)
    assert marked >= 1 and pruned == 0
    [listed] = [w for w in await queue.workers() if w.name == ghost.name]
    assert listed.status == "dead"
    # Only stalled, not dead: its next heartbeat brings it back.
    assert await backend.heartbeat_worker(ghost.name, ttl=0.2)
    [listed] = [w for w in await queue.workers() if w.name == ghost.name]
    assert listed.status == "running"
    await asyncio.sleep(0.4)
    await backend.sweep_workers(retention=3600)
    await asyncio.sleep(0.1)
    _, pruned = await backend.sweep_workers(retention=0.05)
    assert pruned >= 1
    assert ghost.name not in {w.name for w in await queue.workers()}
    assert not await backend.heartbeat_worker(ghost.name, ttl=1)
