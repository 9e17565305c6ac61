"""Operators' reads on a read replica: what they cost the workers, on the primary and off it.

    scripts/start_replica.sh            # as root: a streaming replica on port 5433
    python -m benchmarks.replica
    python -m benchmarks.replica --readers 8 --jobs 20000 --history 200000 --runs 2

A fresh PostgreSQL database gets ``--history`` finished jobs (one SQL
statement), then for each mode a worker process (``--burst --concurrency
10``) drains ``--jobs`` no-op jobs while ``--readers`` tasks in this process
read what a dashboard and a metrics exporter read, back to back, without a
pause: the queues' counts, the newest page of jobs, and a search of the
failed jobs by error text. Modes: no readers; readers on the primary; readers
on the replica (``Queue(read_dsn=...)``). Printed per mode: the drain's jobs/s
(worker start-up included) and the readers' pages/s and median / p95 page
time. Nothing is asserted.

On this machine the replica shares the primary's two CPU cores: what moving
the reads saves here is the primary's own work (its buffer and lock traffic,
its connections), not CPU, which a replica on its own host would also give
back.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aqueue
from aqueue.records import JobFilter
from benchmarks.app import noop
from benchmarks.run import _fill, _run_worker, fresh, server_connection
from tests.replica import replica_of


async def _reader(queue: aqueue.Queue, stop: asyncio.Event, times: list[float]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        await queue.jobs.counts()
        await queue.jobs.list(JobFilter(limit=50))
        await queue.jobs.list(JobFilter(statuses=("failed",), error_contains="timeout", limit=50))
        times.append(time.perf_counter() - began)


async def _drain(dsn: str, jobs: int) -> float:
    """jobs/s of a worker process draining ``jobs`` new no-op jobs, start-up included."""
    queue = aqueue.Queue(dsn)
    async with queue:
        before = await _succeeded(queue)
        await queue.enqueue_many([noop.prepare(n) for n in range(jobs)])
        elapsed, _ = await asyncio.to_thread(_run_worker, dsn, "--burst", "--concurrency", "10")
        done = await _succeeded(queue) - before
    if done != jobs:
        raise RuntimeError(f"the drain finished {done} of {jobs} jobs")
    return jobs / elapsed


async def _succeeded(queue: aqueue.Queue) -> int:
    counted = await queue.jobs.counts(totals=True)
    return sum((c.totals or {}).get("succeeded", 0) for c in counted)


async def one_mode(dsn: str, read_dsn: str | None, readers: int, jobs: int) -> dict[str, float]:
    stop = asyncio.Event()
    times: list[float] = []
    queue = aqueue.Queue(dsn, read_dsn=read_dsn)
    async with queue:
        tasks = [asyncio.create_task(_reader(queue, stop, times)) for _ in range(readers)]
        began = time.perf_counter()
        rate = await _drain(dsn, jobs)
        spent = time.perf_counter() - began
        stop.set()
        await asyncio.gather(*tasks)
    figures = {"drain": rate}
    if times:
        ordered = sorted(times)
        figures["pages_per_s"] = len(times) / spent
        figures["median_ms"] = statistics.median(ordered) * 1000
        figures["p95_ms"] = ordered[int(len(ordered) * 0.95)] * 1000
    return figures


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        dsn = await fresh("postgresql", Path(scratch))
    await _fill(dsn, args.history, 0)
    async with server_connection(dsn) as conn:
        await conn.execute("VACUUM ANALYZE aqueue_jobs")
    read_dsn = await asyncio.to_thread(replica_of, dsn)
    print(
        f"PostgreSQL, {args.history:,} finished jobs, drains of {args.jobs:,} no-op jobs at "
        f"concurrency 10, {args.readers} readers (counts, newest 50, error search) back to back"
    )
    print(f"{'mode':<22}{'drain jobs/s':>14}{'pages/s':>10}{'median ms':>11}{'p95 ms':>9}")
    modes = [("no readers", None, 0), ("readers on primary", None, args.readers)]
    modes.append(("readers on replica", read_dsn, args.readers))
    for run in range(args.runs):
        for name, where, readers in modes:
            f = await one_mode(dsn, where, readers, args.jobs)
            pages = (
                f"{f['pages_per_s']:>10.1f}{f['median_ms']:>11.1f}{f['p95_ms']:>9.1f}"
                if "pages_per_s" in f
                else ""
            )
            print(f"{name:<22}{f['drain']:>14,.0f}{pages}   (run {run + 1})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=2)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
