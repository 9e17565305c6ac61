"""``aqueue export | import`` and ``aqueue copy`` as a user runs them (the
SQLite → server upgrade path), and ``aqueue jobs --json`` of retried jobs."""

from __future__ import annotations

import json
from pathlib import Path

import aqueue
from tests.acceptance.helpers import admin, run
from tests.databases import TestDatabase


async def _jobs(dsn: str) -> None:
    queue = aqueue.Queue(dsn)

    @queue.task(name="shaky", max_attempts=2, backoff=aqueue.Backoff(base=0, jitter=0))
    async def shaky() -> None:
        raise ValueError("no")

    async with queue:
        await queue.migrate()
        await shaky.enqueue()
        for n in range(5):
            await queue.task_named("mail.send").using(queue="mail").enqueue(n)
        await queue.process(2, queues=["default"])  # shaky: a retry, then a failure


async def _claim_one(dsn: str) -> None:
    queue = aqueue.Queue(dsn)
    async with queue:
        await queue.task_named("mail.send").using(queue="mail").enqueue(99)
        await queue.backend.claim_jobs("w:1:abc", ["mail"], 1, 60)


def test_jobs_json_shows_retried_jobs(db: TestDatabase) -> None:
    # Regression: a job with history made `aqueue jobs --json` fail
    # ("Object of type PastAttempt is not JSON serializable").
    run(_jobs(db.dsn))
    result = admin("jobs", "--dsn", db.dsn, "--json")
    assert result.returncode == 0, result.stderr
    [failed] = [j for j in json.loads(result.stdout) if j["status"] == "failed"]
    assert failed["history"][0]["outcome"] == "retried"
    assert failed["history"][0]["started_at"].endswith("+00:00")


def test_export_then_import_twice(db: TestDatabase, tmp_path: Path) -> None:
    run(_jobs(db.dsn))
    exported = admin("export", "--dsn", db.dsn)
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.splitlines()
    assert len(lines) == 6 and "exported 6 jobs" in exported.stderr
    target = f"sqlite:///{tmp_path / 'target.db'}"
    dump = tmp_path / "jobs.jsonl"
    dump.write_text(exported.stdout)
    first = admin("import", "--dsn", target, str(dump))
    assert first.returncode == 0, first.stderr
    assert "imported 6 jobs; 0 already there" in first.stderr
    again = admin("import", "--dsn", target, stdin=exported.stdout)
    assert again.returncode == 0 and "imported 0 jobs; 6 already there" in again.stderr
    bad = admin("import", "--dsn", f"sqlite:///{tmp_path / 'other.db'}",
                stdin=lines[0] + "\n{broken\n" + lines[1] + "\n")
    assert bad.returncode == 1
    assert "imported 2 jobs" in bad.stderr and "refused line 2:" in bad.stderr
    only_failed = admin("export", "--dsn", db.dsn, "--status", "failed")
    assert len(only_failed.stdout.splitlines()) == 1
    assert admin("export", "--dsn", db.dsn, "--status", "bogus").returncode == 1


def test_copy_sqlite_to_the_server_and_refuse_running_jobs(
        db: TestDatabase, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'app.db'}"
    run(_jobs(source))
    run(_claim_one(source))
    refused = admin("copy", "--from", source, "--to", db.dsn)
    assert refused.returncode == 1
    assert "1 jobs are running" in refused.stderr and "--running-as-queued" in refused.stderr
    copied = admin("copy", "--from", source, "--to", db.dsn, "--running-as-queued",
                   "--batch-size", "2")
    assert copied.returncode == 0, copied.stderr
    assert "7 jobs; 0 already there" in copied.stderr
    status = json.loads(admin("status", "--dsn", db.dsn, "--json").stdout)
    assert status == {"default": {"failed": 1}, "mail": {"queued": 6}}
    again = admin("copy", "--from", source, "--to", db.dsn, "--running-as-queued")
    assert again.returncode == 0 and "0 jobs; 7 already there" in again.stderr
    same = admin("copy", "--from", source, "--to", source)
    assert same.returncode == 1 and "the same database" in same.stderr
