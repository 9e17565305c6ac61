"""``queue.health()`` on each backend: healthy when all is well, and each
problem it looks for found and named."""

from __future__ import annotations

import pytest

import aqueue
from aqueue.errors import ConfigurationError
from aqueue.records import WorkerRegistration
from tests.databases import TestDatabase
from tests.raw import expire_leases, set_time
from tests.seam import registry


async def test_an_idle_queue_is_healthy(queue: aqueue.Queue) -> None:
    health = await queue.health()
    assert (health.status, health.exit_code, health.problems) == ("healthy", 0, [])
    assert health.reachable and health.schema_version == health.schema_wanted
    assert health.oldest_due_age is None and health.due == 0
    assert health.as_dict()["status"] == "healthy"


async def test_a_job_waiting_too_long_is_unhealthy_unless_its_queue_is_paused(
    queue: aqueue.Queue,
) -> None:
    job = await queue.enqueue("mail.send", 1)
    await set_time(queue, job.id, "scheduled_at", -600)
    fresh = await queue.enqueue("mail.send", 2)
    health = await queue.health(max_queued_age=300)
    assert health.status == "unhealthy" and health.exit_code == 1
    assert health.due == 2 and health.oldest_due_queue == "default"
    assert health.oldest_due_age is not None and 590 < health.oldest_due_age < 700
    assert health.problems == [
        f"a due job of queue 'default' has waited {health.oldest_due_age:.0f}s (more than 300s)"
    ]
    assert (await queue.health(max_queued_age=3600)).status == "healthy"
    await queue.pause("default")
    paused = await queue.health(max_queued_age=300)
    assert paused.status == "healthy" and paused.paused_queues == ["default"]
    assert fresh.id  # both jobs stay queued: health reads only


async def test_leases_nobody_rescues_are_unhealthy(queue: aqueue.Queue) -> None:
    await queue.enqueue("mail.send", 1)
    [claimed] = await queue.backend.claim_jobs("gone:1:abc", None, 1, 30)
    await expire_leases(queue, "gone:1:abc")  # a second past, and nobody rescued it
    assert (await queue.health(lease_grace=60)).status == "healthy"
    health = await queue.health(lease_grace=0.1)
    assert health.status == "unhealthy" and health.expired_leases == 1
    assert "no worker is alive to rescue them" in health.problems[0]
    assert health.running == 1 and claimed.id


async def test_too_few_workers_alive(queue: aqueue.Queue) -> None:
    assert (await queue.health(min_workers=1)).problems == ["0 workers alive, fewer than 1"]
    await registry(queue).register_worker(
        WorkerRegistration("w:1:abc", "host", 1, None, 5, aqueue.__version__), ttl=60
    )
    health = await queue.health(min_workers=1)
    assert health.status == "healthy" and health.workers_alive == 1


async def test_an_unreachable_database_cannot_tell(database: TestDatabase) -> None:
    if database.backend == "sqlite":
        queue = aqueue.Queue("sqlite:////nonexistent/dir/aqueue.db")
        health = await queue.health()
        assert health.status == "unhealthy"  # a missing file is known, not unknown
        assert health.problems == ["the database file /nonexistent/dir/aqueue.db does not exist"]
        return
    scheme = "postgresql" if database.backend == "postgresql" else "mysql"
    queue = aqueue.Queue(f"{scheme}://someone:s3cret@127.0.0.1:1/nothing")
    health = await queue.health(timeout=20)
    assert (health.status, health.exit_code, health.reachable) == ("unknown", 2, False)
    assert "cannot be reached" in health.problems[0] and "s3cret" not in str(health)
    await queue.close()


async def test_reads_through_a_read_dsn_see_the_same_jobs(database: TestDatabase) -> None:
    """``read_dsn`` on each server backend (here the database itself, as a
    replica with no lag; the PostgreSQL replica's own tests are in
    tests/acceptance/test_read_replica.py); SQLite has none to offer."""
    if database.backend == "sqlite":
        with pytest.raises(ConfigurationError, match="read_dsn"):
            aqueue.Queue(database.dsn, read_dsn=database.dsn)
        return
    queue = aqueue.Queue(database.dsn, read_dsn=database.dsn)
    async with queue:
        job = await queue.enqueue("mail.send", 1)
        assert [j.id for j in await queue.jobs.list()] == [job.id]
        assert await queue.jobs.task_names() == ["mail.send"]
        health = await queue.health()
        assert health.status == "healthy" and health.due == 1
        assert health.read_database == queue.dsn
        # Not a standby: a lag cannot be told (MySQL never tells one).
        assert health.replica_lag is None
    assert queue.reads.dsn == queue.dsn
