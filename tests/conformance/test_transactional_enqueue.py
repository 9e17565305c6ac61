"""Enqueue on the caller's own connection, inside the caller's transaction."""

from __future__ import annotations

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

    dsn = parse(queue.dsn if queue.dialect == "sqlite" else queue._dsn.raw)
    if queue.dialect == "postgresql":
        conn = await asyncpg.connect(host=dsn.host, port=dsn.port, user=dsn.user,
                                     database=dsn.database)
        try:
            transaction = conn.transaction()
            await transaction.start()
            job = await tx.using(connection=conn).enqueue(1)
            await (transaction.commit() if commit else transaction.rollback())
        finally:
            await conn.close()
    elif queue.dialect == "mysql":
        conn = await aiomysql.connect(host=dsn.host, port=dsn.port, user=dsn.user,
                                      db=dsn.database, autocommit=False)
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
