"""Limited tasks for the worker-process tests: each attempt appends
``start|end <task> <key> <CLOCK_MONOTONIC ns>`` to ``AQUEUE_TEST_RECORD``
(the monotonic clock is the machine's, shared by every process)."""

from __future__ import annotations

import asyncio
import os
import time

import aqueue

queue = aqueue.Queue()  # AQUEUE_DSN, or the worker's --dsn


def _record(what: str, task: str, key: str) -> None:
    line = f"{what} {task} {key or '-'} {time.monotonic_ns()}\n"
    fd = os.open(os.environ["AQUEUE_TEST_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@queue.task(name="capped", concurrency=5)
async def capped(key: str = "", seconds: float = 0.01) -> None:
    _record("start", "capped", key)
    await asyncio.sleep(seconds)
    _record("end", "capped", key)


@queue.task(name="throttled", rate_limit="200/s")
async def throttled(key: str = "") -> None:
    _record("start", "throttled", key)
    _record("end", "throttled", key)
