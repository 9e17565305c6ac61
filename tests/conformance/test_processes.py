"""Tasks in child processes (``aqueue.Processes``): real children, started
by the worker, running the jobs of ``tests/apps/isolated.py``; what a child
does to itself fails only its own attempt."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import aqueue
from aqueue import JobStatus
from tests.apps import isolated
from tests.conformance.isolated import APP, burst, error_of, every_task


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_sync_and_async_tasks_run_in_children_with_results_errors_and_progress(
    app: aqueue.Queue,
) -> None:
    sync = [await app.enqueue("pid") for _ in range(3)]
    coro = await app.enqueue("apid")
    report = await app.enqueue("progress")
    boom = await app.enqueue("boom")
    again = await app.enqueue("again")
    await burst(app, every_task())
    pids = {await job.result(timeout=5) for job in [*sync, coro]}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    owned, job_id, attempt, child = await report.result(timeout=5)
    assert (owned, job_id, attempt) == (True, report.id, 1) and child != os.getpid()
    assert (await app.get_job(report.id)).progress == {"half": True}  # type: ignore[union-attr]
    failed = await app.get_job(boom.id)
    assert failed is not None and failed.status == JobStatus.FAILED
    error = error_of(failed)
    assert error["type"] == "ValueError" and error["message"] == "boom in a child"
    assert "isolated.py" in error["traceback"]  # the child's own traceback
    retried = await app.get_job(again.id)
    assert retried is not None and retried.attempts == 2  # Retry is honoured
    assert error_of(retried)["message"] == "once more"


@pytest.mark.parametrize("task", ["die", "segfault"])
async def test_a_child_that_dies_fails_only_its_attempt(app: aqueue.Queue, task: str) -> None:
    dying = await (app.enqueue("die", 3) if task == "die" else app.enqueue("segfault"))
    others = [await app.enqueue("pid") for _ in range(10)]
    await burst(app, every_task())
    info = await app.get_job(dying.id)
    assert info is not None and info.status == JobStatus.FAILED and info.attempts == 2
    error = error_of(info)
    assert error["type"] == "aqueue.WorkerProcessDied"
    expected = "exit code 3" if task == "die" else "killed by SIGSEGV (signal 11)"
    assert expected in error["message"], error["message"]
    assert [await j.result(timeout=5) for j in others]  # every other job succeeded


async def test_a_timeout_kills_the_child_and_frees_its_slot(app: aqueue.Queue) -> None:
    spin = await app.enqueue("spin")  # timeout=1, a loop no thread could leave
    after = await app.enqueue("pid")
    worker = aqueue.Worker(app, processes=every_task(size=1), burst=True, concurrency=1)
    began = asyncio.get_running_loop().time()
    await asyncio.wait_for(worker.run(), 30)
    assert asyncio.get_running_loop().time() - began < 10
    info = await app.get_job(spin.id)
    assert info is not None and info.status == JobStatus.FAILED
    assert error_of(info)["type"].endswith("JobTimeout")
    assert info.started_at is not None and info.finished_at is not None
    assert (info.finished_at - info.started_at).total_seconds() < 2.5  # 1 s, then killed
    ran_in = await after.result(timeout=5)  # the one slot was free again
    assert ran_in != os.getpid()


async def test_a_cancel_kills_a_running_child_within_a_second(
    app: aqueue.Queue, tmp_path: Path
) -> None:
    flag = tmp_path / "started"
    job = await app.enqueue("sleepy", 60, str(flag))
    worker = aqueue.Worker(app, processes=every_task(size=1), poll_interval=0.1)
    running = asyncio.create_task(worker.run())
    try:
        while not flag.exists() or not flag.read_text():  # noqa: ASYNC110 - the child writes it
            await asyncio.sleep(0.02)
        child = int(flag.read_text())
        began = asyncio.get_running_loop().time()
        assert await app.jobs.cancel(job.id) is not None
        with pytest.raises(aqueue.JobCancelled):
            await job.result(timeout=10)
        for _ in range(100):
            if gone(child):
                break
            await asyncio.sleep(0.02)
        assert gone(child)
        assert asyncio.get_running_loop().time() - began < 2.5
    finally:
        worker.stop()
        await asyncio.wait_for(running, 20)


async def test_children_are_recycled_by_job_count_and_by_memory(app: aqueue.Queue) -> None:
    counted = [await app.enqueue("pid") for _ in range(6)]
    worker = aqueue.Worker(
        app, processes=every_task(size=1, max_tasks=2), burst=True, concurrency=1
    )
    await asyncio.wait_for(worker.run(), 60)
    pids = [await job.result(timeout=5) for job in counted]
    assert len(set(pids)) == 3  # two jobs each, then a new child
    leaks = [await app.enqueue("leak", 60) for _ in range(3)]
    worker = aqueue.Worker(
        app, processes=every_task(size=1, max_memory=50 * 10**6), burst=True, concurrency=1
    )
    await asyncio.wait_for(worker.run(), 60)
    assert len({await job.result(timeout=5) for job in leaks}) == 3  # each left a child too big


async def test_only_tasks_declared_isolated_run_in_children_by_default(app: aqueue.Queue) -> None:
    inside = await app.enqueue("isolated")
    here = await app.enqueue("pid")
    await burst(app, aqueue.Processes(APP))
    assert await inside.result(timeout=5) != os.getpid()
    assert await here.result(timeout=5) == os.getpid()  # a thread of this worker


async def test_an_isolated_task_without_a_pool_fails_clearly(app: aqueue.Queue) -> None:
    job = await app.enqueue("isolated")
    await burst(app, None)
    info = await app.get_job(job.id)
    assert info is not None and info.status == JobStatus.FAILED
    assert "isolation='process'" in error_of(info)["message"]


async def test_a_stopping_worker_leaves_no_child_behind(app: aqueue.Queue, tmp_path: Path) -> None:
    flags = [tmp_path / f"started{n}" for n in range(2)]
    jobs = [await app.enqueue("sleepy", 60, str(flag)) for flag in flags]
    worker = aqueue.Worker(
        app, processes=every_task(), concurrency=2, shutdown_timeout=0.5, poll_interval=0.1
    )
    running = asyncio.create_task(worker.run())
    while not all(f.exists() and f.read_text() for f in flags):  # noqa: ASYNC110 - children write them
        await asyncio.sleep(0.02)
    children = [int(f.read_text()) for f in flags]
    worker.stop()
    await asyncio.wait_for(running, 10)
    assert all(gone(pid) for pid in children)
    for job in jobs:  # handed back at the deadline, the attempt not counted
        info = await app.get_job(job.id)
        assert info is not None and info.status == JobStatus.QUEUED


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="module:attribute"):
        aqueue.Processes("tests.apps.isolated")
    with pytest.raises(ValueError, match="size"):
        aqueue.Processes(APP, size=0)
    with pytest.raises(ValueError, match="isolation"):
        isolated.queue.task(isolation="thread")  # type: ignore[call-overload]
