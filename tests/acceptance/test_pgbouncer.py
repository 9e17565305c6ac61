"""PostgreSQL through PgBouncer in transaction pooling mode (``?pgbouncer=on``):
producers and real worker processes, LISTEN on a direct ``--listen-dsn``, and
idle workers probing where there is none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

import aqueue
from tests.acceptance.helpers import WorkerProcess, done_counts, records, run, statuses
from tests.databases import IN_CI, POSTGRES_DSN, fresh_database
from tests.pgbouncer import PgBouncer, pgbouncer_binary
from tests.raw import raw

DATABASE = "aqueue_test_bouncer"


@pytest.fixture(scope="module")
def bouncer() -> Iterator[PgBouncer]:
    if pgbouncer_binary() is None:
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        if IN_CI:
            pytest.fail(f"{message}: in CI the PgBouncer tests must run")
        pytest.skip(message)
    try:
        fresh_database("postgresql", DATABASE)
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_DSN}: {exc}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_DSN}: {exc}")
    proxy = PgBouncer(POSTGRES_DSN, pool=3)
    yield proxy
    proxy.stop()


@pytest.fixture
def pooled(bouncer: PgBouncer) -> str:
    """The aqueue DSN through PgBouncer, migrated through it, with no jobs."""
    dsn = bouncer.dsn(DATABASE) + "?pgbouncer=on"

    async def prepare() -> None:
        queue = aqueue.Queue(dsn)
        async with queue:
            await queue.migrate()
        async with raw(direct()) as sql:
            await sql.execute("TRUNCATE aqueue_jobs CASCADE")  # their output goes too

    run(prepare())
    return dsn


def direct() -> str:
    return POSTGRES_DSN.rsplit("/", 1)[0] + "/" + DATABASE


async def _produce(dsn: str, producers: int = 6, singles: int = 40, batch: int = 300) -> int:
    from tests.apps.recording import record

    queue = aqueue.Queue(dsn, pool_size=8)
    async with queue:

        async def one(k: int) -> None:
            for n in range(singles):
                await queue.enqueue("record", k * 10_000 + n)
            await queue.enqueue_many([record.prepare(k * 10_000 + 5_000 + n) for n in range(batch)])

        await asyncio.gather(*(one(k) for k in range(producers)))
    return producers * (singles + batch)


def test_producers_and_workers_work_through_transaction_pooling(
    pooled: str, tmp_path: Path
) -> None:
    """Six producers and two worker processes share three server sessions:
    every job is enqueued and runs exactly once."""
    count = run(_produce(pooled))
    record_file = tmp_path / "record.txt"
    workers = [
        WorkerProcess(pooled, record_file, "--burst", "--concurrency", "20") for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(120) == 0, worker.output()
    done = done_counts(record_file)
    assert len(done) == count and set(done.values()) == {1}
    assert all(info.status == "succeeded" for info in run(statuses(pooled)).values())


def test_without_the_option_asyncpg_breaks_behind_the_proxy(bouncer: PgBouncer) -> None:
    """Why ``?pgbouncer=on`` exists: asyncpg's prepared statements outlive the
    transaction PgBouncer lends a session for."""
    plain = bouncer.dsn(DATABASE)
    with pytest.raises((asyncpg.PostgresError, aqueue.AqueueError)):
        run(_produce(plain, producers=6, singles=30, batch=50))


@pytest.mark.parametrize("listen", ["direct LISTEN", "probe"])
def test_an_idle_worker_behind_the_proxy_wakes_for_a_new_job(
    pooled: str, tmp_path: Path, listen: str
) -> None:
    args = ["--listen-dsn", direct()] if listen == "direct LISTEN" else []
    record_file = tmp_path / "record.txt"
    worker = WorkerProcess(pooled, record_file, "--poll-interval", "30", *args)
    try:
        worker.wait_for_output("started on")
        time.sleep(0.5)  # into its first 30 s wait

        async def enqueue_and_wait() -> None:
            queue = aqueue.Queue(pooled)
            async with queue:
                job = await queue.enqueue("record", 1)
                await job.result(timeout=10)  # a third of the poll

        run(enqueue_and_wait())
        assert [kind for kind, _, _ in records(record_file)] == ["start", "done"]
    finally:
        assert worker.stop() == 0
