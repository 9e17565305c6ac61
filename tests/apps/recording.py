"""Tasks for the worker-process tests. Each attempt appends lines to the file named
by ``AQUEUE_TEST_RECORD`` (O_APPEND writes of one short line do not interleave)."""

from __future__ import annotations

import asyncio
import os

import aqueue

queue = aqueue.Queue()  # AQUEUE_DSN, or the worker's --dsn


def _record(line: str) -> None:
    fd = os.open(os.environ["AQUEUE_TEST_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@queue.task(name="record", takes_context=True, max_attempts=5)
async def record(ctx: aqueue.JobContext, n: int, sleep: float = 0.0) -> int:
    _record(f"start {ctx.job_id} {ctx.attempt} {os.getpid()}")
    if sleep:
        await asyncio.sleep(sleep)
    _record(f"done {ctx.job_id} {ctx.attempt} {os.getpid()}")
    return n


@queue.task(name="blocking", takes_context=True, max_attempts=5)
async def blocking(ctx: aqueue.JobContext, n: int, seconds: float) -> int:
    """Blocks the event loop (a bug users make): the worker must not run it twice."""
    import time

    _record(f"start {ctx.job_id} {ctx.attempt} {os.getpid()}")
    time.sleep(seconds)  # noqa: ASYNC251 - the point of this task
    _record(f"done {ctx.job_id} {ctx.attempt} {os.getpid()}")
    return n


@queue.task(name="flaky", max_attempts=1, capture_output=True)
def flaky(flag: str, note: str) -> str:
    """Fails until the file ``flag`` exists (then a retry succeeds); a sync
    task that keeps what it prints."""
    print(f"looking for {flag} for {note}")
    if not os.path.exists(flag):
        raise RuntimeError(f"flag {flag} is missing for {note}")
    return f"done: {note}"


@queue.task(name="hostile", max_attempts=1)
async def hostile(text: str) -> None:
    """Fails with ``text`` as its message (control characters, a forged line)."""
    raise ValueError(text)


@queue.task(name="collect", takes_context=True, max_attempts=5)
async def collect(ctx: aqueue.JobContext, results: list[int]) -> dict[str, object]:
    """A chord's callback: says what it received."""
    _record(f"collect {ctx.job_id} {ctx.attempt} {os.getpid()}")
    return {"count": len(results), "in_order": results == sorted(results), "sum": sum(results)}


@queue.task(name="batch_done", takes_context=True, max_attempts=5)
async def batch_done(ctx: aqueue.JobContext, counts: dict[str, object], on: str) -> object:
    """A batch's callback: records that it ran, returns the counts it got."""
    _record(f"{on} {ctx.job_id} {ctx.attempt} {os.getpid()}")
    return counts


@queue.task(name="gated", takes_context=True, max_attempts=5)
async def gated(ctx: aqueue.JobContext, gate: str) -> None:
    """Starts, then waits for the file ``gate``: jobs on several workers end together."""
    _record(f"start {ctx.job_id} {ctx.attempt} {os.getpid()}")
    # Another process makes the file: nothing in this one can be awaited instead.
    while not os.path.exists(gate):  # noqa: ASYNC110, ASYNC240
        await asyncio.sleep(0.005)
    _record(f"done {ctx.job_id} {ctx.attempt} {os.getpid()}")
