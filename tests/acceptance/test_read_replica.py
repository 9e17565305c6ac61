"""Reads on a streaming replica (``Queue(read_dsn=...)``): lists, counts,
names, the dashboard's pages and the health check read the replica; one job,
a workflow's jobs and every action read the primary. Replay is paused on the
replica to tell the two apart: what was written since is on the primary only.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import aqueue
from aqueue.backends.base import Replication
from aqueue.errors import ConfigurationError
from aqueue.records import JobFilter
from tests.acceptance.helpers import ADMIN, ROOT, admin, wait_until
from tests.replica import replay, replica_of, replica_server

TOKEN = "replica-test-token-0123456789"


@pytest.fixture(scope="module", autouse=True)
def replica() -> Iterator[None]:
    with replica_server():
        yield


@pytest.fixture
def read_dsn(pg_dsn: str) -> Iterator[str]:
    yield replica_of(pg_dsn)


@pytest.fixture
async def paused(read_dsn: str) -> AsyncIterator[None]:
    """Replay paused on the replica for the test (resumed after, whatever happens)."""
    await replay(read_dsn, paused=True)
    try:
        yield
    finally:
        await replay(read_dsn, paused=False)


async def caught_up(queue: aqueue.Queue) -> None:
    """Wait until the replica has replayed what the primary had written by
    now (not "no lag": the other tests' databases keep the primary writing)."""
    primary, replica = queue.backend, await queue.reads.backend()
    assert isinstance(primary, Replication) and isinstance(replica, Replication)
    position = await primary.wal_position()
    for _ in range(3000):
        # Replay has no notification to wait on; it takes milliseconds.
        if await replica.replica_lag(position) == 0:
            return
    raise AssertionError("the replica did not catch up")


async def test_lists_counts_and_names_come_from_the_replica(pg_dsn: str, read_dsn: str) -> None:
    queue = aqueue.Queue(pg_dsn, read_dsn=read_dsn)
    async with queue:
        first = await queue.enqueue("early", 1)
        await caught_up(queue)
        assert [j.id for j in await queue.jobs.list()] == [first.id]
        await replay(read_dsn, paused=True)
        try:
            later = await queue.enqueue("later", user_id=42)
            # The replica has not replayed it: lists, counts and names miss it...
            assert [j.id for j in await queue.jobs.list()] == [first.id]
            assert [c.due for c in await queue.jobs.counts()] == [1]
            assert await queue.jobs.task_names() == ["early"]
            # ...and say how far behind they are.
            lag = await queue.reads.lag()
            assert lag is not None and lag > 0
            # One job, a listing asked of the primary, and actions see it at once.
            info = await queue.get_job(later.id)
            assert info is not None and info.task == "later"
            assert [j.id for j in await queue.jobs.list(primary=True)] == [later.id, first.id]
            assert await queue.jobs.cancel_matching(JobFilter(tasks=("later",))) == 1
        finally:
            await replay(read_dsn, paused=False)
        await caught_up(queue)
        assert await queue.jobs.task_names() == ["early", "later"]
        assert [j.status.value for j in await queue.jobs.list()] == ["cancelled", "queued"]


async def test_health_reports_the_replica_and_its_lag(pg_dsn: str, read_dsn: str) -> None:
    queue = aqueue.Queue(pg_dsn, read_dsn=read_dsn)
    async with queue:
        await queue.enqueue("t")
        await caught_up(queue)
        health = await queue.health(max_replica_lag=5)
        assert health.status == "healthy", health.problems
        assert health.read_database is not None and ":5433/" in health.read_database
        # Caught up with this test's writes; the others' may be on their way.
        assert health.replica_lag is not None and health.replica_lag < 5
        assert health.due == 1
        await replay(read_dsn, paused=True)
        try:
            await queue.enqueue("t")
            health = await queue.health(max_replica_lag=0)
        finally:
            await replay(read_dsn, paused=False)
        assert health.status == "unhealthy"
        assert health.replica_lag is not None and health.replica_lag > 0
        assert any("read replica" in p for p in health.problems), health.problems
        assert health.due == 1  # counted on the replica, which missed the second


async def test_an_unreachable_replica_is_named_and_nothing_falls_back(pg_dsn: str) -> None:
    queue = aqueue.Queue(pg_dsn, read_dsn="postgresql://postgres:s3cret@127.0.0.1:1/nowhere")
    async with queue:
        await queue.enqueue("t")  # producing does not need the replica
        health = await queue.health(timeout=5)
        assert health.status == "unknown"
        assert "127.0.0.1:1/nowhere" in health.problems[0]
        assert "s3cret" not in json.dumps(health.as_dict())
        with pytest.raises(aqueue.DatabaseUnavailable):
            await queue.jobs.list()


def test_the_health_command_takes_a_read_dsn(pg_dsn: str, read_dsn: str) -> None:
    result = admin("health", "--json", "--dsn", pg_dsn, "--read-dsn", read_dsn)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["read_database"].endswith(":5433/" + pg_dsn.rsplit("/", 1)[1])
    assert found["replica_lag"] is not None


async def test_the_dashboard_reads_the_replica_and_acts_on_the_primary(
    pg_dsn: str, read_dsn: str, paused: None
) -> None:
    from aqueue.web import create_app

    queue = aqueue.Queue(pg_dsn, read_dsn=read_dsn)
    async with queue:
        job = await queue.enqueue("written_while_paused")
        app = create_app(queue, token=TOKEN)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers=headers
        ) as client:
            listed = (await client.get("/api/jobs")).json()
            assert listed["jobs"] == []  # the replica has not replayed it
            names = (await client.get("/api/names")).json()
            assert names["tasks"] == []
            detail = await client.get(f"/api/jobs/{job.id}")
            assert detail.status_code == 200 and detail.json()["task"] == "written_while_paused"
            cancelled = await client.post(f"/api/jobs/{job.id}/cancel")
            assert cancelled.status_code == 200, cancelled.text
        info = await queue.get_job(job.id)
        assert info is not None and info.status.value == "cancelled"


def test_a_read_dsn_must_be_a_replica_of_the_same_kind(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match="read_dsn"):
        aqueue.Queue("postgresql://u@h/db", read_dsn="mysql://u@h/db")
    with pytest.raises(ConfigurationError, match="read_dsn"):
        aqueue.Queue("sqlite:///a.db", read_dsn="sqlite:///b.db")


def test_the_dashboard_command_takes_a_read_dsn(pg_dsn: str, read_dsn: str, tmp_path: Path) -> None:
    """``aqueue dashboard --read-dsn``: a real process reading the replica."""

    async def enqueue_and_pause() -> str:
        queue = aqueue.Queue(pg_dsn, read_dsn=read_dsn)
        async with queue:
            await queue.enqueue("replayed")
            await caught_up(queue)
            await replay(read_dsn, paused=True)
            return (await queue.enqueue("not_replayed")).id

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = open(tmp_path / "dashboard.log", "wb")
    proc = subprocess.Popen(
        [ADMIN, "dashboard", "--dsn", pg_dsn, "--read-dsn", read_dsn, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "AQUEUE_DASHBOARD_TOKEN": TOKEN},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        hidden = asyncio.run(enqueue_and_pause())
        wait_until(lambda: _get(port, "/api/jobs") is not None, 20, "the dashboard to answer")
        listed = _get(port, "/api/jobs")
        assert listed is not None
        assert [j["task"] for j in listed["jobs"]] == ["replayed"]
        detail = _get(port, f"/api/jobs/{hidden}")
        assert detail is not None and detail["task"] == "not_replayed"
    finally:
        asyncio.run(replay(read_dsn, paused=False))
        proc.terminate()
        proc.wait(10)
        log.close()


def _get(port: int, path: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())
    except OSError:
        return None
