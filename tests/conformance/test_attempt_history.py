"""Each attempt that ended and was followed by another stays in the job's history:
a retry after an exception, a rescue after a lost lease, a retry by hand."""

from __future__ import annotations

import aqueue
from aqueue import JobStatus
from tests.raw import expire_leases


async def test_retries_keep_each_attempt(queue: aqueue.Queue) -> None:
    calls = 0

    @queue.task(name="shaky", max_attempts=3, backoff=aqueue.Backoff(base=0, jitter=0))
    async def shaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ValueError(f"<b>not yet</b> {calls}")
        return "done"

    job = await shaky.enqueue()
    for _ in range(3):
        assert await queue.process(1) == 1
    info = await job.refresh()
    assert info.status == JobStatus.SUCCEEDED and info.attempts == 3
    assert [(a.attempt, a.outcome, a.error, a.message) for a in info.history] == [
        (1, "retried", "ValueError", "<b>not yet</b> 1"),
        (2, "retried", "ValueError", "<b>not yet</b> 2"),
    ]
    first, second = info.history
    assert first.started_at is not None and first.ended_at is not None
    assert first.started_at <= first.ended_at <= second.started_at  # type: ignore[operator]
    assert info.started_at is not None and second.ended_at is not None
    assert second.ended_at <= info.started_at
    assert info.created_at <= first.started_at


async def test_a_job_that_succeeds_at_once_has_no_history(queue: aqueue.Queue) -> None:
    @queue.task(name="fine")
    async def fine() -> None:
        return None

    job = await fine.enqueue()
    assert await queue.process(1) == 1
    assert (await job.refresh()).history == ()


async def test_rescue_and_retry_by_hand_are_kept(queue: aqueue.Queue) -> None:
    @queue.task(name="lost", max_attempts=2, backoff=aqueue.Backoff(base=0, jitter=0))
    async def lost() -> None:
        raise RuntimeError("x" * 2000)

    job = await lost.enqueue()
    await queue.backend.claim_jobs("ghost", None, 1, 30)
    await expire_leases(queue, "ghost")
    assert await queue.backend.rescue_expired_leases() == 1
    assert await queue.process(1) == 1  # attempt 2 raises: out of attempts
    info = await job.refresh()
    assert info.status == JobStatus.FAILED
    assert [(a.attempt, a.outcome, a.error) for a in info.history] == [
        (1, "rescued", "LeaseExpired")
    ]
    assert info.history[0].message == "worker ghost"
    assert await queue.jobs.retry(job.id)
    info = await job.refresh()
    assert [(a.attempt, a.outcome, a.error) for a in info.history] == [
        (1, "rescued", "LeaseExpired"),
        (2, "retried by hand", "RuntimeError"),
    ]
    assert len(info.history[1].message or "") == 500  # long messages are cut
    assert info.started_at is None and info.attempts == 0


async def test_a_job_cancelled_before_it_ran_retries_without_an_entry(queue: aqueue.Queue) -> None:
    @queue.task(name="never")
    async def never() -> None:
        return None

    job = await never.using(delay=3600).enqueue()
    assert await queue.jobs.cancel(job.id)
    assert await queue.jobs.retry(job.id)
    assert (await job.refresh()).history == ()


async def test_an_error_message_holding_nul_is_retried_and_retried_by_hand(
    queue: aqueue.Queue,
) -> None:
    # Regression: on PostgreSQL the history entry went through jsonb, which
    # refuses \u0000, so such a retry was lost (stored as UnstorableOutcome).
    @queue.task(name="nul", max_attempts=2, backoff=aqueue.Backoff(base=0, jitter=0))
    async def nul() -> None:
        raise ValueError("before\x00after")

    job = await nul.enqueue()
    assert await queue.process(1) == 1
    info = await job.refresh()
    assert info.status == JobStatus.QUEUED and info.attempts == 1
    assert info.error is not None and info.error["message"] == "before\x00after"
    [entry] = info.history
    assert entry.error == "ValueError" and entry.message is not None
    # The error column keeps the message whole; the history's copy of it may
    # not keep U+0000 (U+FFFD on PostgreSQL, cut there on SQLite).
    assert entry.message.startswith("before")
    assert await queue.process(1) == 1
    assert (await job.refresh()).status == JobStatus.FAILED
    assert await queue.jobs.retry(job.id)
    again = await job.refresh()
    assert again.status == JobStatus.QUEUED and len(again.history) == 2
    assert again.history[-1].outcome == "retried by hand"
