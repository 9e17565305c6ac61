"""saq's side of the benchmark: its PostgreSQL queue (or, with
AQUEUE_BENCH_SAQ_URL=redis://..., its Redis queue) and one no-op async function.

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

from saq import Queue, Worker
from saq.types import Context

from benchmarks.peers.drained import wait_until_drained
from benchmarks.peers.recorder import note_start

DSN = os.environ.get(
    "AQUEUE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/aqueue_bench"
)
URL = os.environ.get("AQUEUE_BENCH_SAQ_URL", DSN)


async def noop(ctx: Context, *, n: int = 0) -> None:
    note_start(n)


settings = {
    "queue": Queue.from_url(URL),
    "functions": [noop],
    "concurrency": int(os.environ.get("AQUEUE_BENCH_CONCURRENCY", "10")),
}


async def _all_complete(url: str, expected: int) -> bool:
    """Whether every job record saq keeps (``saq:job:*``, ttl 600 s) has a final
    status, and at least ``expected`` say complete (the drain's check then
    counts the completed ones)."""
    import json

    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match="saq:job:*", count=1000)]
        values = await client.mget(keys) if keys else []
    finally:
        await client.aclose()
    final = ("complete", "failed", "aborted")
    statuses = [json.loads(v).get("status") if v is not None else None for v in values]
    complete = sum(status == "complete" for status in statuses)
    return all(status in final for status in statuses) and complete >= expected


async def drain(concurrency: int) -> None:
    queue = Queue.from_url(URL)
    worker = Worker(queue=queue, functions=[noop], concurrency=concurrency)
    await queue.connect()
    try:
        running = asyncio.create_task(worker.start())
        if URL.startswith("redis"):
            # Its Redis queue counts what is queued, running and not finished;
            # nothing signals the end, so poll them every 50 ms. A job leaves
            # the active list a moment before its status is written (a drain
            # that stopped at zero counts once left 2 of 200 unwritten, and
            # once even after a second reading 0.2 s later), so the drain ends
            # when every job's own record says complete — and as many say so
            # as were enqueued (AQUEUE_BENCH_EXPECT): once a drain that passed
            # both checks still left one of 200 unwritten. Ten seconds at most
            # past the first zero, so a job saq lost ends the drain, counted.
            expected = int(os.environ.get("AQUEUE_BENCH_EXPECT", "0"))
            patience = 10.0

            async def busy() -> bool:
                return any(
                    [
                        await queue.count("queued"),
                        await queue.count("active"),
                        await queue.count("incomplete"),
                    ]
                )

            while await busy() or not await _all_complete(URL, expected):
                if not await busy():
                    patience -= 0.05
                    if patience <= 0:
                        break
                await asyncio.sleep(0.05)
        else:
            await wait_until_drained(
                DSN,
                "SELECT count(*) FROM saq_jobs WHERE status IN ('new', 'deferred', "
                "'queued', 'active')",
            )
        await worker.stop()
        await running
    finally:
        await queue.disconnect()


if __name__ == "__main__":
    asyncio.run(drain(int(sys.argv[1])))
