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
        conn = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.user,
                                     database="postgres")
        try:
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()", parsed.database)
            return len(rows)
        finally:
            await conn.close()
    conn = await aiomysql.connect(host=parsed.host, port=parsed.port or 3306,
                                  user=parsed.user, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT id FROM information_schema.processlist "
                              "WHERE db = %s AND id <> CONNECTION_ID()", (parsed.database,))
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
    worker = WorkerProcess(db.dsn, record_file, "--concurrency", "10", "--lease", "3",
                           "--poll-interval", "0.2")
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
    worker = WorkerProcess(db.dsn, record_file, "--concurrency", "10", "--lease", "5",
                           "--poll-interval", "0.2")
    try:
        wait_until(lambda: len(records(record_file)) > 20, 30, "jobs to run")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart",
                        "-m", "fast"], check=True, timeout=60)
        wait_until(lambda: _all_succeeded(db.dsn, len(ids)), 120, "every job to succeed")
    finally:
        assert worker.stop() == 0, worker.output()
    assert "cannot" in worker.output()  # it noticed the outage and carried on
    done = {j for kind, j, _ in records(record_file) if kind == "done"}
    assert done == set(ids)
    asyncio.run(asyncio.sleep(0))
