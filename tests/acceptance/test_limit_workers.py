"""Global limits under three worker processes and 1,000 jobs: the most jobs
running at once, and the most starts in any window, never pass the limits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import aqueue
from aqueue.records import JobFilter
from aqueue.task import JobRequest
from tests.acceptance.helpers import WorkerProcess, run, wait_until
from tests.conformance.test_limits import most_in_window
from tests.databases import TestDatabase

APP = "tests.apps.limited_app:queue"
JOBS = 1000


def events(path: Path) -> list[tuple[str, str, str, float]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        what, task, key, ns = line.split()
        rows.append((what, task, key, int(ns) / 1e9))
    return rows


def peak_running(rows: list[tuple[str, str, str, float]]) -> Counter[str]:
    """The most jobs running at once, per key. An end sorts before a start at
    the same instant: the slot was free when the next job took it."""
    now: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    for what, _task, key, _t in sorted(rows, key=lambda r: (r[3], r[0] == "start")):
        now[key] += 1 if what == "start" else -1
        peak[key] = max(peak[key], now[key])
    return peak


def run_jobs(db: TestDatabase, record: Path, requests: list[JobRequest]) -> None:
    async def enqueue() -> None:
        # The requests carry their limit keys: any queue on the database writes them.
        async with aqueue.Queue(db.dsn) as producer:
            await producer.enqueue_many(requests)

    run(enqueue())
    workers = [
        WorkerProcess(db.dsn, record, "--concurrency", "20", "--poll-interval", "0.1", app=APP)
        for _ in range(3)
    ]
    try:
        wait_until(
            lambda: sum(1 for r in events(record) if r[0] == "end") >= len(requests),
            120,
            f"{len(requests)} jobs to finish",
        )
    finally:
        for w in workers:
            assert w.stop() == 0


def test_concurrency_holds_under_three_worker_processes(
    db: TestDatabase, record_file: Path
) -> None:
    from tests.apps.limited_app import capped

    run_jobs(db, record_file, [capped.prepare() for _ in range(JOBS)])
    rows = events(record_file)
    assert sum(1 for r in rows if r[0] == "start") == JOBS  # each ran once
    assert peak_running(rows)["-"] == 5


def test_concurrency_per_key_under_three_worker_processes(
    db: TestDatabase, record_file: Path
) -> None:
    from tests.apps.limited_app import capped

    keys = [f"tenant:{n}" for n in range(4)]
    run_jobs(
        db,
        record_file,
        [capped.using(limit_key=keys[n % 4]).prepare(keys[n % 4]) for n in range(JOBS)],
    )
    rows = events(record_file)
    assert sum(1 for r in rows if r[0] == "start") == JOBS
    assert peak_running(rows) == Counter({key: 5 for key in keys})


def test_rate_limit_holds_under_three_worker_processes(db: TestDatabase, record_file: Path) -> None:
    from tests.apps.limited_app import throttled

    run_jobs(db, record_file, [throttled.prepare() for _ in range(JOBS)])
    assert sum(1 for r in events(record_file) if r[0] == "start") == JOBS  # each ran once
    # The limit counts claims, so the bound is checked on the claim times the
    # database stamped. The task's own start stamps trail the claim by however
    # long its worker took to get to it (over 50 ms on a loaded machine), which
    # can put 201 task starts in a window though the claims kept to 200.
    starts = run(claim_times(db))
    assert len(starts) == JOBS
    # 1,000 starts at 200 per second: at least four seconds from first to last.
    assert max(starts) - min(starts) >= 4.0
    # A claim's start row and its job's started_at are stamped by two
    # statements of one transaction (MariaDB's clock is per statement): 10 ms
    # covers the gap.
    assert most_in_window(starts, 0.99) <= 200


async def claim_times(db: TestDatabase) -> list[float]:
    async with aqueue.Queue(db.dsn) as reader:
        jobs = await reader.jobs.list(JobFilter(limit=JOBS + 1))
    return [j.started_at.timestamp() for j in jobs if j.started_at is not None]
