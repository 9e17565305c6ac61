"""Leases, rescue and fencing (SPEC §2 liveness, §5.6 and §5.7), at the backend interface."""

from __future__ import annotations

import asyncio
from typing import Any

import aqueue
from aqueue import JobStatus
from aqueue.records import Outcome
from tests.raw import expire_leases


async def _enqueue(queue: aqueue.Queue, max_attempts: int = 3) -> aqueue.Job[Any]:
    @queue.task(name="leased", max_attempts=max_attempts)
    async def leased() -> None:
        return None

    return await leased.enqueue()


async def test_claim_sets_lease_and_attempts(queue: aqueue.Queue) -> None:
    job = await _enqueue(queue)
    claimed = await queue.backend.claim_jobs("w1", None, 10, 30)
    assert [c.id for c in claimed] == [job.id] and claimed[0].attempts == 1
    info = await job.refresh()
    assert (info.status, info.worker, info.attempts) == (JobStatus.RUNNING, "w1", 1)
    assert await queue.backend.claim_jobs("w2", None, 10, 30) == []


async def test_expired_lease_is_rescued_and_runs_again(queue: aqueue.Queue) -> None:
    job = await _enqueue(queue)
    await queue.backend.claim_jobs("ghost", None, 1, 30)
    assert await queue.backend.rescue_expired_leases() == 0
    assert await expire_leases(queue, "ghost") == 1  # as if 30 s went by unrenewed
    assert await queue.backend.rescue_expired_leases() == 1
    info = await job.refresh()
    assert info.status == JobStatus.QUEUED and info.attempts == 1
    assert info.error is not None and info.error["type"] == "LeaseExpired"
    assert "ghost" in info.error["message"]
    assert await queue.process(1) == 1
    info = await job.refresh()
    assert info.status == JobStatus.SUCCEEDED and info.attempts == 2


async def test_renewal_keeps_the_lease(queue: aqueue.Queue) -> None:
    job = await _enqueue(queue)
    await queue.backend.claim_jobs("w1", None, 1, 30)
    await expire_leases(queue, "w1")  # its lease ran out, and no sweep came yet
    states = await queue.backend.renew_leases("w1", [job.id], 30)
    assert [(s.id, s.attempts, s.cancel_requested) for s in states] == [(job.id, 1, False)]
    assert await queue.backend.renew_leases("someone-else", [job.id], 30) == []
    assert await queue.backend.rescue_expired_leases() == 0


async def test_rescue_on_the_last_attempt_fails_the_job(queue: aqueue.Queue) -> None:
    job = await _enqueue(queue, max_attempts=1)
    await queue.backend.claim_jobs("ghost", None, 1, 30)
    await expire_leases(queue, "ghost")
    assert await queue.backend.rescue_expired_leases() == 1
    info = await job.refresh()
    assert info.status == JobStatus.FAILED and info.finished_at is not None


async def test_late_outcome_of_a_rescued_attempt_is_discarded(queue: aqueue.Queue) -> None:
    job = await _enqueue(queue)
    backend = queue.backend
    await backend.claim_jobs("old", None, 1, 30)
    await expire_leases(queue, "old")
    await backend.rescue_expired_leases()
    [again] = await backend.claim_jobs("new", None, 1, 30)
    assert again.attempts == 2
    late = Outcome(job.id, 1, JobStatus.FAILED, error='{"type":"X","message":"late"}')
    assert await backend.complete_jobs("old", [late]) == [job.id]
    info = await job.refresh()
    assert (info.status, info.worker, info.error and info.error["type"]) == (
        JobStatus.RUNNING,
        "new",
        "LeaseExpired",
    )
    # The old worker no longer renews it, nor can it hand it back.
    assert [s.id for s in await backend.renew_leases("old", [job.id], 30)] == []
    assert await backend.hand_back("old", [(job.id, 1)]) == 0
    # Nor can a worker other than the holder write the current attempt's outcome.
    assert await backend.complete_jobs("old", [Outcome(job.id, 2, JobStatus.SUCCEEDED, "8")]) == [
        job.id
    ]
    assert await backend.complete_jobs("new", [Outcome(job.id, 2, JobStatus.SUCCEEDED, "7")]) == []
    assert await job.result(timeout=1) == 7


async def test_cancel_request_reaches_the_lease_holder(queue: aqueue.Queue) -> None:
    job = await _enqueue(queue)
    await queue.backend.claim_jobs("w1", None, 1, 30)
    assert await job.cancel() == JobStatus.RUNNING
    [state] = await queue.backend.renew_leases("w1", [job.id], 30)
    assert state.cancel_requested


async def test_worker_drops_a_job_whose_lease_was_taken(queue: aqueue.Queue) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    @queue.task(name="held")
    async def held() -> str:
        started.set()
        await release.wait()
        return "late"

    job = await held.enqueue()
    worker = aqueue.Worker(queue, concurrency=1, lease=0.6, poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    # Simulate a rescue elsewhere: the job is re-queued and claimed by another worker.
    backend = queue.backend
    await backend.hand_back(worker.name, [(job.id, 1)])
    await backend.claim_jobs("other", None, 1, 30)
    # A renewal (every lease/3 s) shows the worker it lost the job: it stops it.
    await worker.signals.lease_lost.wait(timeout=10)
    release.set()
    worker.stop()
    await asyncio.wait_for(running, 10)  # every attempt it ran has ended
    info = await job.refresh()
    assert (info.status, info.worker) == (JobStatus.RUNNING, "other")
    assert job.id not in worker.processed


async def test_a_claim_the_worker_never_heard_of_is_not_renewed(queue: aqueue.Queue) -> None:
    """A claim whose reply was lost must expire even while its worker lives."""
    known = await _enqueue(queue)
    orphan = await queue.enqueue("leased")
    claimed = await queue.backend.claim_jobs("w1", None, 2, 30)
    assert {c.id for c in claimed} == {known.id, orphan.id}
    await expire_leases(queue, "w1")  # both ran out; the worker renews the one it knows
    states = await queue.backend.renew_leases("w1", [known.id], 30)
    assert [s.id for s in states] == [known.id]
    assert await queue.backend.rescue_expired_leases() == 1
    assert (await orphan.refresh()).status == JobStatus.QUEUED
    assert (await known.refresh()).status == JobStatus.RUNNING


async def test_a_rescue_that_ends_hundreds_of_jobs_at_once(queue: aqueue.Queue) -> None:
    """Regression: on PostgreSQL the rescue told result readers of every job it
    ended in one notification; over ~215 ids it passed 8,000 bytes, the
    statement failed, every later sweep failed the same way, and the jobs stayed
    running for ever (a worker with many jobs claimed ahead, dead, with jobs
    on their last attempt)."""

    @queue.task(name="once", max_attempts=1)
    async def once() -> None:
        return None

    jobs = await queue.enqueue_many([once.prepare() for _ in range(300)])
    assert len(await queue.backend.claim_jobs("ghost", None, 300, 30)) == 300
    assert await expire_leases(queue, "ghost") == 300
    assert await queue.backend.rescue_expired_leases() == 300
    for job in (jobs[0], jobs[-1]):
        info = await job.refresh()
        assert info.status == JobStatus.FAILED and info.error is not None
        assert info.error["type"] == "LeaseExpired"


async def test_a_hand_back_that_ends_hundreds_of_cancelled_jobs(queue: aqueue.Queue) -> None:
    """Regression (PostgreSQL): as for the rescue, a hand-back announcing over
    ~215 jobs it ended cancelled failed, and the shutdown gave nothing back."""

    @queue.task(name="held")
    async def held() -> None:
        return None

    await queue.enqueue_many([held.prepare() for _ in range(300)])
    claimed = await queue.backend.claim_jobs("w1", None, 300, 30)
    for job in claimed:
        assert await queue.jobs.cancel(job.id) == JobStatus.RUNNING  # asked to stop
    assert await queue.backend.hand_back("w1", [job.key for job in claimed]) == 300
    info = await queue.job(claimed[-1].id).refresh()
    assert info.status == JobStatus.CANCELLED
