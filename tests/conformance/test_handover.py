"""Hand-over (aqueue/offers.py): an idle PostgreSQL worker's standing offer lets
a producer write a job as that worker's attempt and start it without a claim.

PostgreSQL only (it needs NOTIFY); on MySQL and SQLite workers never offer,
which the last test checks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.worker import Worker
from tests.databases import TestDatabase
from tests.raw import raw
from tests.seam import handover


@pytest.fixture
async def pg(pg_dsn: str) -> AsyncIterator[aqueue.Queue]:
    q = aqueue.Queue(pg_dsn)
    async with q:
        yield q


def tasks(queue: aqueue.Queue, runs: list[str]) -> None:
    @queue.task(name="mark", takes_context=True)
    async def mark(ctx: aqueue.JobContext, payload: str = "") -> int:
        runs.append(ctx.job_id)
        return len(payload)

    @queue.task(name="capped", concurrency=1)
    async def capped() -> None:
        return None


async def offers(queue: aqueue.Queue) -> list[str]:
    async with raw(queue) as sql:
        rows = await sql.fetch(
            "SELECT worker FROM aqueue_offers WHERE expires_at > clock_timestamp()"
        )
    return [r[0] for r in rows]


async def wait_for_offer(queue: aqueue.Queue, worker: str) -> None:
    for _ in range(200):
        if worker in await offers(queue):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"worker {worker} never offered")


async def test_an_idle_worker_starts_a_handed_over_job_without_claiming(pg: aqueue.Queue) -> None:
    runs: list[str] = []
    tasks(pg, runs)
    worker = Worker(pg, poll_interval=30, register=False)
    running = asyncio.create_task(worker.run())
    producer = aqueue.Queue(pg.dsn)
    try:
        await wait_for_offer(pg, worker.name)
        async with producer:
            job = await producer.enqueue("mark")
            # Written as the worker's attempt by the INSERT itself.
            info = await producer.get_job(job.id)
            assert info is not None and info.worker == worker.name and info.attempts == 1
            assert info.status in (JobStatus.RUNNING, JobStatus.SUCCEEDED)
            assert await job.result(10) == 0
            # Too big for a notification: handed over by its id, read by the worker.
            await wait_for_offer(pg, worker.name)
            big = await producer.enqueue("mark", "x" * 20_000)
            assert await big.result(10) == 20_000
        assert worker.signals.handed_over.count == 2
        assert runs == [job.id, big.id]
    finally:
        worker.stop()
        await running
    assert await offers(pg) == []  # withdrawn at shutdown


async def test_what_a_claim_must_check_is_never_handed_over(pg: aqueue.Queue) -> None:
    """Delayed jobs, unique and limit keys, parents, the caller's transaction,
    batches and paused queues go the claim's way: queued, the offer left standing."""
    tasks(pg, [])
    await handover(pg).offer("ghost", None, 30.0, 60.0, 0.0)
    mark = pg.task_named("mark")
    parent = await mark.using(delay=3600).enqueue()
    kept = [
        parent,
        await mark.using(unique_key="k").enqueue(),
        await pg.task_named("capped").enqueue(),
        await mark.using(after=[parent]).enqueue(),
        *await pg.enqueue_many([mark.prepare(), mark.prepare()]),
    ]
    async with raw(pg) as sql, sql.conn.transaction():
        kept.append(await mark.using(connection=sql.conn).enqueue())
    await pg.pause("mail")
    kept.append(await mark.using(queue="mail").enqueue())
    for job in kept:
        info = await pg.get_job(job.id)
        assert info is not None and info.status == JobStatus.QUEUED and info.worker is None
    assert await offers(pg) == ["ghost"]
    # An offer for other queues is not taken either; one for the job's queue is.
    await handover(pg).offer("ghost", ["mail"], 30.0, 60.0, 0.0)
    await pg.resume("mail")
    fresh = aqueue.Queue(pg.dsn)  # no memory of enqueues that found no offer
    async with fresh:
        elsewhere = await fresh.enqueue("mark")
        info = await fresh.get_job(elsewhere.id)
        assert info is not None and info.status == JobStatus.QUEUED
    fresh = aqueue.Queue(pg.dsn)
    async with fresh:
        taken = await fresh.task_named("mark").using(queue="mail").enqueue()
        info = await fresh.get_job(taken.id)
        assert info is not None and info.status == JobStatus.RUNNING
        assert info.worker == "ghost" and info.attempts == 1
    assert await offers(pg) == []  # an offer serves once


async def test_a_hand_over_heard_late_is_checked_before_it_runs(pg: aqueue.Queue) -> None:
    """A hand-over heard more than half a lease after the offer it answers (by
    the worker's own clock) may have outlived its lease: the worker renews
    before starting, and a job that is no longer its attempt does not run —
    though its lease keeper is current, which alone would let it start."""
    runs: list[str] = []
    tasks(pg, runs)
    gone = await pg.task_named("mark").using(delay=3600).enqueue()  # not this worker's
    worker = Worker(pg, poll_interval=30, lease=30, register=False)
    running = asyncio.create_task(worker.run())
    try:
        await wait_for_offer(pg, worker.name)
        assert worker.keeper.up_to_date()
        late = [
            worker.name,
            time.monotonic() - 20,
            gone.id,
            "mark",
            "default",
            0,
            "[]",
            "{}",
            1,
            1,
            None,
            time.time(),
            None,
        ]
        assert worker.offers is not None
        worker.offers.heard(json.dumps(late))
        await worker.signals.lease_lost.wait(timeout=5)
    finally:
        worker.stop()
        await running
    assert runs == []
    info = await pg.get_job(gone.id)
    assert info is not None and info.status == JobStatus.QUEUED


async def test_a_lapsed_offer_is_not_taken(pg: aqueue.Queue) -> None:
    tasks(pg, [])
    await handover(pg).offer("ghost", None, 30.0, 0.0, 0.0)  # lapsed as it is made
    job = await pg.enqueue("mark")
    info = await pg.get_job(job.id)
    assert info is not None and info.status == JobStatus.QUEUED


async def test_a_job_handed_to_a_worker_that_died_comes_back(pg: aqueue.Queue) -> None:
    """The offer of a worker that died takes one job; its lease brings it back
    and a live worker runs it."""
    runs: list[str] = []
    tasks(pg, runs)
    await handover(pg).offer("dead-worker", None, 0.5, 60.0, 0.0)
    job = await pg.enqueue("mark")
    info = await pg.get_job(job.id)
    assert info is not None and info.worker == "dead-worker"
    worker = Worker(pg, poll_interval=0.2, lease=2, register=False)
    running = asyncio.create_task(worker.run())
    try:
        assert await job.result(15) == 0
    finally:
        worker.stop()
        await running
    info = await pg.get_job(job.id)
    assert info is not None and info.attempts == 2 and runs == [job.id]


async def test_jobs_handed_over_while_the_listener_was_down_still_run(pg: aqueue.Queue) -> None:
    """The LISTEN connection drops with an offer standing: a producer hands the
    worker a job whose notification is lost. Once it listens again the worker
    reads it back and runs it, well before the attempt's 30 s lease ends."""
    runs: list[str] = []
    tasks(pg, runs)
    worker = Worker(pg, poll_interval=30, register=False)
    running = asyncio.create_task(worker.run())
    try:
        await wait_for_offer(pg, worker.name)
        async with raw(pg) as sql:
            killed = await sql.value(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            )
        assert killed >= 1
        job = await pg.enqueue("mark")
        info = await pg.get_job(job.id)
        assert info is not None and info.worker == worker.name
        assert await job.result(10) == 0
        assert runs == [job.id]
    finally:
        worker.stop()
        await running


async def test_a_stopping_worker_gives_back_a_job_it_did_not_hear_of(pg: aqueue.Queue) -> None:
    """A job handed over as the worker stops (its notification not acted on)
    is handed back, not left to its lease."""
    tasks(pg, [])
    worker = Worker(pg, poll_interval=30, register=False)
    running = asyncio.create_task(worker.run())
    try:
        await wait_for_offer(pg, worker.name)
        assert worker.offers is not None
        worker.offers.enabled = False  # deaf from now on, as at shutdown
        job = await pg.enqueue("mark")
        info = await pg.get_job(job.id)
        assert info is not None and info.worker == worker.name
        worker.offers.enabled = True  # so that the shutdown withdraws the offer
    finally:
        worker.stop()
        await running
    info = await pg.get_job(job.id)
    assert info is not None and info.status == JobStatus.QUEUED and info.attempts == 0
    assert worker.signals.handed_back.count == 1


async def test_many_workers_and_producers_run_each_job_once(pg: aqueue.Queue) -> None:
    """Offers taken and renewed concurrently: every job runs exactly once."""
    runs: list[str] = []
    queues = [aqueue.Queue(pg.dsn) for _ in range(3)]
    workers = []
    for q in queues:
        tasks(q, runs)
        await q.open()
        workers.append(Worker(q, concurrency=2, poll_interval=0.5, register=False))
    tasks(pg, runs)
    running = [asyncio.create_task(w.run()) for w in workers]
    try:
        for w in workers:
            await wait_for_offer(pg, w.name)

        async def produce() -> list[aqueue.Job[object]]:
            producer = aqueue.Queue(pg.dsn)
            async with producer:
                jobs = []
                for _ in range(40):
                    jobs.append(await producer.enqueue("mark"))
                    await asyncio.sleep(0.005)
                return jobs

        made = [j for batch in await asyncio.gather(produce(), produce()) for j in batch]
        for job in made:
            await pg.results.wait(job.id, 15)
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*running)
        for q in queues:
            await q.close()
    assert sorted(runs) == sorted(j.id for j in made)
    assert sum(w.signals.handed_over.count for w in workers) > 0


async def test_workers_offer_only_where_producers_can_hand_over(database: TestDatabase) -> None:
    queue = aqueue.Queue(database.dsn)
    async with queue:
        tasks(queue, [])
        worker = Worker(queue, poll_interval=0.2, register=False)
        running = asyncio.create_task(worker.run())
        try:
            await worker.signals.idle.wait()
            offering = worker.offers is not None and worker.offers.enabled
            assert offering is (database.backend == "postgresql")
            burst = Worker(queue, burst=True, register=False)
            await burst.run()
            assert burst.offers is None or not burst.offers.enabled
            declined = Worker(queue, poll_interval=0.2, handover=False, register=False)
            other = asyncio.create_task(declined.run())
            await declined.signals.idle.wait()
            declined.stop()
            await other
            assert declined.offers is None or not declined.offers.enabled
        finally:
            worker.stop()
            await running


async def test_a_claim_that_fills_the_last_slot_withdraws_the_offer(pg: aqueue.Queue) -> None:
    """Regression: a worker kept the offer it stood while idle for up to 10 s
    after a claim filled its last slot, and a single enqueue could take it:
    with two workers at concurrency 1 a job waited 17 s for the busy one
    while the other sat idle. The claim now withdraws the offer in its own
    statement, so the job goes to the idle worker."""
    release = asyncio.Event()
    started: list[str] = []

    @pg.task(name="long", takes_context=True)
    async def long(ctx: aqueue.JobContext) -> None:
        started.append(ctx.worker)
        await release.wait()

    @pg.task(name="short", takes_context=True)
    async def short(ctx: aqueue.JobContext) -> str:
        return ctx.worker

    busy = Worker(pg, concurrency=1, poll_interval=30, register=False)
    running = [asyncio.create_task(busy.run())]
    producer = aqueue.Queue(pg.dsn)
    try:
        await wait_for_offer(pg, busy.name)
        async with producer:
            # A delayed job is never handed over: the idle worker claims it
            # when it is due, and the claim fills its only slot.
            await producer.task_named("long").using(delay=0.2).enqueue()
            await busy.signals.claimed.wait(1)
            assert busy.name not in await offers(pg)
            idle = Worker(pg, concurrency=1, poll_interval=30, register=False)
            running.append(asyncio.create_task(idle.run()))
            await wait_for_offer(pg, idle.name)
            began = time.monotonic()
            job = await producer.enqueue("short")
            assert await job.result(5) == idle.name
            assert time.monotonic() - began < 1
    finally:
        release.set()
        for worker in (busy, *([idle] if len(running) > 1 else [])):
            worker.stop()
        await asyncio.gather(*running)
    assert started == [busy.name]


async def test_a_job_handed_over_with_no_free_slot_goes_back_at_once(pg: aqueue.Queue) -> None:
    """A producer that took the offer just before a claim filled the slots
    hands over a job the worker cannot start: it hands it back at once
    (attempt uncounted) instead of holding it until a slot frees."""
    release = asyncio.Event()

    @pg.task(name="long")
    async def long() -> None:
        await release.wait()

    worker = Worker(pg, concurrency=1, poll_interval=30, register=False)
    running = asyncio.create_task(worker.run())
    producer = aqueue.Queue(pg.dsn)
    try:
        await wait_for_offer(pg, worker.name)
        async with producer:
            first = await producer.enqueue("long")  # handed over: the slot is taken
            await worker.signals.handed_over.wait(1)
            # The race: an offer of this worker's still stands as its slot fills.
            await handover(pg).offer(worker.name, None, worker.lease, 10.0, time.monotonic())
            second = await producer.enqueue("long")
            await worker.signals.handed_back.wait(1)
            info = await producer.get_job(second.id)
            assert info is not None and (info.status, info.attempts) == (JobStatus.QUEUED, 0)
            release.set()
            assert await first.result(5) is None
            assert await second.result(5) is None  # claimed once the slot freed
            assert (await second.refresh()).attempts == 1
    finally:
        release.set()
        worker.stop()
        await running
