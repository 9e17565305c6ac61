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


async def drain(concurrency: int) -> None:
    queue = Queue.from_url(URL)
    worker = Worker(queue=queue, functions=[noop], concurrency=concurrency)
    await queue.connect()
    try:
        running = asyncio.create_task(worker.start())
        if URL.startswith("redis"):
            # Its Redis queue counts what is queued, running and not finished;
            # nothing signals the end, so poll them every 50 ms. A job leaves
            # the active list a moment before its status is written: the
            # counts must read zero twice, 0.2 s apart (once, a drain stopped
            # with 2 of 200 jobs unwritten).
            async def busy() -> bool:
                return any(
                    [
                        await queue.count("queued"),
                        await queue.count("active"),
                        await queue.count("incomplete"),
                    ]
                )

            while True:
                while await busy():  # noqa: ASYNC110 - nothing to wait on but a poll
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.2)
                if not await busy():
                    break
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
