"""The benchmark's app: one no-op async task."""

from __future__ import annotations

import os
import time

import aqueue

queue = aqueue.Queue()  # the worker is always given --dsn


@queue.task(name="bench.noop")
async def noop(n: int = 0) -> float:
    """Does nothing; returns when it started (W4 measures enqueue -> start with it)."""
    return time.time()


async def _passthrough(ctx: aqueue.JobContext, call_next: aqueue.middleware.CallNext) -> object:
    return await call_next()


# AQUEUE_BENCH_MIDDLEWARE=N wraps every job in N no-op middlewares, to measure
# what the chain costs (docs/performance.md).
for _ in range(int(os.environ.get("AQUEUE_BENCH_MIDDLEWARE", "0"))):
    queue.middleware(_passthrough)
