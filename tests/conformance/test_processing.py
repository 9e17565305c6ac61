"""Running jobs: results, failures, retries, timeouts, order, context, cancel."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.backends.clock import clock_for
from aqueue.records import ClaimedJob
from tests.counting import pending

QUICK = aqueue.Backoff(base=0.0, jitter=0.0)


async def test_process_one_runs_a_job_and_stores_the_result(queue: aqueue.Queue) -> None:
    @queue.task
    async def add(a: int, b: int) -> dict[str, int]:
        return {"sum": a + b}

    job = await add.enqueue(2, 3)
    info = await queue.process_one()
    assert info is not None and info.id == job.id
    assert info.status == JobStatus.SUCCEEDED and info.result == {"sum": 5}
    assert info.attempts == 1 and info.worker
    assert info.started_at is not None and info.finished_at is not None
    assert info.created_at <= info.started_at <= info.finished_at
    assert await job.result(timeout=1) == {"sum": 5}
    assert await queue.process_one() is None


async def test_sync_tasks_run_in_a_thread(queue: aqueue.Queue) -> None:
    main = threading.get_ident()

    @queue.task
    def where() -> bool:
        return threading.get_ident() != main

    job = await where.enqueue()
    assert await queue.process(1) == 1
    assert await job.result(timeout=1) is True


async def test_failure_retries_with_backoff_then_fails_with_details(queue: aqueue.Queue) -> None:
    calls: list[int] = []

    @queue.task(max_attempts=2, backoff=QUICK)
    async def broken() -> None:
        calls.append(1)
        raise ValueError("bad value")

    job = await broken.enqueue()
    assert await queue.process(1) == 1
    info = await job.refresh()
    assert info.status == JobStatus.QUEUED and info.attempts == 1
    assert info.error is not None and info.error["type"] == "ValueError"
    await queue.process(1)
    with pytest.raises(aqueue.JobFailed) as excinfo:
        await job.result(timeout=2)
    failed = excinfo.value
    assert (failed.error_type, failed.message) == ("ValueError", "bad value")
    assert failed.traceback is not None and "in broken" in failed.traceback
    info = await job.refresh()
    assert info.status == JobStatus.FAILED and info.attempts == 2 and len(calls) == 2


async def test_backoff_puts_the_retry_in_the_future(queue: aqueue.Queue) -> None:
    @queue.task(max_attempts=3, backoff=aqueue.Backoff(base=30, jitter=0.1))
    async def broken() -> None:
        raise RuntimeError("later")

    job = await broken.enqueue()
    await queue.process(1)
    info = await job.refresh()
    assert info.status == JobStatus.QUEUED
    delay = (info.scheduled_at - datetime.now(UTC)).total_seconds()
    assert 20 < delay < 34
    assert await queue.process(1) == 0  # not due yet


async def test_retry_exception_asks_for_another_attempt(queue: aqueue.Queue) -> None:
    @queue.task(max_attempts=3, takes_context=True)
    async def flaky(ctx: aqueue.JobContext) -> int:
        if ctx.attempt == 1:
            raise aqueue.Retry(delay=0)
        return ctx.attempt

    job = await flaky.enqueue()
    await queue.process(1)
    await queue.process(1)
    assert await job.result(timeout=2) == 2


async def test_timeout_fails_the_attempt(queue: aqueue.Queue) -> None:
    @queue.task(timeout=0.2, max_attempts=1)
    async def sleepy() -> None:
        await asyncio.sleep(30)

    job = await sleepy.enqueue()
    await queue.process(1)
    with pytest.raises(aqueue.JobFailed) as excinfo:
        await job.result(timeout=2)
    assert excinfo.value.error_type.endswith("JobTimeout")
    assert "timeout of 0.2s" in excinfo.value.message


async def test_unknown_task_fails_clearly(queue: aqueue.Queue) -> None:
    job = await queue.enqueue("nobody.knows.me", 1)
    await queue.process(1)
    with pytest.raises(aqueue.JobFailed, match=r"unknown task 'nobody\.knows\.me'"):
        await job.result(timeout=2)


async def test_result_that_json_cannot_carry_fails(queue: aqueue.Queue) -> None:
    @queue.task(max_attempts=1)
    async def odd() -> object:
        return {1, 2}

    job = await odd.enqueue()
    await queue.process(1)
    with pytest.raises(aqueue.JobFailed, match="cannot be encoded as JSON") as excinfo:
        await job.result(timeout=2)
    assert excinfo.value.error_type == "TypeError"


async def test_priority_then_schedule_order(queue: aqueue.Queue) -> None:
    ran: list[str] = []

    @queue.task
    async def mark(label: str) -> None:
        ran.append(label)

    await mark.using(priority=-10).enqueue("low")
    await mark.enqueue("mid-1")
    await mark.using(priority=50).enqueue("high")
    await mark.enqueue("mid-2")
    await mark.using(priority=100).enqueue("top")
    for _ in range(5):
        assert await queue.process(1) == 1
    assert ran == ["top", "high", "mid-1", "mid-2", "low"]


async def test_delayed_job_never_starts_early(queue: aqueue.Queue) -> None:
    started: list[datetime] = []

    @queue.task
    async def due() -> None:
        started.append(datetime.now(UTC))

    job = await due.using(delay=60).enqueue()
    assert await queue.process(5) == 0
    clock = clock_for(queue.backend)
    await clock.shift(59)  # a second early: still not due
    assert await queue.process(5) == 0
    await clock.shift(1.5)
    assert await queue.process(5) == 1
    info = await job.refresh()
    assert info.started_at is not None and info.started_at >= info.scheduled_at


async def test_queues_filter_what_is_processed(queue: aqueue.Queue) -> None:
    @queue.task
    async def noop() -> None:
        return None

    await noop.using(queue="a").enqueue()
    b = await noop.using(queue="b").enqueue()
    assert await queue.process(10, queues=["a"]) == 1
    assert (await b.refresh()).status == JobStatus.QUEUED
    assert await pending(queue, "b") == 1


async def test_context_and_progress(queue: aqueue.Queue) -> None:
    @queue.task(takes_context=True, queue="ctx")
    async def report(ctx: aqueue.JobContext, total: int) -> dict[str, object]:
        assert await ctx.set_progress({"done": total // 2, "total": total})
        return {"id": ctx.job_id, "attempt": ctx.attempt, "queue": ctx.queue, "task": ctx.task}

    job = await report.enqueue(10)
    await queue.process(1)
    assert await job.result(timeout=2) == {
        "id": job.id,
        "attempt": 1,
        "queue": "ctx",
        "task": report.name,
    }
    assert (await job.refresh()).progress == {"done": 5, "total": 10}


async def test_worker_runs_jobs_concurrently(queue: aqueue.Queue) -> None:
    active = 0
    peak = 0

    @queue.task
    async def overlap() -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.2)
        active -= 1

    await queue.enqueue_many([overlap.prepare() for _ in range(8)])
    worker = aqueue.Worker(queue, concurrency=4, burst=True)
    await worker.run()
    assert len(worker.processed) == 8 and peak == 4


async def test_cancel_stops_a_running_job(queue: aqueue.Queue) -> None:
    started = asyncio.Event()

    @queue.task
    async def endless() -> None:
        started.set()
        await asyncio.sleep(60)

    job = await endless.enqueue()
    worker = aqueue.Worker(queue, concurrency=2, lease=0.6, poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    assert await job.cancel() == JobStatus.RUNNING
    with pytest.raises(aqueue.JobCancelled):
        await job.result(timeout=10)
    worker.stop()
    await asyncio.wait_for(running, 10)


async def test_in_process_worker_wakes_on_enqueue(queue: aqueue.Queue) -> None:
    @queue.task
    async def quick() -> int:
        return 1

    worker = aqueue.Worker(queue, concurrency=2, poll_interval=30)
    running = asyncio.create_task(worker.run())
    await worker.signals.idle.wait()  # into its 30 s wait
    job = await quick.enqueue()
    assert await job.result(timeout=5) == 1
    worker.stop()
    await asyncio.wait_for(running, 10)


async def test_graceful_stop_hands_back_unfinished_jobs(queue: aqueue.Queue) -> None:
    started = asyncio.Event()

    @queue.task
    async def long() -> None:
        started.set()
        await asyncio.sleep(60)

    job = await long.enqueue()
    worker = aqueue.Worker(queue, concurrency=2, shutdown_timeout=0.2, poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    worker.stop()
    await asyncio.wait_for(running, 10)
    info = await job.refresh()
    assert info.status == JobStatus.QUEUED and info.attempts == 0


async def test_a_burst_run_does_not_end_on_a_claim_older_than_a_retry(
    queue: aqueue.Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a burst run ended when a claim found nothing, though the
    retry an outcome queued was written while that claim was in flight (it
    ran one attempt of two). Here every empty claim answers only once the
    outcomes are written, as a slow claim would."""

    @queue.task(name="flaky", max_attempts=2, backoff=aqueue.Backoff(base=0, jitter=0))
    async def flaky() -> None:
        raise ValueError("once more")

    worker = aqueue.Worker(queue, burst=True, register=False)
    claim = queue.backend.claim_jobs

    async def slow_claim(*args: Any) -> list[ClaimedJob]:
        found = await claim(*args)
        if not found and worker.completer.pending_keys():
            await worker.completer.flushed()  # written meanwhile: the answer is stale
        return found

    monkeypatch.setattr(queue.backend, "claim_jobs", slow_claim)
    job = await flaky.enqueue()
    await worker.run()
    assert worker.processed_count == 2
    assert (await job.refresh()).status == JobStatus.FAILED
