"""Tasks for the child-process tests: each says which process ran it, and
some die in the ways a task can take its process down."""

from __future__ import annotations

import asyncio
import ctypes
import os
from pathlib import Path

import aqueue

queue = aqueue.Queue()  # AQUEUE_DSN, or the worker's --dsn; children never connect

QUICK = aqueue.Backoff(base=0.0, jitter=0.0)
_kept: list[bytearray] = []


@queue.task(name="pid", max_attempts=1)
def pid() -> int:
    return os.getpid()


@queue.task(name="apid", max_attempts=1)
async def apid() -> int:
    await asyncio.sleep(0)
    return os.getpid()


@queue.task(name="die", max_attempts=2, backoff=QUICK)
def die(code: int) -> None:
    os._exit(code)


@queue.task(name="segfault", max_attempts=2, backoff=QUICK)
def segfault() -> None:
    ctypes.string_at(0)  # reads address 0: SIGSEGV


@queue.task(name="leak", max_attempts=1)
def leak(megabytes: int) -> int:
    """Keeps ``megabytes`` for the rest of the process's life (touched, so resident)."""
    _kept.append(bytearray(b"\x01") * (megabytes * 2**20))
    return os.getpid()


@queue.task(name="spin", timeout=1, max_attempts=1)
def spin() -> None:
    while True:  # a sync task no thread could stop
        pass


@queue.task(name="sleepy", max_attempts=1)
async def sleepy(seconds: float, flag: str = "") -> int:
    if flag:  # says it has started, and where
        Path(flag).write_text(str(os.getpid()))  # noqa: ASYNC240 - a few bytes, once
    await asyncio.sleep(seconds)
    return os.getpid()


@queue.task(name="progress", takes_context=True, max_attempts=1)
async def progress(ctx: aqueue.JobContext) -> list[object]:
    owned = await ctx.set_progress({"half": True})
    return [owned, ctx.job_id, ctx.attempt, os.getpid()]


@queue.task(name="boom", max_attempts=1)
def boom() -> None:
    raise ValueError("boom in a child")


@queue.task(name="again", max_attempts=2, backoff=QUICK)
def again() -> str:
    raise aqueue.Retry(0.0, "once more")


@queue.task(name="isolated", isolation="process", max_attempts=1)
def isolated() -> int:
    return os.getpid()
