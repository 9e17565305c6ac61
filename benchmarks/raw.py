"""Raw asyncpg baselines for the same workloads, to read aqueue's figures against.

    python -m benchmarks.raw      # W1 and W2 as plain SQL on PostgreSQL, median of 3

A job-shaped table, no queue library: one INSERT per commit (W1's ceiling) and
one ``INSERT ... SELECT FROM unnest(...)`` of 20,000 rows (W2's ceiling).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid

import asyncpg

from aqueue.dsn import parse
from benchmarks.run import SERVERS

TABLE = """
CREATE TABLE raw_jobs (id uuid PRIMARY KEY, queue text NOT NULL, status text NOT NULL,
    priority smallint NOT NULL, scheduled_at timestamptz NOT NULL DEFAULT now(),
    args jsonb NOT NULL, attempts int NOT NULL DEFAULT 0)
"""


async def _connect() -> asyncpg.Connection:
    p = parse(SERVERS["postgresql"])
    return await asyncpg.connect(host=p.host, port=p.port, user=p.user, password=p.password,
                                 database=p.database)


async def single(n: int = 2000) -> float:
    conn = await _connect()
    try:
        await conn.execute("DROP TABLE IF EXISTS raw_jobs")
        await conn.execute(TABLE)
        sql = ("INSERT INTO raw_jobs (id, queue, status, priority, args) "
               "VALUES ($1, 'default', 'queued', 0, $2::jsonb)")
        began = time.perf_counter()
        for i in range(n):
            await conn.execute(sql, uuid.uuid4(), f"[{i}]")
        return n / (time.perf_counter() - began)
    finally:
        await conn.close()


async def batch(n: int = 20_000) -> float:
    conn = await _connect()
    try:
        await conn.execute("DROP TABLE IF EXISTS raw_jobs")
        await conn.execute(TABLE)
        ids = [uuid.uuid4() for _ in range(n)]
        args = [f"[{i}]" for i in range(n)]
        began = time.perf_counter()
        await conn.execute(
            "INSERT INTO raw_jobs (id, queue, status, priority, args) "
            "SELECT id, 'default', 'queued', 0, a::jsonb FROM unnest($1::uuid[], $2::text[]) "
            "AS t(id, a)", ids, args)
        return n / (time.perf_counter() - began)
    finally:
        await conn.close()


async def main() -> None:
    results = {}
    for name, fn in (("W1 raw INSERT per commit", single), ("W2 raw INSERT unnest", batch)):
        values = [await fn() for _ in range(3)]
        results[name] = values
        print(f"{name}: median {statistics.median(values):,.0f} jobs/s "
              f"(min {min(values):,.0f}, max {max(values):,.0f})")
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
