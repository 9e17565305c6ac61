"""What global concurrency and rate limits cost a worker.

    python -m benchmarks.limits [--backends postgresql,mysql,sqlite] [--jobs 5000] [--runs 3]
                                [--concurrency 10]

Drains ``--jobs`` no-op jobs with an in-process worker (``--concurrency``, the
claim batch and prefetch as ``aqueue-worker`` runs them) and prints jobs/s
and the ratio to ``off``, in the cases a worker meets:

- ``off``: no limited task anywhere: the ordinary claim alone;
- ``registered``: the worker has a limited task, but none of its jobs is
  queued: each limited claim finds no key (one statement);
- ``concurrency``: every job is limited (``concurrency=1000``, never
  reached): lock the key, count its running jobs, claim;
- ``rate``: every job is rate limited (``1000000/h``, never reached): also
  prune, count and log the starts;
- ``backlog``: unlimited jobs drained while 5,000 due limited jobs wait at
  the head of the queue, held back by their limit (one running job holds the
  key's only place).

The cases take turns, ``--runs`` times, on a fresh database each time; the
figures are medians. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aqueue
from aqueue.backends.base import Limits
from aqueue.limits import LimitedClaimer
from aqueue.records import TaskLimit
from aqueue.worker import Worker
from benchmarks.run import fresh

BACKLOG = 5_000
CASES = ("off", "registered", "concurrency", "rate", "backlog")


async def _case(dsn: str, case: str, jobs: int, concurrency: int = 10) -> float:
    queue = aqueue.Queue(dsn)

    @queue.task(name="plain")
    async def plain(n: int) -> None: ...

    @queue.task(name="capped", concurrency=1000)
    async def capped(n: int) -> None: ...

    @queue.task(name="throttled", rate_limit="1000000/h")
    async def throttled(n: int) -> None: ...

    @queue.task(name="stuck", concurrency=1)
    async def stuck(n: int) -> None: ...

    if case == "off":
        for name in ("capped", "throttled", "stuck"):
            del queue.tasks[name]
    target = {"concurrency": capped, "rate": throttled}.get(case, plain)
    async with queue:
        if case == "backlog":
            await stuck.using(priority=10).enqueue(-1)
            backend = queue.backend
            assert isinstance(backend, Limits)
            holder = LimitedClaimer(backend, "holder", None, 3600, {"stuck": TaskLimit("stuck", 1)})
            held, _ = await holder.claim(1)
            assert len(held) == 1
            await queue.enqueue_many([stuck.using(priority=10).prepare(n) for n in range(BACKLOG)])
        await queue.enqueue_many([target.prepare(n) for n in range(jobs)])
        worker = Worker(queue, concurrency=concurrency, max_jobs=jobs, register=False)
        began = time.perf_counter()
        await worker.run()
        elapsed = time.perf_counter() - began
        assert worker.processed_count == jobs, (case, worker.processed_count)
        return jobs / elapsed


async def measure(backends: list[str], jobs: int, runs: int, concurrency: int = 10) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        for backend in backends:
            figures: dict[str, list[float]] = {case: [] for case in CASES}
            for _ in range(runs):
                for case in CASES:
                    dsn = await fresh(backend, Path(scratch))
                    figures[case].append(await _case(dsn, case, jobs, concurrency))
            off = statistics.median(figures["off"])
            print(
                f"\n{backend}: jobs/s draining {jobs} jobs at concurrency {concurrency} "
                f"(median of {runs} runs)"
            )
            for case in CASES:
                value = statistics.median(figures[case])
                print(f"  {case:<12} {value:8.0f}   {value / off:5.2f}x off")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql,mysql,sqlite")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10, help="the worker's (default 10)")
    args = parser.parse_args()
    asyncio.run(measure(args.backends.split(","), args.jobs, args.runs, args.concurrency))


if __name__ == "__main__":
    main()
