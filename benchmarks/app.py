"""The benchmark's app: one no-op async task."""

from __future__ import annotations

import aqueue

queue = aqueue.Queue()  # the worker is always given --dsn


@queue.task(name="bench.noop")
async def noop(n: int = 0) -> None:
    return None
