"""Raw asyncpg baselines for W1 and W2: the ceiling to read aqueue's figures against.

A job-shaped table and no queue library: one ``INSERT`` per commit (W1's
ceiling) and one ``INSERT ... SELECT FROM unnest(...)`` of 20,000 rows (W2's
ceiling). ``benchmarks.run`` runs these beside aqueue and the peers.

W2 is timed two ways. "from Python values" starts, as aqueue's W2 does, from
the job numbers and includes making each row's id (``uuid4``) and JSON
arguments (``json.dumps``); "statement only" times the ``execute`` alone, with
every array built beforehand.
"""

from __future__ import annotations

import json
import time
import uuid

import asyncpg

TABLE = """
CREATE TABLE raw_jobs (id uuid PRIMARY KEY, queue text NOT NULL, status text NOT NULL,
    priority smallint NOT NULL, scheduled_at timestamptz NOT NULL DEFAULT now(),
    args jsonb NOT NULL, attempts int NOT NULL DEFAULT 0)
"""
INSERT_ONE = (
    "INSERT INTO raw_jobs (id, queue, status, priority, args) "
    "VALUES ($1, 'default', 'queued', 0, $2::jsonb)"
)
INSERT_MANY = (
    "INSERT INTO raw_jobs (id, queue, status, priority, args) "
    "SELECT id, 'default', 'queued', 0, a::jsonb "
    "FROM unnest($1::uuid[], $2::text[]) AS t(id, a)"
)


async def _connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await conn.execute("DROP TABLE IF EXISTS raw_jobs")
    await conn.execute(TABLE)
    return conn


async def single(dsn: str, n: int) -> float:
    """W1's ceiling: one INSERT and one commit per job, one connection (jobs/s)."""
    conn = await _connect(dsn)
    try:
        await conn.execute(INSERT_ONE, uuid.uuid4(), "[0]")
        began = time.perf_counter()
        for i in range(n):
            await conn.execute(INSERT_ONE, uuid.uuid4(), json.dumps([i]))
        return n / (time.perf_counter() - began)
    finally:
        await conn.close()


async def batch(dsn: str, n: int, statement_only: bool = False) -> float:
    """W2's ceiling: ``n`` rows in one ``INSERT ... SELECT FROM unnest`` (jobs/s)."""
    conn = await _connect(dsn)
    try:
        await conn.execute(INSERT_MANY, [uuid.uuid4()], ["[0]"])
        if statement_only:
            ids = [uuid.uuid4() for _ in range(n)]
            args = [json.dumps([i]) for i in range(n)]
            began = time.perf_counter()
        else:
            began = time.perf_counter()
            ids = [uuid.uuid4() for _ in range(n)]
            args = [json.dumps([i]) for i in range(n)]
        await conn.execute(INSERT_MANY, ids, args)
        return n / (time.perf_counter() - began)
    finally:
        await conn.close()


async def latency_floor(dsn: str, samples: int = 200) -> float:
    """W4's floor on PostgreSQL (ms): the median idle round trip (``SELECT 1``)
    plus the median durable commit of one job-shaped INSERT, on one connection.
    No queue can start a job sooner than its enqueue commits and a worker hears
    of it."""
    conn = await _connect(dsn)
    try:
        trips, commits = [], []
        for i in range(samples):
            began = time.perf_counter()
            await conn.fetchval("SELECT 1")
            trips.append(time.perf_counter() - began)
            began = time.perf_counter()
            await conn.execute(INSERT_ONE, uuid.uuid4(), json.dumps([i]))
            commits.append(time.perf_counter() - began)
        trips.sort()
        commits.sort()
        return (trips[samples // 2] + commits[samples // 2]) * 1000
    finally:
        await conn.close()
