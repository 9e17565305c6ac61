"""Hand-over under faults, with real worker processes (PostgreSQL: aqueue/offers.py)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

import aqueue
from tests.acceptance.helpers import WorkerProcess, done_counts, records, run, wait_until
from tests.raw import raw


@pytest.fixture
def dsn(pg_dsn: str) -> str:
    return pg_dsn


async def _offering(dsn: str) -> list[str]:
    async with raw(dsn) as sql:
        rows = await sql.fetch(
            "SELECT worker FROM aqueue_offers WHERE expires_at > clock_timestamp()"
        )
    return [r[0] for r in rows]


async def _enqueue_one(dsn: str) -> tuple[str, str | None]:
    """One job, enqueued alone (a batch is never handed over); its id and worker."""
    queue = aqueue.Queue(dsn)
    async with queue:
        job = await queue.enqueue("record", 1)
        info = await queue.get_job(job.id)
    assert info is not None
    return job.id, info.worker


def test_a_stalled_worker_never_runs_a_job_handed_over_to_it_twice(
    dsn: str, record_file: Path
) -> None:
    """SIGSTOP an idle worker whose offer stands; a producer hands it a job; its
    lease ends and another worker runs the job. When the stalled worker wakes
    and hears of the hand-over, it asks before starting and does not run it."""
    stalled = WorkerProcess(dsn, record_file, "--lease", "1", "--poll-interval", "0.2")
    wait_until(lambda: len(run(_offering(dsn))) == 1, 20, "the idle worker's offer")
    stalled.signal(signal.SIGSTOP)
    try:
        job_id, worker = run(_enqueue_one(dsn))
        assert worker is not None and run(_offering(dsn)) == []  # taken: it serves once
        rescuer = WorkerProcess(dsn, record_file, "--lease", "1", "--poll-interval", "0.2")
        wait_until(
            lambda: done_counts(record_file)[job_id] == 1,
            30,
            "the other worker to run the rescued job",
        )
    finally:
        stalled.signal(signal.SIGCONT)
    time.sleep(2.0)  # the stalled worker hears the hand-over now
    assert done_counts(record_file) == {job_id: 1}
    assert [a for kind, j, a in records(record_file) if kind == "start"] == [2]
    assert stalled.stop() == 0 and rescuer.stop() == 0


def test_a_job_handed_to_a_killed_worker_is_run_by_another(dsn: str, record_file: Path) -> None:
    """SIGKILL an idle worker: its offer outlives it by seconds and may take one
    job, which its lease returns to a live worker. Nothing is lost."""
    killed = WorkerProcess(dsn, record_file, "--lease", "1", "--poll-interval", "0.2")
    wait_until(lambda: len(run(_offering(dsn))) == 1, 20, "the idle worker's offer")
    killed.kill()
    job_id, worker = run(_enqueue_one(dsn))
    assert worker is not None  # handed to the dead worker
    survivor = WorkerProcess(dsn, record_file, "--lease", "1", "--poll-interval", "0.2")
    wait_until(lambda: done_counts(record_file)[job_id] == 1, 30, "the job to run")
    assert survivor.stop() == 0
    assert done_counts(record_file) == {job_id: 1}
