"""Durable steps (``await ctx.step(name, fn, ...)``): each step of a job runs
once, its result stored fenced by the attempt, on every backend, in the
worker and in a child process."""

from __future__ import annotations

from pathlib import Path

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.records import Outcome
from tests.conformance.isolated import burst, every_task


def ran(record: Path) -> list[str]:
    return [" ".join(line.split()[:2]) for line in record.read_text().splitlines()]


async def test_a_retry_gets_the_steps_already_done_back(app: aqueue.Queue, tmp_path: Path) -> None:
    record = tmp_path / "record"
    job = await app.enqueue("stepper", str(record), 1)
    await app.drain()
    assert await job.result(timeout=5) == ["one done", "two done", "three done", 2]
    assert ran(record) == ["one 1", "two 1", "three 2"]  # steps one and two ran once
    steps = await app.jobs.steps(job.id)
    assert [(s.name, s.attempt, s.result) for s in steps] == [
        ("one", 1, '"one done"'),
        ("two", 1, '"two done"'),
        ("three", 2, '"three done"'),
    ]


async def test_steps_in_a_child_process_are_kept_by_the_worker(
    app: aqueue.Queue, tmp_path: Path
) -> None:
    record = tmp_path / "record"
    job = await app.enqueue("stepper", str(record), 1)
    for _ in range(2):  # the retry is due at once: a second burst runs it if the first did not
        await burst(app, every_task(size=1))
    assert await job.result(timeout=5) == ["one done", "two done", "three done", 2]
    assert ran(record) == ["one 1", "two 1", "three 2"]


async def test_an_attempt_that_lost_the_job_cannot_store_a_step(app: aqueue.Queue) -> None:
    backend = app.backend
    assert isinstance(backend, aqueue.backends.base.Steps)
    job = await app.enqueue("stepper", "unused")
    [claimed] = await backend.claim_jobs("w", None, 1, 30.0)
    ctx = aqueue.JobContext(job.id, "stepper", "default", claimed.attempts, 3, "w", backend)
    assert await ctx.step("kept", lambda: {"n": 1}) == {"n": 1}
    assert await ctx.step("kept", lambda: {"n": 2}) == {"n": 1}  # stored: not run again
    stale = aqueue.JobContext(job.id, "stepper", "default", claimed.attempts, 3, "other", backend)
    with pytest.raises(aqueue.AttemptLost, match="no longer holds the job"):
        await stale.step("late", lambda: 1)
    with pytest.raises(TypeError, match="step 'bad'"):
        await ctx.step("bad", lambda: object())
    assert [s.name for s in await app.jobs.steps(job.id)] == ["kept"]
    assert await app.jobs.delete(job.id) == JobStatus.RUNNING  # running: not deleted
    done = Outcome(job.id, claimed.attempts, JobStatus.SUCCEEDED)
    assert await backend.complete_jobs("w", [done]) == []
    assert await app.jobs.delete(job.id) == JobStatus.SUCCEEDED
    assert await app.jobs.steps(job.id) == []  # gone with the job
