"""Enqueue on the caller's own connection, inside the caller's transaction."""

from __future__ import annotations

import asyncio

import aiomysql
import aiosqlite
import asyncpg
import pytest

import aqueue
from aqueue.dsn import parse


@pytest.mark.parametrize("commit", [True, False])
async def test_job_exists_only_if_the_transaction_commits(
    queue: aqueue.Queue, commit: bool
) -> None:
    @queue.task(name="tx")
    async def tx(n: int) -> int:
        return n

    dsn = parse(queue.dsn)
    if queue.dialect == "postgresql":
        conn = await asyncpg.connect(
            host=dsn.host, port=dsn.port, user=dsn.user, database=dsn.database
        )
        try:
            transaction = conn.transaction()
            await transaction.start()
            job = await tx.using(connection=conn).enqueue(1)
            await (transaction.commit() if commit else transaction.rollback())
        finally:
            await conn.close()
    elif queue.dialect == "mysql":
        conn = await aiomysql.connect(
            host=dsn.host, port=dsn.port, user=dsn.user, db=dsn.database, autocommit=False
        )
        try:
            await conn.begin()
            job = await tx.using(connection=conn).enqueue(1)
            await (conn.commit() if commit else conn.rollback())
        finally:
            conn.close()
    else:
        async with aiosqlite.connect(dsn.database, isolation_level=None) as conn:
            await conn.execute("BEGIN IMMEDIATE")
            job = await tx.using(connection=conn).enqueue(1)
            await conn.execute("COMMIT" if commit else "ROLLBACK")
    info = await queue.get_job(job.id)
    assert (info is not None) is commit


@pytest.mark.parametrize("database", ["mysql"], indirect=True)
async def test_a_deadlock_on_the_callers_connection_is_not_retried(queue: aqueue.Queue) -> None:
    """The deadlock rolled back the caller's whole transaction: a retried INSERT
    would commit on its own, without the caller's other writes. It must raise."""
    import pymysql

    @queue.task(name="tx")
    async def tx(n: int) -> int:
        return n

    dsn = parse(queue.dsn)

    async def connect() -> aiomysql.Connection:
        return await aiomysql.connect(
            host=dsn.host, port=dsn.port, user=dsn.user, db=dsn.database, autocommit=False
        )

    setup, caller, other = await connect(), await connect(), await connect()
    try:
        async with setup.cursor() as cur:
            await cur.execute("DROP TABLE IF EXISTS aqueue_test_accounts")
            await cur.execute("CREATE TABLE aqueue_test_accounts (id INT PRIMARY KEY, n INT)")
            await cur.execute("INSERT INTO aqueue_test_accounts SELECT seq, 0 FROM seq_1_to_200")
        await setup.commit()
        # The other transaction holds the unique key and many rows (so that
        # InnoDB picks the caller's light transaction as the deadlock victim).
        await other.begin()
        await tx.using(connection=other, unique_key="k").enqueue(0)
        async with other.cursor() as cur:
            await cur.execute("UPDATE aqueue_test_accounts SET n = n + 1 WHERE id > 1")
        await caller.begin()
        async with caller.cursor() as cur:
            await cur.execute("UPDATE aqueue_test_accounts SET n = n + 1 WHERE id = 1")

        async def other_takes_row_one() -> None:
            async with other.cursor() as cur:
                await cur.execute("UPDATE aqueue_test_accounts SET n = n + 1 WHERE id = 1")
            await other.commit()

        waiting = asyncio.create_task(other_takes_row_one())
        await _until_running(setup, other)  # it now waits for row one
        with pytest.raises(pymysql.err.OperationalError) as excinfo:
            await asyncio.wait_for(tx.using(connection=caller, unique_key="k").enqueue(1), 20)
        assert excinfo.value.args[0] == 1213
        await caller.rollback()
        await asyncio.wait_for(waiting, 20)
    finally:
        for conn in (setup, caller, other):
            conn.close()
    jobs = await queue.jobs.list()
    assert [(j.args, j.unique_key) for j in jobs] == [([0], "k")]


async def test_enqueue_many_honours_a_jobs_connection(queue: aqueue.Queue) -> None:
    @queue.task(name="tx")
    async def tx(n: int) -> int:
        return n

    dsn = parse(queue.dsn)
    if queue.dialect == "postgresql":
        conn = await asyncpg.connect(
            host=dsn.host, port=dsn.port, user=dsn.user, database=dsn.database
        )
        transaction = conn.transaction()
        await transaction.start()
        jobs = await queue.enqueue_many([tx.using(connection=conn).prepare(n) for n in range(3)])
        await transaction.rollback()
        await conn.close()
    elif queue.dialect == "mysql":
        conn = await aiomysql.connect(
            host=dsn.host, port=dsn.port, user=dsn.user, db=dsn.database, autocommit=False
        )
        await conn.begin()
        jobs = await queue.enqueue_many([tx.using(connection=conn).prepare(n) for n in range(3)])
        await conn.rollback()
        conn.close()
    else:
        async with aiosqlite.connect(dsn.database, isolation_level=None) as conn:
            await conn.execute("BEGIN IMMEDIATE")
            jobs = await queue.enqueue_many(
                [tx.using(connection=conn).prepare(n) for n in range(3)]
            )
            await conn.execute("ROLLBACK")
    # Written on the caller's connection, so rolled back with it.
    assert [await queue.get_job(j.id) for j in jobs] == [None, None, None]
    with pytest.raises(ValueError, match="some jobs name a connection"):
        await queue.enqueue_many([tx.using(connection=object()).prepare(1), tx.prepare(2)])
    with pytest.raises(ValueError, match="different connections"):
        await queue.enqueue_many(
            [tx.using(connection=object()).prepare(1), tx.using(connection=object()).prepare(2)]
        )


async def _until_running(conn: aiomysql.Connection, other: aiomysql.Connection) -> None:
    """Until the server is executing a statement of ``other`` (here: one that
    waits for a row lock, as it cannot finish while the row is held)."""
    for _ in range(500):
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT COUNT(*) FROM information_schema.processlist "
                "WHERE id = %s AND info IS NOT NULL",
                (other.thread_id(),),
            )
            (running,) = await cur.fetchone()
        if running:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the other connection never ran its statement")
