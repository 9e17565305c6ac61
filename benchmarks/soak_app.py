"""Tasks of the chaos soak. Each attempt writes ``start``/``done`` lines to the
ledger named by ``AQUEUE_SOAK_LEDGER`` (one O_APPEND write per line)."""

from __future__ import annotations

import asyncio
import os
import time

import aqueue

queue = aqueue.Queue()  # the worker's --dsn


def _ledger(kind: str, ctx: aqueue.JobContext) -> None:
    line = f"{kind} {ctx.job_id} {ctx.attempt} {os.getpid()} {time.time():.6f}\n"
    fd = os.open(os.environ["AQUEUE_SOAK_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@queue.task(name="soak.work", takes_context=True, max_attempts=1000)
async def work(ctx: aqueue.JobContext, n: int, sleep: float) -> int:
    _ledger("start", ctx)
    await asyncio.sleep(sleep)
    _ledger("done", ctx)
    return n


@queue.task(name="soak.poison", takes_context=True, max_attempts=2)
async def poison(ctx: aqueue.JobContext, kind: str) -> object:
    """What real tasks do: odd results and errors the database cannot take as given."""
    _ledger("start", ctx)
    _ledger("done", ctx)
    if kind == "nul_result":
        return {"text": "a\x00b"}
    if kind == "surrogate_result":
        return os.fsdecode(b"name-\xff")
    if kind == "surrogate_error":
        raise FileNotFoundError(os.fsdecode(b"missing-\xfe.csv"))
    if kind == "infinite_retry":
        raise aqueue.Retry(delay=float("inf"))
    return None
