"""Durable steps (``await ctx.step(name, fn, ...)``): each step of a job runs
once, its result stored fenced by the attempt, on every backend, in the
worker and in a child process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import aqueue
from aqueue import JobStatus, steps
from aqueue.records import Outcome
from tests.conformance.isolated import burst, every_task
from tests.raw import set_time


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


async def test_a_durable_sleep_frees_the_slot_and_resumes_after_its_steps(
    app: aqueue.Queue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "record"
    job = await app.enqueue("napper", str(record))
    before = time.time()
    assert await app.drain() == 1  # ran up to the sleep, then went back to the queue
    info = await app.get_job(job.id)
    assert info is not None and (info.status, info.attempts) == (JobStatus.QUEUED, 0)
    assert info.scheduled_at.timestamp() >= before + 3590
    assert [s.name for s in await app.jobs.steps(job.id)] == ["before", "aqueue:sleep:1"]
    # An hour later (the worker's clock moved, the job due):
    monkeypatch.setattr(steps, "_now", lambda: time.time() + 3600)
    await set_time(app, job.id, "scheduled_at", 0.0)
    assert await app.drain() == 1
    assert await job.result(timeout=5) == 1  # one attempt, spent once
    assert record.read_text().splitlines() == ["before 1", "after 1"]


async def test_a_sleep_must_be_a_duration(app: aqueue.Queue) -> None:
    ctx = aqueue.JobContext("j", "t", "default", 1, 1, "w", app.backend)
    with pytest.raises(ValueError, match="sleep duration"):
        await ctx.sleep(-1)
