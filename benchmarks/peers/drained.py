"""How the peers without a drain mode (chancy, saq, oban) know a drain is
over: a 50 ms poll of their job table on a connection of its own.
Importable from oban's Python 3.12 environment too (psycopg only)."""

from __future__ import annotations

import asyncio

import psycopg


async def wait_until_drained(dsn: str, unfinished_sql: str, every: float = 0.05) -> None:
    """Return once ``unfinished_sql`` (a count of the peer's unfinished jobs) is 0."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while True:
            row = await (await conn.execute(unfinished_sql)).fetchone()
            if not row or not row[0]:
                return
            await asyncio.sleep(every)
