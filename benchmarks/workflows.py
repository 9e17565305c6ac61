"""What chords and batches cost: 1,000 jobs end to end as plain jobs, as a
chord's header with its callback, and as a batch added in ten calls.

    python -m benchmarks.workflows [--backend postgresql] [--jobs 1000] [--runs 3]

Each configuration writes its jobs into a fresh database (timed: "enqueue")
and drains them with ``aqueue-worker --burst --concurrency 10`` until the
callback, if any, has run (timed from the worker's start: "drain"); medians
of ``--runs``. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aqueue
from benchmarks.run import fresh

WORKER = str(Path(sys.executable).with_name("aqueue-worker"))

#: Enqueues ``jobs`` no-op jobs its way; returns the job whose end ends the run.
Enqueue = Callable[[aqueue.Queue, int], Awaitable["aqueue.Job[object] | None"]]


async def plain(queue: aqueue.Queue, jobs: int) -> aqueue.Job[object] | None:
    noop = queue.task_named("bench.noop")
    await queue.enqueue_many([noop.prepare() for _ in range(jobs)])
    return None


async def chord(queue: aqueue.Queue, jobs: int) -> aqueue.Job[object] | None:
    noop, collect = queue.task_named("bench.noop"), queue.task_named("bench.collect")
    flow = await queue.enqueue_workflow(
        aqueue.chord([noop.prepare() for _ in range(jobs)], collect.link())
    )
    return flow.jobs[0]


async def batch(queue: aqueue.Queue, jobs: int) -> aqueue.Job[object] | None:
    noop, done = queue.task_named("bench.noop"), queue.task_named("bench.batch_done")
    opened = await queue.open_batch(on_success=done.link())
    for first in range(0, jobs, max(1, jobs // 10)):
        await opened.add([noop.prepare() for _ in range(first, min(jobs, first + jobs // 10))])
    await opened.close()
    return (await opened.callbacks())["success"]


async def one_run(backend: str, scratch: Path, enqueue: Enqueue, jobs: int) -> tuple[float, float]:
    """Seconds to enqueue, and to drain (the worker's start-up included)."""
    dsn = await fresh(backend, scratch)
    queue = aqueue.Queue(dsn)
    async with queue:
        began = time.perf_counter()
        last = await enqueue(queue, jobs)
        enqueued = time.perf_counter() - began
    began = time.perf_counter()
    async with queue:
        for _ in range(3):  # a burst may end as the callback becomes due
            worker = await asyncio.create_subprocess_exec(
                WORKER,
                "benchmarks.app:queue",
                "--dsn",
                dsn,
                "--burst",
                "--concurrency",
                "10",
                "--log-level",
                "WARNING",
            )
            if await worker.wait() != 0:
                raise RuntimeError("the worker failed")
            if last is None or await last.status() == aqueue.JobStatus.SUCCEEDED:
                break
        drained = time.perf_counter() - began
        totals = {c.name: c.totals or {} for c in await queue.jobs.counts(totals=True)}
    succeeded = totals.get("default", {}).get("succeeded")
    if succeeded != jobs + (last is not None):
        raise RuntimeError(f"not every job succeeded: {totals}")
    return enqueued, drained


async def main_async(args: argparse.Namespace) -> None:
    configs: dict[str, Enqueue] = {
        "plain jobs": plain,
        "chord (header + callback)": chord,
        "batch (10 adds + callback)": batch,
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.runs):
            for name, enqueue in configs.items():
                found = await one_run(args.backend, Path(scratch), enqueue, args.jobs)
                times[name].append(found)
                print(
                    f"run {run + 1}: {name}: enqueue {found[0] * 1000:,.0f} ms, "
                    f"drain {found[1] * 1000:,.0f} ms",
                    flush=True,
                )
    print(f"\n{args.backend}, {args.jobs} jobs, medians of {args.runs}")
    base = None
    for name in configs:
        enqueued = statistics.median(t[0] for t in times[name])
        drained = statistics.median(t[1] for t in times[name])
        total = enqueued + drained
        base = base or total
        print(
            f"{name:28} enqueue {enqueued * 1000:7,.0f} ms  drain {drained * 1000:7,.0f} ms  "
            f"end to end {total * 1000:7,.0f} ms  ({total / base:.2f}x plain)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
