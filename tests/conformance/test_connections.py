"""Connections aqueue opens: one LISTEN connection per queue, never leaked;
SQLite durable by default."""

from __future__ import annotations

import asyncio
import gc
import warnings

import asyncpg
import pytest

import aqueue
from aqueue.dsn import parse
from tests.seam import notifications

PG = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


async def _sessions(dsn: str) -> int:
    parsed = parse(dsn)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.user, database="postgres"
    )
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
                "AND pid <> pg_backend_pid()",
                parsed.database,
            )
        )
    finally:
        await conn.close()


@PG
async def test_many_result_waiters_share_one_listener(database: object) -> None:
    from tests.databases import TestDatabase

    assert isinstance(database, TestDatabase)
    producer = aqueue.Queue(database.dsn, pool_size=4)

    @producer.task(name="slowish")
    async def slowish(n: int) -> int:
        await asyncio.sleep(0.01)
        return n

    async with producer:
        jobs = await producer.enqueue_many([slowish.prepare(n) for n in range(300)])
        waiting = asyncio.gather(*(job.result(timeout=60) for job in jobs))
        await asyncio.sleep(0.5)
        # The pool (4) and one listener, not one listener per waiter.
        assert await _sessions(database.dsn) <= 4 + 1
        assert producer.backend is not None
        worker_queue = aqueue.Queue(database.dsn)
        worker_queue.tasks = producer.tasks
        async with worker_queue:
            worker = aqueue.Worker(worker_queue, concurrency=50, burst=True)
            await worker.run()
        assert await asyncio.wait_for(waiting, 60) == list(range(300))


@PG
async def test_a_listener_that_cannot_listen_is_closed(
    queue: aqueue.Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await _sessions(queue.dsn)

    async def refuse(*args: object) -> None:
        raise asyncpg.exceptions.InsufficientPrivilegeError("LISTEN refused")

    monkeypatch.setattr(asyncpg.Connection, "add_listener", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(aqueue.DatabaseUnavailable, match="LISTEN refused"):
            await notifications(queue).listen(lambda _q: None, lambda _ids: None)
        gc.collect()
        await asyncio.sleep(0.2)
    # Closed by aqueue, not left open for the garbage collector to find.
    assert not [w for w in caught if "unclosed connection" in str(w.message)]
    assert await _sessions(queue.dsn) == before


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("option", "level"), [("", 2), ("?synchronous=normal", 1)])
async def test_sqlite_is_durable_unless_told_otherwise(
    database: object, option: str, level: int
) -> None:
    from tests.databases import TestDatabase

    assert isinstance(database, TestDatabase)
    async with aqueue.Queue(database.dsn + option) as queue:
        # A setting of each connection: read on aqueue's own, which no API hands out.
        rows = await queue.backend._fetchall("PRAGMA synchronous", {})  # type: ignore[attr-defined]
        assert rows[0][0] == level  # 2 = FULL: on disk when enqueue returns


def test_a_queue_closed_under_one_event_loop_opens_under_the_next(database: object) -> None:
    """Regression: SQLite's connection lock stayed bound to the event loop it
    was first contended on, so a queue used under two ``asyncio.run()`` calls
    (a script, a test suite, Django's tests) failed in the second as soon as
    two of its calls met; so would the queue's own lock of opening and closing."""
    from tests.databases import TestDatabase

    assert isinstance(database, TestDatabase)
    queue = aqueue.Queue(database.dsn)

    async def busy() -> None:
        await asyncio.gather(*(queue.open() for _ in range(3)))  # opens that meet
        try:
            await asyncio.gather(*(queue.jobs.counts() for _ in range(5)))
        finally:
            await asyncio.gather(*(queue.close() for _ in range(3)))

    asyncio.run(busy())
    asyncio.run(busy())
