"""What durable steps cost: steps per second, and a job of ten steps beside
a job of none.

    python -m benchmarks.steps [--backend sqlite] [--jobs 300] [--runs 3]

Each configuration enqueues its jobs into a fresh database and drains them
with ``aqueue-worker --burst --concurrency 10``; medians of ``--runs``. A
step is a read of the stored result, the call, and a fenced insert: two
round trips. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aqueue
from benchmarks.run import fresh

WORKER = str(Path(sys.executable).with_name("aqueue-worker"))


async def one_run(backend: str, scratch: Path, task: str, jobs: int) -> float:
    """Seconds to drain ``jobs`` of ``task`` (the worker's start-up included)."""
    dsn = await fresh(backend, scratch)
    queue = aqueue.Queue(dsn)
    async with queue:
        await queue.enqueue_many([queue.task_named(task).prepare() for _ in range(jobs)])
    began = time.perf_counter()
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
    elapsed = time.perf_counter() - began
    async with queue:
        counts = {c.name: c.totals or {} for c in await queue.jobs.counts(totals=True)}
    if counts.get("default", {}).get("succeeded") != jobs:
        raise RuntimeError(f"not every job succeeded: {counts}")
    return elapsed


async def main_async(args: argparse.Namespace) -> None:
    configs = {
        "no steps (bench.noop)": ("bench.noop", 0),
        "10 steps (bench.steps)": ("bench.steps", 10),
    }
    times: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.runs):
            for name, (task, _) in configs.items():
                elapsed = await one_run(args.backend, Path(scratch), task, args.jobs)
                times[name].append(elapsed)
                print(f"run {run + 1}: {name}: {args.jobs / elapsed:,.1f} jobs/s", flush=True)
    plain, stepped = (statistics.median(times[name]) for name in configs)
    print(f"\n{args.backend}, {args.jobs} jobs, median of {args.runs}")
    print(
        f"no steps: {args.jobs / plain:,.1f} jobs/s; ten steps: {args.jobs / stepped:,.1f} jobs/s"
    )
    per_step = (stepped - plain) / (args.jobs * 10)
    print(
        f"steps: {args.jobs * 10 / stepped:,.0f}/s end to end; "
        f"{per_step * 1e6:,.0f} us more per step"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
