"""``aqueue health`` (exit codes for probes) and ``aqueue backup`` (SQLite's
online backup while a real worker writes)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import aqueue
from tests.acceptance.helpers import (
    WorkerProcess,
    admin,
    enqueue_records,
    run,
    wait_until,
)
from tests.counting import totals
from tests.databases import TestDatabase
from tests.raw import set_time


async def _age_a_job(dsn: str) -> None:
    queue = aqueue.Queue(dsn)
    async with queue:
        job = await queue.enqueue("mail.send", 1)
        await set_time(queue, job.id, "scheduled_at", -900)


def test_health_exit_codes(db: TestDatabase) -> None:
    assert admin("migrate", "--dsn", db.dsn).returncode == 0  # SQLite: make the file
    ok = admin("health", "--dsn", db.dsn, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "healthy"
    run(_age_a_job(db.dsn))
    bad = admin("health", "--dsn", db.dsn, "--max-queued-age", "5m")
    assert bad.returncode == 1
    assert bad.stdout.startswith("aqueue health: unhealthy")
    assert "a due job of queue 'default' has waited" in bad.stdout
    assert admin("health", "--dsn", db.dsn, "--max-queued-age", "1h").returncode == 0


def test_health_of_an_unreachable_database_exits_2() -> None:
    result = admin("health", "--dsn", "postgresql://probe:s3cret@127.0.0.1:1/x", "--json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["status"] == "unknown" and not report["reachable"]
    assert "s3cret" not in result.stdout + result.stderr


def test_health_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    result = admin("health", "--dsn", f"sqlite:///{missing}")
    assert result.returncode == 1 and "does not exist" in result.stdout
    assert not missing.exists()


def test_backup_while_a_worker_runs(tmp_path: Path, record_file: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'app.db'}"
    ids = run(enqueue_records(dsn, 2000, sleep=0.05))  # ~5 s of work for 20 slots
    worker = WorkerProcess(dsn, record_file, "--concurrency", "20")
    try:
        worker.wait_for_output("started on")
        wait_until(lambda: record_file.exists(), 10, "the first job")
        target = tmp_path / "backup.db"
        result = admin("backup", "--dsn", dsn, str(target))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"backed up {dsn} to {target}")
    finally:
        assert worker.stop() == 0
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(conn.execute("SELECT id, status FROM aqueue_jobs").fetchall())
    assert sorted(rows) == sorted(ids)  # every job, in whatever state it was then
    # Taken mid-run: some jobs had finished, others had not.
    assert {"succeeded", "queued"} <= set(rows.values()), set(rows.values())
    assert not (tmp_path / "backup.db.partial").exists()

    async def readable() -> int:
        queue = aqueue.Queue(f"sqlite:///{target}")
        async with queue:
            return sum(sum(s.values()) for s in (await totals(queue)).values())

    assert run(readable()) == 2000


def test_backup_refuses_what_it_cannot_copy(tmp_path: Path) -> None:
    server = admin("backup", "--dsn", "postgresql://u:s3cret@127.0.0.1/x", str(tmp_path / "b"))
    assert server.returncode == 1 and "pg_dump" in server.stderr
    assert "s3cret" not in server.stderr
    missing = admin("backup", "--dsn", f"sqlite:///{tmp_path / 'none.db'}", str(tmp_path / "b"))
    assert missing.returncode == 1 and "no database file" in missing.stderr
    same = tmp_path / "same.db"
    sqlite3.connect(same).close()
    itself = admin("backup", "--dsn", f"sqlite:///{same}", str(same))
    assert itself.returncode == 1 and "cannot be the database itself" in itself.stderr
