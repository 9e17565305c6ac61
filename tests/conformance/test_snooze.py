"""``raise aqueue.Snooze(delay)``: the job runs again later without spending
an attempt, on every backend, in the worker and in a child process."""

from __future__ import annotations

import time

import pytest

import aqueue
from aqueue import JobStatus
from aqueue._worker import execution
from aqueue.middleware import CallNext
from aqueue.observer import WorkerObserver
from aqueue.records import ClaimedJob, Outcome
from tests.conformance.isolated import burst, error_of, every_task


class Outcomes(WorkerObserver):
    """Keeps the outcome of each attempt; the rest it is told it ignores."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def job_finished(self, job: ClaimedJob, outcome: str, duration: float) -> None:
        self.seen.append(outcome)

    def job_started(self, job: ClaimedJob) -> None:
        return None

    def claimed(self, count: int, seconds: float) -> None:
        return None

    def outcomes_written(self, count: int, seconds: float) -> None:
        return None

    def event(self, name: str, amount: int) -> None:
        return None


async def test_a_snoozed_job_keeps_its_attempts(app: aqueue.Queue) -> None:
    job = await app.enqueue("snoozer", 3)  # max_attempts=1: a spent attempt would fail it
    observer = Outcomes()
    for _ in range(4):  # a burst ends when nothing is due: one run per snooze
        await aqueue.Worker(app, burst=True, observer=observer).run()
    assert observer.seen == ["snoozed"] * 3 + ["succeeded"]
    assert await job.result(timeout=5) == {"attempt": 1, "snoozes": 3}
    info = await app.get_job(job.id)
    assert info is not None and (info.attempts, info.max_attempts) == (1, 1)
    assert info.meta == {"snoozes": 3} and info.history == () and info.error is None


async def test_a_snooze_waits_its_delay(app: aqueue.Queue) -> None:
    job = await app.enqueue("snoozer", 1, 3600.0)
    before = time.time()
    assert await app.drain() == 1
    info = await app.get_job(job.id)
    assert info is not None and (info.status, info.attempts) == (JobStatus.QUEUED, 0)
    assert info.scheduled_at.timestamp() >= before + 3599
    assert info.started_at is None or info.finished_at is None


async def test_a_child_process_task_snoozes_too(app: aqueue.Queue) -> None:
    job = await app.enqueue("snoozer", 2)
    for _ in range(3):  # each burst ends when nothing is due: one run per snooze
        await burst(app, every_task(size=1))
    assert await job.result(timeout=5) == {"attempt": 1, "snoozes": 2}


async def test_past_the_most_snoozes_the_job_fails_for_good(
    app: aqueue.Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execution, "MAX_SNOOZES", 2)
    job = await app.enqueue("snoozer", 5)
    await app.drain()
    info = await app.get_job(job.id)
    assert info is not None and info.status == JobStatus.FAILED
    assert error_of(info)["type"] == "aqueue.TooManySnoozes"
    assert info.meta == {"snoozes": 2} and info.attempts == 1


async def test_a_snooze_of_a_job_whose_cancel_was_requested_cancels_it(
    app: aqueue.Queue,
) -> None:
    backend = app.backend
    job = await app.enqueue("snoozer", 1)
    [claimed] = await backend.claim_jobs("w", None, 1, 30.0)
    assert await app.jobs.cancel(job.id) == JobStatus.RUNNING  # asked, it runs on
    snoozed = Outcome(claimed.id, claimed.attempts, JobStatus.QUEUED, snoozed=True)
    assert await backend.complete_jobs("w", [snoozed]) == []
    info = await app.get_job(job.id)
    assert info is not None and info.status == JobStatus.CANCELLED
    assert info.attempts == 1 and not info.meta


async def test_a_middleware_may_snooze_a_job(app: aqueue.Queue) -> None:
    seen: list[int] = []

    @app.middleware
    async def not_yet(ctx: aqueue.JobContext, call_next: CallNext) -> object:
        seen.append(ctx.attempt)
        if len(seen) < 3:
            raise aqueue.Snooze(0)
        return await call_next()

    job = await app.enqueue("snoozer", 0)
    await app.drain()
    assert await job.result(timeout=5) == {"attempt": 1, "snoozes": 2}
    assert seen == [1, 1, 1]


def test_a_bad_delay_is_refused_where_it_is_raised() -> None:
    with pytest.raises(ValueError, match="Snooze delay"):
        aqueue.Snooze(float("inf"))
