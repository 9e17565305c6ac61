"""Retention under a steady stream: the table's size stays flat.

    python -m benchmarks.retention --backend postgresql --seconds 60

A producer enqueues ``--rate`` no-op jobs per second; two in-process workers
drain them with ``Queue(retention={"succeeded": ...})`` and a retention
sweep every ``--interval`` seconds. Every few seconds it prints the rows in
``aqueue_jobs``: without retention they grow by the rate; with it they level
off near ``rate * (keep + interval)``. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aqueue
from aqueue.records import JobFilter
from benchmarks.run import fresh


async def main(args: argparse.Namespace) -> None:
    dsn = await fresh(args.backend, Path(tempfile.mkdtemp()))
    queue = aqueue.Queue(dsn, retention={"succeeded": args.keep})

    @queue.task(name="bench.retained")
    async def retained() -> None:
        return None

    async with queue:
        await queue.migrate()
        workers = [
            aqueue.Worker(queue, concurrency=20, retention_interval=args.interval) for _ in range(2)
        ]
        running = [asyncio.create_task(w.run()) for w in workers]
        started = time.monotonic()
        enqueued = 0
        print(
            f"{args.backend}: {args.rate} jobs/s, keep succeeded {args.keep}s, "
            f"sweep every {args.interval}s"
        )
        print("| seconds | enqueued | rows in aqueue_jobs |\n|---|---|---|")
        next_report = 0.0
        while (elapsed := time.monotonic() - started) < args.seconds:
            due = int(elapsed * args.rate) - enqueued
            if due > 0:
                await queue.enqueue_many([retained.prepare() for _ in range(due)])
                enqueued += due
            if elapsed >= next_report:
                rows = len(await queue.jobs.list(JobFilter(limit=10_000_000)))
                print(f"| {elapsed:.0f} | {enqueued:,} | {rows:,} |")
                next_report += args.report
            await asyncio.sleep(0.05)
        for w in workers:
            w.stop()
        await asyncio.gather(*running)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgresql", "mysql", "sqlite"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--keep", type=float, default=10.0, help="seconds succeeded jobs stay")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between sweeps")
    parser.add_argument("--report", type=float, default=5.0)
    asyncio.run(main(parser.parse_args()))
