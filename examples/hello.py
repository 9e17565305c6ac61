"""A small aqueue app.

    python -m examples.hello                       # enqueue a few jobs
    aqueue-worker examples.hello:queue --burst     # run them, exit when none is due
    aqueue status                                  # see what happened

With no AQUEUE_DSN set, everything lives in ./aqueue.db (SQLite).
"""

from __future__ import annotations

import asyncio

import aqueue

queue = aqueue.Queue()  # AQUEUE_DSN, else sqlite:///aqueue.db


@queue.task
async def greet(name: str) -> str:
    await asyncio.sleep(0.1)  # stands for real I/O
    return f"hello, {name}"


@queue.task(name="examples.word_count", max_attempts=2)
def word_count(text: str) -> int:
    """A sync task: the worker runs it in a thread so the event loop never blocks."""
    return len(text.split())


@queue.task(takes_context=True, max_attempts=3, backoff=aqueue.Backoff(base=0.0))
async def flaky(ctx: aqueue.JobContext) -> int:
    """Fails on its first attempt, then succeeds: shows a retry (due at once, so the
    --burst worker of the README still runs it; real tasks keep the default backoff)."""
    await ctx.set_progress({"attempt": ctx.attempt})
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails on purpose")
    return ctx.attempt


async def main() -> None:
    async with queue:
        jobs = await queue.enqueue_many([greet.prepare(name) for name in ("Ada", "Grace")])
        jobs.append(await word_count.using(priority=10).enqueue("one round trip per enqueue"))
        jobs.append(await flaky.enqueue())
        for job in jobs:
            print(f"enqueued {job.id}")


if __name__ == "__main__":
    asyncio.run(main())
