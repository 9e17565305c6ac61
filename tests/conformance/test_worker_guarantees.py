"""The worker under tasks that misbehave: swallowed cancels, hung threads, their
own timeouts, many delayed wake-ups (SPEC §2, §5)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

import aqueue
from aqueue import JobStatus
from aqueue._worker.wakeups import Wakeups

QUICK = aqueue.Backoff(base=0.0, jitter=0.0)


async def test_a_job_that_swallows_the_shutdown_cancel_is_not_handed_back(
    queue: aqueue.Queue,
) -> None:
    started = asyncio.Event()

    @queue.task(name="stubborn")
    async def stubborn() -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return "finished anyway"
        return "slept"

    job = await stubborn.enqueue()
    worker = aqueue.Worker(queue, concurrency=1, shutdown_timeout=0.2, poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    worker.stop()
    await asyncio.wait_for(running, 10)
    info = await job.refresh()
    assert (info.status, info.result, info.attempts) == (JobStatus.SUCCEEDED, "finished anyway", 1)


async def test_timed_out_sync_tasks_never_exceed_the_concurrency(queue: aqueue.Queue) -> None:
    lock = threading.Lock()
    inside = 0
    peak = 0
    release = threading.Event()

    @queue.task(name="hangs", timeout=0.1, max_attempts=1)
    def hangs() -> None:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        release.wait(1.0)  # cannot be interrupted by the timeout
        with lock:
            inside -= 1

    jobs = await queue.enqueue_many([hangs.prepare() for _ in range(6)])
    worker = aqueue.Worker(queue, concurrency=2, burst=True, poll_interval=0.05)
    await asyncio.wait_for(worker.run(), 30)
    release.set()
    assert peak <= 2, f"{peak} sync tasks ran at once with concurrency 2"
    for job in jobs:
        info = await job.refresh()
        assert info.status == JobStatus.FAILED
        assert info.error is not None and info.error["type"].endswith("JobTimeout")


async def test_a_tasks_own_timeout_is_not_the_jobs_timeout(queue: aqueue.Queue) -> None:
    @queue.task(name="own_timeout", timeout=30, max_attempts=1)
    async def own_timeout() -> None:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)

    job = await own_timeout.enqueue()
    await queue.process(1)
    with pytest.raises(aqueue.JobFailed) as excinfo:
        await job.result(timeout=5)
    assert excinfo.value.error_type == "TimeoutError"


async def test_one_timer_for_many_delayed_notifications() -> None:
    wakeups = Wakeups(["default"])
    loop = asyncio.get_running_loop()
    # The count of the loop's timers has no public reading: asyncio's own list.
    before = len(loop._scheduled)  # type: ignore[attr-defined]
    for n in range(20_000):
        wakeups.notified(f"default {5 + n % 100}")
    wakeups.notified("default 3")
    wakeups.notified("elsewhere 1")  # not a queue of this worker
    # (asyncio's list of timers again.)
    assert len(loop._scheduled) - before <= 2  # type: ignore[attr-defined]
    due = wakeups.timer_due()
    assert due is not None and abs(due - (loop.time() + 3)) < 0.5
    # Once a timer has fired, a later due time gets a timer of its own.
    wakeups.notified("default 0.05")
    await wakeups.event.wait()
    wakeups.event.clear()
    wakeups.notified("default 7")
    due = wakeups.timer_due()
    assert due is not None and abs(due - (loop.time() + 7)) < 0.5
    wakeups.close()
    assert wakeups.timer_due() is None


async def test_claimed_jobs_start_in_fifo_order(queue: aqueue.Queue) -> None:
    @queue.task(name="fifo")
    async def fifo(n: int) -> None:
        return None

    # Written in one order, due in the opposite one (as retries come due).
    now = datetime.now(UTC)
    jobs = await queue.enqueue_many(
        [fifo.using(run_after=now - timedelta(seconds=n)).prepare(n) for n in range(60)]
    )
    claimed = await queue.backend.claim_jobs("w", None, 60, 30)
    assert [c.id for c in claimed] == [j.id for j in reversed(jobs)]


async def test_progress_that_json_cannot_carry_is_a_clear_error(queue: aqueue.Queue) -> None:
    @queue.task(name="progress", takes_context=True, max_attempts=1)
    async def progress(ctx: aqueue.JobContext) -> None:
        await ctx.set_progress({1, 2})

    job = await progress.enqueue()
    await queue.process(1)
    with pytest.raises(aqueue.JobFailed, match="progress cannot be encoded as JSON"):
        await job.result(timeout=5)


async def test_a_stalled_lone_worker_keeps_its_jobs(queue: aqueue.Queue) -> None:
    """A blocking call longer than the lease: with no other worker, nothing runs twice."""
    runs: list[int] = []

    @queue.task(name="blocks", takes_context=True)
    async def blocks(ctx: aqueue.JobContext, n: int) -> int:
        runs.append(n)
        time.sleep(1.3)  # noqa: ASYNC251 - the bug users make
        return n

    jobs = await queue.enqueue_many([blocks.prepare(n) for n in range(3)])
    worker = aqueue.Worker(queue, concurrency=3, lease=0.6, burst=True, poll_interval=0.05)
    await asyncio.wait_for(worker.run(), 60)
    assert sorted(runs) == [0, 1, 2]
    for job in jobs:
        info = await job.refresh()
        assert (info.status, info.attempts) == (JobStatus.SUCCEEDED, 1), info
    assert worker.loop_monitor.max_lag > 1.0


async def test_unwritten_outcomes_stop_the_claims(queue: aqueue.Queue) -> None:
    """The backlog of outcomes is bounded: past one claim's worth, each waiting
    outcome takes a slot, so an outage cannot grow memory without end."""
    from aqueue.records import Outcome

    worker = aqueue.Worker(queue, concurrency=10, prefetch=0)
    assert worker.slots.free() == 10
    for n in range(105):
        worker.completer.add(Outcome(f"id-{n}", 1, JobStatus.SUCCEEDED, result="null"))
    assert worker.slots.free() == 5 and worker.outcome_backlog == 105
    for n in range(105, 200):
        worker.completer.add(Outcome(f"id-{n}", 1, JobStatus.SUCCEEDED, result="null"))
    assert worker.slots.free() <= 0


async def test_a_worker_back_from_a_stall_asks_before_running_a_claimed_job(
    queue: aqueue.Queue,
) -> None:
    """Stopped (SIGSTOP, a long pause) right after a claim, past its lease: the
    job may have been rescued meanwhile. The worker renews before running it,
    and runs nothing of a job it lost."""
    ran: list[int] = []

    @queue.task(name="once")
    async def once(n: int) -> None:
        ran.append(n)

    await once.enqueue(1)
    worker = aqueue.Worker(queue, concurrency=1, lease=30)
    [claimed] = await queue.backend.claim_jobs(worker.name, None, 1, 30)
    # Meanwhile the job is rescued and taken by another worker...
    await queue.backend.hand_back(worker.name, [(claimed.id, claimed.attempts)])
    await queue.backend.claim_jobs("rescuer", None, 1, 30)
    worker.keeper.renewed_at -= 60  # ...while this one stood still past its lease.
    worker.attempts.start(claimed)
    task = worker.attempts.running[claimed.key].task
    await worker.signals.lease_lost.wait()
    assert task is not None
    await asyncio.wait([task])
    assert ran == [] and worker.running_count == 0
    assert (await queue.job(claimed.id).refresh()).worker == "rescuer"


async def test_the_shutdown_says_how_long_it_waits(
    queue: aqueue.Queue, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: --shutdown-timeout 0.5 was logged as "waiting up to 0s"."""
    started = asyncio.Event()

    @queue.task(name="sleepy")
    async def sleepy() -> None:
        started.set()
        await asyncio.sleep(30)

    await sleepy.enqueue()
    worker = aqueue.Worker(queue, concurrency=1, shutdown_timeout=0.5, register=False)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    with caplog.at_level(logging.INFO, logger="aqueue.worker"):
        worker.stop()
        await asyncio.wait_for(running, 10)
    assert "waiting up to 0.5s for 1 running jobs" in caplog.text
