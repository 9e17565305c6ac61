"""Signals (``queue.signal`` and ``ctx.wait_for``): a job parks until its
signal comes, on every backend, in the worker and in a child process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import aqueue
from aqueue import JobStatus, steps
from tests.conformance.isolated import burst, error_of, every_task
from tests.raw import set_time


def ran(record: Path) -> list[str]:
    return record.read_text().splitlines()


async def test_a_signal_sent_before_the_wait_is_not_lost(app: aqueue.Queue, tmp_path: Path) -> None:
    record = tmp_path / "record"
    job = await app.enqueue("approver", str(record))
    assert await app.signal(job.id, "approved", {"by": "ann"})
    await app.drain()
    assert await job.result(timeout=5) == {"by": "ann"}
    assert ran(record) == ["asked 1", "done 1"]
    [signal] = await app.jobs.signals(job.id)
    assert (signal.name, signal.payload) == ("approved", '{"by":"ann"}')


async def test_a_parked_job_runs_when_its_signal_comes(app: aqueue.Queue, tmp_path: Path) -> None:
    record = tmp_path / "record"
    job = await app.enqueue("approver", str(record))
    before = time.time()
    assert await app.drain() == 1  # asked, then parked: back in the queue
    info = await app.get_job(job.id)
    assert info is not None and (info.status, info.attempts) == (JobStatus.QUEUED, 0)
    assert info.scheduled_at.timestamp() >= before + steps.WAIT_LOOK - 5
    assert [s.name for s in await app.jobs.steps(job.id)] == ["asked", "aqueue:wait:approved"]
    assert await app.signal(job.id, "approved", "yes")
    info = await app.get_job(job.id)
    assert info is not None and info.scheduled_at.timestamp() <= time.time() + 1  # due now
    await app.drain()
    assert await job.result(timeout=5) == "yes"
    assert ran(record) == ["asked 1", "done 1"]  # the step before the wait ran once
    assert not await app.signal(job.id, "approved", "again")  # finished: refused


async def test_only_the_first_signal_of_a_name_counts(app: aqueue.Queue, tmp_path: Path) -> None:
    job = await app.enqueue("approver", str(tmp_path / "record"))
    assert await app.signal(job.id, "approved", 1)
    assert not await app.signal(job.id, "approved", 2)
    assert not await app.signal("0193a1b2-0000-7000-8000-000000000000", "approved")
    with pytest.raises(TypeError, match="signal 'x'"):
        await app.signal(job.id, "x", object())
    with pytest.raises(ValueError):
        await app.signal(job.id, "")
    await app.drain()
    assert await job.result(timeout=5) == 1


async def test_a_wait_past_its_timeout_raises_in_the_task(
    app: aqueue.Queue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await app.enqueue("approver", str(tmp_path / "record"), 30.0)
    await app.drain()  # parked, for at most 30 s
    monkeypatch.setattr(steps, "_now", lambda: time.time() + 31)
    await set_time(app, job.id, "scheduled_at", 0.0)
    await app.drain()
    info = await app.get_job(job.id)
    assert info is not None and info.status == JobStatus.FAILED
    error = error_of(info)
    assert error["type"] == "TimeoutError" and "'approved'" in error["message"]


async def test_a_child_process_waits_through_the_worker(app: aqueue.Queue, tmp_path: Path) -> None:
    record = tmp_path / "record"
    job = await app.enqueue("approver", str(record))
    await burst(app, every_task(size=1))  # parked
    assert await app.signal(job.id, "approved", [1, 2])
    await burst(app, every_task(size=1))
    assert await job.result(timeout=5) == [1, 2]
    assert ran(record) == ["asked 1", "done 1"]
