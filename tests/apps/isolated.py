"""Tasks for the child-process tests: each says which process ran it, and
some die in the ways a task can take its process down."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import sys
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


# -- output (aqueue/_worker/output.py) --------------------------------------------

log = logging.getLogger("tests.chatty")


@queue.task(name="chatty", max_attempts=2, backoff=QUICK, takes_context=True)
def chatty(ctx: aqueue.JobContext, fail_first: bool = False) -> str:
    """Prints, writes to stderr and logs, naming its attempt; fails its first if asked."""
    print(f"out of attempt {ctx.attempt}")
    print(f"err of attempt {ctx.attempt}", file=sys.stderr)
    log.warning("logged by attempt %d", ctx.attempt)
    if fail_first and ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    return "done"


@queue.task(name="achatty", capture_output=True, max_attempts=1)
async def achatty(tag: str, lines: int) -> None:
    """Interleaves its lines with others' running beside it."""
    for n in range(lines):
        print(f"{tag} {n}")
        await asyncio.sleep(0)


@queue.task(name="schatty", capture_output=True, max_attempts=1)
def schatty(tag: str) -> None:
    """Prints from the worker's thread for sync tasks."""
    print(f"{tag} from a thread")
    log.warning("%s logged from a thread", tag)


@queue.task(name="quiet_print", max_attempts=1)
def quiet_print() -> None:
    """Prints, in a task that does not capture (in the worker)."""
    print("not kept")


@queue.task(name="last_words", max_attempts=1)
def last_words(code: int) -> None:
    print("about to die")
    sys.stdout.write("no newline yet")  # the worker gets what was sent before the end
    sys.stdout.flush()
    os._exit(code)


@queue.task(name="loud", max_attempts=1)
def loud(lines: int) -> None:
    for n in range(lines):
        print(f"line {n:06d} " + "x" * 50)


@queue.task(name="talk_then_spin", timeout=1, max_attempts=1)
def talk_then_spin() -> None:
    print("spinning now")
    while True:
        pass


@queue.task(name="odd_text", capture_output=True, max_attempts=1)
def odd_text() -> None:
    """Prints what some database cannot store as it is."""
    print("nul \x00, lone \udcff, emoji \U0001f389, bidi \u202e")


# -- snooze ------------------------------------------------------------------------


@queue.task(name="snoozer", max_attempts=1, takes_context=True)
def snoozer(ctx: aqueue.JobContext, times: int, delay: float = 0.0) -> dict[str, int]:
    """Snoozes until it has ``times`` times, then says what it saw."""
    snoozes = int((ctx.meta or {}).get("snoozes", 0))
    if snoozes < times:
        raise aqueue.Snooze(delay)
    return {"attempt": ctx.attempt, "snoozes": snoozes}


# -- durable steps (aqueue/steps.py) ------------------------------------------------


@queue.task(name="stepper", max_attempts=3, backoff=QUICK, takes_context=True)
async def stepper(ctx: aqueue.JobContext, record: str, fail_at: int = 0) -> list[object]:
    """Three steps, each noting in ``record`` that it ran; the attempt numbered
    ``fail_at`` fails after the second."""

    def note(name: str) -> str:
        with open(record, "a") as f:
            f.write(f"{name} {ctx.attempt} {os.getpid()}\n")
        return f"{name} done"

    first = await ctx.step("one", note, "one")
    second = await ctx.step("two", note, "two")
    if ctx.attempt == fail_at:
        raise RuntimeError("between two and three")
    third = await ctx.step("three", note, "three")
    return [first, second, third, ctx.attempt]


@queue.task(name="slow_steps", max_attempts=3, takes_context=True)
async def slow_steps(ctx: aqueue.JobContext, record: str, flag: str) -> str:
    """Two steps, then waits (for a SIGKILL) until ``flag`` exists, then a third."""

    def note(name: str) -> str:
        with open(record, "a") as f:
            f.write(f"{name} {ctx.attempt} {os.getpid()}\n")
        return name

    await ctx.step("one", note, "one")
    await ctx.step("two", note, "two")
    # Both steps are stored now (a step's note is written before its result
    # is): the test may kill the worker from here on.
    await asyncio.to_thread(Path(record + ".stored").touch)
    # The test's signal is a file, from another process: looked for, not awaited.
    while not await asyncio.to_thread(os.path.exists, flag):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return str(await ctx.step("three", note, "three"))


@queue.task(name="napper", max_attempts=1, takes_context=True)
async def napper(ctx: aqueue.JobContext, record: str) -> int:
    """A step, an hour's durable sleep, a step."""

    def note(name: str) -> str:
        with open(record, "a") as f:
            f.write(f"{name} {ctx.attempt}\n")
        return name

    await ctx.step("before", note, "before")
    await ctx.sleep("1h")
    await ctx.step("after", note, "after")
    return ctx.attempt


@queue.task(name="approver", max_attempts=1, takes_context=True)
async def approver(ctx: aqueue.JobContext, record: str, timeout: float | None = None) -> object:
    """A step, a wait for the signal "approved", a step; returns the payload."""

    def note(name: str) -> str:
        with open(record, "a") as f:
            f.write(f"{name} {ctx.attempt}\n")
        return name

    await ctx.step("asked", note, "asked")
    payload = await ctx.wait_for("approved", timeout=timeout)
    await ctx.step("done", note, "done")
    return payload


@queue.task(name="double", max_attempts=1)
def double(n: int) -> int:
    return 2 * n


@queue.task(name="summed", max_attempts=1)
def summed(values: list[int]) -> dict[str, object]:
    """A chord's callback: the members' results, received in a child process."""
    return {"sum": sum(values), "in_child": multiprocessing.parent_process() is not None}
