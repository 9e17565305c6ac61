"""The benchmark's app: one no-op async task."""

from __future__ import annotations

import time

import aqueue

queue = aqueue.Queue()  # the worker is always given --dsn


@queue.task(name="bench.noop")
async def noop(n: int = 0) -> float:
    """Does nothing; returns when it started (W4 measures enqueue -> start with it)."""
    return time.time()
