"""The workers registry: a worker registers, heartbeats with the jobs it runs,
deregisters on a clean exit; silent ones are marked dead, old ones pruned."""

from __future__ import annotations

import asyncio
import os
import socket

import aqueue
from aqueue._worker.rescuer import Rescuer
from aqueue.backends.base import Registry
from aqueue.records import WorkerRegistration
from tests.raw import age_workers


async def test_a_running_worker_is_listed_with_its_jobs(queue: aqueue.Queue) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    @queue.task(name="held")
    async def held() -> None:
        started.set()
        await release.wait()

    job = await held.enqueue()
    worker = aqueue.Worker(
        queue, concurrency=3, queues=["default", "mail"], lease=0.9, poll_interval=0.1
    )
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    [me] = [w for w in await queue.workers() if w.name == worker.name]
    assert (me.status, me.host, me.pid, me.concurrency) == (
        "running",
        socket.gethostname(),
        os.getpid(),
        3,
    )
    assert me.queues == ["default", "mail"] and me.version == aqueue.__version__
    assert me.running_jobs == [job.id]
    beat = me.heartbeat_at
    assert worker.heartbeat is not None
    await worker.heartbeat.stepped.wait(worker.heartbeat.stepped.count + 1)
    [me] = [w for w in await queue.workers() if w.name == worker.name]
    assert me.heartbeat_at > beat and me.expires_at > me.heartbeat_at
    release.set()
    worker.stop()
    await asyncio.wait_for(running, 10)
    [me] = [w for w in await queue.workers() if w.name == worker.name]
    assert me.status == "stopped" and me.stopped_at is not None and me.running_jobs == []


async def test_silent_workers_are_marked_dead_then_pruned(queue: aqueue.Queue) -> None:
    backend = queue.backend
    assert isinstance(backend, Registry)
    ghost = WorkerRegistration("ghost:1:abc", "elsewhere", 1, None, 5, "0.0.1")
    await backend.register_worker(ghost, ttl=0.2)
    [listed] = [w for w in await queue.workers() if w.name == ghost.name]
    assert listed.status == "running" and listed.queues is None
    await age_workers(queue, 1)  # silent for a second: past its 0.2 s
    marked, pruned = await backend.sweep_workers(retention=3600)
    assert marked >= 1 and pruned == 0
    [listed] = [w for w in await queue.workers() if w.name == ghost.name]
    assert listed.status == "dead"
    # Only stalled, not dead: its next heartbeat brings it back.
    assert await backend.heartbeat_worker(ghost.name, ttl=0.2)
    [listed] = [w for w in await queue.workers() if w.name == ghost.name]
    assert listed.status == "running"
    await age_workers(queue, 1)
    await backend.sweep_workers(retention=3600)
    await age_workers(queue, 1)  # dead for a second
    _, pruned = await backend.sweep_workers(retention=0.05)
    assert pruned >= 1
    assert ghost.name not in {w.name for w in await queue.workers()}
    assert not await backend.heartbeat_worker(ghost.name, ttl=1)


async def test_jobs_of_a_worker_whose_process_is_gone_are_rescued_at_once(
    queue: aqueue.Queue,
) -> None:
    """A worker of the same node whose pid no longer runs: its jobs go back
    without waiting for their leases; a live one's and another node's stay."""

    @queue.task(name="held_long")
    async def held_long() -> None:
        return None

    gone_proc = await asyncio.create_subprocess_exec("true")
    await gone_proc.wait()  # reaped: its pid is free
    backend = queue.backend
    assert isinstance(backend, Registry)
    node = "boot-1/pid:[1]"
    dead = WorkerRegistration("dead:1", "h", gone_proc.pid, None, 1, "x", node=node)
    alive = WorkerRegistration("alive:1", "h", os.getpid(), None, 1, "x", node=node)
    elsewhere = WorkerRegistration("far:1", "h", gone_proc.pid, None, 1, "x", node="other")
    jobs = {}
    for reg in (dead, alive, elsewhere):
        await backend.register_worker(reg, ttl=60)
        jobs[reg.name] = await held_long.enqueue()
        assert len(await backend.claim_jobs(reg.name, None, 1, 60)) == 1
    assert sorted(await backend.workers_on_node(node)) == [
        ("alive:1", os.getpid()),
        ("dead:1", gone_proc.pid),
    ]
    rescued: list[int] = []
    rescuer = Rescuer(
        backend,
        _AlwaysCurrent(),  # type: ignore[arg-type]
        rescued.append,
        release=_nothing,
        neighbours=backend.workers_on_node,
        node=node,
        name="me:1",
    )
    assert await rescuer.sweep() == 1
    info = await jobs["dead:1"].refresh()
    assert info.status == aqueue.JobStatus.QUEUED and info.error is not None
    assert info.error["type"] == "WorkerGone" and "dead:1" in info.error["message"]
    assert [(a.outcome, a.error) for a in info.history] == [("rescued", "WorkerGone")]
    for name in ("alive:1", "far:1"):
        assert (await jobs[name].refresh()).status == aqueue.JobStatus.RUNNING
    assert await rescuer.sweep() == 0 and rescued == [1]


async def _nothing() -> None:
    return None


class _AlwaysCurrent:
    """The rescuer's view of its own leases, for a worker that holds none."""

    lease = 60.0
    renewed_at = 0.0

    async def renew(self) -> None:
        return None

    def up_to_date(self) -> bool:
        return True


async def test_the_view_drops_workers_gone_for_longer_than_the_window(queue: aqueue.Queue) -> None:
    """Regression: dead and stopped workers stayed in the registry view for a
    day, and for good when no worker ran to prune them. The view shows them
    for the retention window only, whatever the sweeps did."""
    backend = queue.backend
    assert isinstance(backend, Registry)
    gone = WorkerRegistration("gone:1:abc", "elsewhere", 1, None, 5, "0.0.1")
    stopped = WorkerRegistration("stopped:2:abc", "elsewhere", 2, None, 5, "0.0.1")
    await backend.register_worker(gone, ttl=0.05)
    await backend.register_worker(stopped, ttl=60)
    await backend.deregister_worker(stopped.name)
    listed = {w.name: w.status for w in await backend.list_workers(3600)}
    assert listed[stopped.name] == "stopped"
    await age_workers(queue, 1)  # both went a second ago; no sweep has run
    assert {w.name for w in await backend.list_workers(0.2)} & {gone.name, stopped.name} == set()
    assert {gone.name, stopped.name} <= {w.name for w in await backend.list_workers(3600)}
