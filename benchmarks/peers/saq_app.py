"""saq's side of the benchmark: its PostgreSQL queue and one no-op async function.

Continuous workers are saq's own CLI (``saq benchmarks.peers.saq_app.settings``;
AQUEUE_BENCH_CONCURRENCY sets its concurrency). Drains run the same Worker
in-process and stop it once the job table holds no unfinished job, read every
50 ms:

    python -m benchmarks.peers.saq_app <concurrency>

(saq's ``burst`` mode stops at the first dequeue that waits past its
``dequeue_timeout``: short, it stopped with half the jobs left; long, every
drain would end with that wait.)
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import psycopg
from saq import Queue, Worker

from benchmarks.peers.recorder import note_start

DSN = os.environ.get("AQUEUE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/aqueue_bench")


async def noop(ctx: dict[str, Any], *, n: int = 0) -> None:
    note_start(n)


settings = {
    "queue": Queue.from_url(DSN),
    "functions": [noop],
    "concurrency": int(os.environ.get("AQUEUE_BENCH_CONCURRENCY", "10")),
}


async def _unfinished() -> int:
    async with await psycopg.AsyncConnection.connect(DSN, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM saq_jobs WHERE status IN ('new', 'deferred', 'queued', "
            "'active')")
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def drain(concurrency: int) -> None:
    queue = Queue.from_url(DSN)
    worker = Worker(queue=queue, functions=[noop], concurrency=concurrency)
    await queue.connect()
    try:
        running = asyncio.create_task(worker.start())
        while await _unfinished():  # noqa: ASYNC110 - the database is what we watch
            await asyncio.sleep(0.05)
        await worker.stop()
        await running
    finally:
        await queue.disconnect()


if __name__ == "__main__":
    asyncio.run(drain(int(sys.argv[1])))
