"""chancy's side of the benchmark: one no-op async job, run by its asyncio executor.

    python -m benchmarks.peers.chancy_app <concurrency> <drain|continuous> <log level>

chancy has no drain mode: in ``drain`` this script starts its worker as
chancy's ``worker start`` does and stops it (gracefully) once the job table
holds no unfinished job, read every 50 ms on a connection of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from chancy import Chancy, Queue, Worker, job  # type: ignore[import-untyped]

from benchmarks.peers.drained import wait_until_drained
from benchmarks.peers.recorder import note_start

DSN = os.environ.get(
    "AQUEUE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/aqueue_bench"
)


@job(queue="default")  # type: ignore[untyped-decorator]
async def noop(n: int = 0) -> None:
    note_start(n)


def queue(concurrency: int) -> Queue:
    # Async jobs go to its asyncio executor, as chancy's docs advise for
    # I/O-bound async work (its default executor is a process pool). Eager
    # polling, its setting for queues where jobs are continuously available:
    # without it a worker fetches again only every polling_interval (5 s), and
    # drains 10 jobs per 5 s at concurrency 10.
    return Queue(
        name="default", concurrency=concurrency, executor=Chancy.Executor.Async, eager_polling=True
    )


async def main(concurrency: int, drain: bool, level: str) -> None:
    log = logging.getLogger("chancy")
    app = Chancy(DSN)
    if level != "default":
        log.setLevel(level)
    async with app:
        await app.declare(queue(concurrency), upsert=True)
        async with Worker(app) as worker:
            if not drain:
                await worker.wait_for_shutdown()
                return
            await wait_until_drained(
                DSN, "SELECT count(*) FROM chancy_jobs WHERE state NOT IN ('succeeded', 'failed')"
            )
            await worker.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] == "drain", sys.argv[3]))
