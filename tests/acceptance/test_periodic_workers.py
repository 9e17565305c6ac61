"""Periodic jobs with real worker processes: five workers started together
enqueue each tick once; a worker restarted mid-schedule does not double one."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tests.acceptance.helpers import ADMIN, ROOT, WorkerProcess, wait_until
from tests.databases import TestDatabase

APP = "tests.apps.periodic_app:queue"


def ticks(path: Path) -> Counter[int]:
    if not path.exists():
        return Counter()
    return Counter(
        int(line.split()[1]) for line in path.read_text().splitlines() if line.startswith("tick ")
    )


def test_five_workers_enqueue_each_tick_once(db: TestDatabase, record_file: Path) -> None:
    workers = [
        WorkerProcess(db.dsn, record_file, "--concurrency", "4", "--poll-interval", "0.2", app=APP)
        for _ in range(5)
    ]
    try:
        wait_until(lambda: len(ticks(record_file)) >= 6, 60, "six ticks to run")
        # A restart mid-schedule: stop one worker and start another.
        assert workers[0].stop() == 0
        workers[0] = WorkerProcess(db.dsn, record_file, "--poll-interval", "0.2", app=APP)
        seen = len(ticks(record_file))
        wait_until(lambda: len(ticks(record_file)) >= seen + 4, 60, "four more ticks")
    finally:
        for w in workers:
            assert w.stop() == 0
    counts = ticks(record_file)
    assert max(counts.values()) == 1, counts  # no tick ran twice
    # Every second from the first tick to the last ran (none skipped either).
    assert sorted(counts) == list(range(min(counts), max(counts) + 1)), sorted(counts)


def test_aqueue_periodic_lists_the_schedules(db: TestDatabase, record_file: Path) -> None:
    import json
    import os
    import subprocess

    env = {**os.environ, "AQUEUE_DSN": db.dsn}
    out = subprocess.run(
        [ADMIN, "periodic", APP, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    [row] = json.loads(out)
    assert (row["name"], row["task"], row["cron"]) == ("every second", "tick", "* * * * * *")
    assert row["next_tick"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
    text = subprocess.run(
        [ADMIN, "periodic", APP],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "tick" in text and "* * * * * *" in text
