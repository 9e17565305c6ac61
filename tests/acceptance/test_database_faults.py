"""A dropped connection or a database restart mid-run costs no job (SPEC §5.4)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

import aiomysql
import asyncpg
import pytest

import aqueue
from aqueue import JobStatus
from aqueue.dsn import parse
from tests.acceptance.helpers import (
    WorkerProcess,
    enqueue_records,
    records,
    run,
    statuses,
    wait_until,
)
from tests.databases import IN_CI, TestDatabase


async def _drop_connections(dsn: str) -> int:
    """Kill every other session on the test database, as a failover or a DBA would."""
    parsed = parse(dsn)
    if parsed.dialect == "postgresql":
        conn = await asyncpg.connect(
            host=parsed.host, port=parsed.port, user=parsed.user, database="postgres"
        )
        try:
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                parsed.database,
            )
            return len(rows)
        finally:
            await conn.close()
    conn = await aiomysql.connect(
        host=parsed.host, port=parsed.port or 3306, user=parsed.user, autocommit=True
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT id FROM information_schema.processlist "
                "WHERE db = %s AND id <> CONNECTION_ID()",
                (parsed.database,),
            )
            ids = [row[0] for row in await cur.fetchall()]
            for session in ids:
                try:
                    await cur.execute("KILL %s", (session,))
                except aiomysql.OperationalError:
                    pass  # it ended by itself meanwhile
            return len(ids)
    finally:
        conn.close()


def _all_succeeded(dsn: str, count: int) -> bool:
    jobs = run(statuses(dsn))
    return len(jobs) == count and all(j.status == JobStatus.SUCCEEDED for j in jobs.values())


@pytest.mark.parametrize("database", ["postgresql", "mysql"], indirect=True)
def test_dropped_connections_cost_no_job(db: TestDatabase, record_file: Path) -> None:
    ids = run(enqueue_records(db.dsn, 300, sleep=0.05))
    worker = WorkerProcess(
        db.dsn, record_file, "--concurrency", "10", "--lease", "3", "--poll-interval", "0.2"
    )
    try:
        for _ in range(3):
            wait_until(lambda: len(records(record_file)) > 0, 30, "jobs to run")
            time.sleep(0.3)
            run(_drop_connections(db.dsn))
        wait_until(lambda: _all_succeeded(db.dsn, len(ids)), 90, "every job to succeed")
    finally:
        assert worker.stop() == 0, worker.output()
    done = {j for kind, j, _ in records(record_file) if kind == "done"}
    assert done == set(ids)


def _pg_cluster() -> tuple[str, str] | None:
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return None
    versions = sorted(os.listdir("/etc/postgresql"))
    return (versions[-1], "main") if versions else None


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_postgres_restart_costs_no_job(db: TestDatabase, record_file: Path) -> None:
    cluster = _pg_cluster()
    if cluster is None or os.geteuid() != 0:
        message = "needs root and a local pg_ctlcluster-managed PostgreSQL to restart"
        if IN_CI:
            pytest.fail(f"{message} (CI must run every fault test)")
        pytest.skip(message)
    ids = run(enqueue_records(db.dsn, 200, sleep=0.05))
    worker = WorkerProcess(
        db.dsn, record_file, "--concurrency", "10", "--lease", "5", "--poll-interval", "0.2"
    )
    try:
        wait_until(lambda: len(records(record_file)) > 20, 30, "jobs to run")
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart", "-m", "fast"],
            check=True,
            timeout=60,
        )
        wait_until(lambda: _all_succeeded(db.dsn, len(ids)), 120, "every job to succeed")
    finally:
        assert worker.stop() == 0, worker.output()
    assert "cannot" in worker.output()  # it noticed the outage and carried on
    done = {j for kind, j, _ in records(record_file) if kind == "done"}
    assert done == set(ids)
    asyncio.run(asyncio.sleep(0))


async def _terminate_sessions_repeatedly(dsn: str, seconds: float, every: float) -> int:
    """``pg_terminate_backend`` on every other session of the database, ``every``
    seconds for ``seconds``: a pooler or a DBA killing sessions over and over."""
    parsed = parse(dsn)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.user, database="postgres"
    )
    killed = 0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(every)
            killed += len(
                await conn.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    parsed.database,
                )
            )
    finally:
        await conn.close()
    return killed


async def _enqueue_while(dsn: str, seconds: float) -> list[str]:
    """One job at a time (the hand-over path) and batches, through the kills."""
    from tests.apps.recording import record

    ids: list[str] = []
    queue = aqueue.Queue(dsn)
    async with queue:
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            try:
                if n % 10 == 0:
                    jobs = await queue.enqueue_many([record.prepare(i) for i in range(20)])
                    ids.extend(job.id for job in jobs)
                else:
                    ids.append((await queue.enqueue("record", n)).id)
            except aqueue.DatabaseUnavailable as exc:
                # Killed mid-insert: the job may or may not be there; a
                # producer would retry. Anything but a dead connection is a bug.
                assert "InternalClientError" not in str(exc), exc
            n += 1
            await asyncio.sleep(0.005)
    return ids


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_sessions_killed_twice_a_second_never_reuse_a_dead_connection(
    db: TestDatabase, record_file: Path
) -> None:
    """Regression: a session the server ended while idle was used again before
    asyncpg saw it close, failing with InternalClientError ("cannot switch to
    state 12; another operation (2) is in progress") on claims, outcome
    writes and inserts. Now such an operation goes again on a live connection."""
    worker = WorkerProcess(
        db.dsn, record_file, "--concurrency", "10", "--lease", "3", "--poll-interval", "0.2"
    )

    async def storm() -> tuple[int, list[str]]:
        killed, ids = await asyncio.gather(
            _terminate_sessions_repeatedly(db.dsn, 8, 0.5), _enqueue_while(db.dsn, 8)
        )
        return killed, ids

    try:
        killed, ids = run(storm())
        assert killed >= 16
        wait_until(
            lambda: all(j.status == JobStatus.SUCCEEDED for j in run(statuses(db.dsn)).values()),
            90,
            "every job to succeed",
        )
    finally:
        assert worker.stop() == 0, worker.output()
    assert set(ids) <= {j for kind, j, _ in records(record_file) if kind == "done"}
    assert "another operation" not in worker.output(), worker.output()
    assert "InternalClientError" not in worker.output(), worker.output()
