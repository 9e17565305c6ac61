"""What logging, metrics and tracing cost a busy worker.

    python -m benchmarks.observability [--backends postgresql,mysql,sqlite] [--runs 3]

Drains 20,000 no-op jobs with ``aqueue-worker --burst --concurrency 10``
(stderr to a file, as a service manager would keep it) in each
configuration, the configurations taking turns run after run, and prints
the median jobs/s and the ratio to the quiet baseline, twice: with the
process's start-up (imports included: what a ``--burst`` run costs), and
steady (from the first job's start to the last one's finish, as the jobs'
own times say: what a long-running worker's throughput loses):

- ``quiet``: ``--log-level WARNING`` (nothing per job);
- ``default``: as ``aqueue-worker`` starts: INFO, successes at DEBUG, a
  summary line a minute;
- ``log-jobs``: ``--log-jobs``, an INFO line per job (the old default);
- ``metrics``: the default plus ``--metrics-port``;
- ``tracing``: the default plus OpenTelemetry spans (``AQUEUE_BENCH_TRACING``;
  the jobs were enqueued traced too, so each carries a trace context).

It also times 2,000 single enqueues with and without tracing. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aqueue
from aqueue.records import JobFilter
from benchmarks.peers.drivers import peak_rss_of
from benchmarks.run import ROOT, fresh

WORKER = str(Path(sys.executable).with_name("aqueue-worker"))
JOBS = 20_000
CONFIGS: dict[str, tuple[list[str], dict[str, str]]] = {
    "quiet": (["--log-level", "WARNING"], {}),
    "default": ([], {}),
    "log-jobs": (["--log-jobs"], {}),
    "metrics": (["--metrics-port", "9391"], {}),
    "tracing": ([], {"AQUEUE_BENCH_TRACING": "1"}),
}


async def _enqueue(dsn: str, count: int, traced: bool) -> float:
    """Enqueue ``count`` jobs (in batches, or one per await when timing); jobs/s."""
    from benchmarks.app import noop, trace_everything

    queue = aqueue.Queue(dsn)
    if traced:
        trace_everything(queue)
    async with queue:
        task = queue.task_named(noop.name)
        began = time.perf_counter()
        if count == JOBS:
            for start in range(0, count, 1000):
                await queue.enqueue_many([task.prepare(n) for n in range(start, start + 1000)])
        else:
            for n in range(count):
                await task.enqueue(n)
        return count / (time.perf_counter() - began)


def _drain(dsn: str, name: str, log: Path) -> tuple[float, float]:
    flags, extra_env = CONFIGS[name]
    env = {**os.environ, **extra_env}
    with open(log, "ab") as sink:
        # stderr to a file: peak_rss_of inherits this process's streams.
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            elapsed, rss = peak_rss_of(
                [
                    WORKER,
                    "benchmarks.app:queue",
                    "--dsn",
                    dsn,
                    "--burst",
                    "--concurrency",
                    "10",
                    *flags,
                ],
                env=env,
            )
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return JOBS / elapsed, rss


async def steady_rate(dsn: str) -> float:
    """Jobs/s from the first job's start to the last one's finish."""
    queue = aqueue.Queue(dsn)
    async with queue:
        jobs = await queue.jobs.list(JobFilter(limit=JOBS + 1))
    first = min(j.started_at for j in jobs if j.started_at is not None)
    last = max(j.finished_at for j in jobs if j.finished_at is not None)
    return len(jobs) / (last - first).total_seconds()


async def bench_backend(backend: str, runs: int, workdir: Path) -> None:
    drains: dict[str, list[float]] = {name: [] for name in CONFIGS}
    steady: dict[str, list[float]] = {name: [] for name in CONFIGS}
    rss: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for run in range(runs):
        for name in CONFIGS:
            dsn = await fresh(backend, workdir)
            await _enqueue(dsn, JOBS, traced=name == "tracing")
            rate, peak = await asyncio.to_thread(_drain, dsn, name, workdir / f"{name}.log")
            drains[name].append(rate)
            steady[name].append(await steady_rate(dsn))
            rss[name].append(peak)
            print(
                f"  {backend} run {run + 1} {name}: {rate:,.0f} jobs/s, steady "
                f"{steady[name][-1]:,.0f}",
                file=sys.stderr,
            )
    base = statistics.median(drains["quiet"])
    steady_base = statistics.median(steady["quiet"])
    print(f"\n{backend}: drain of {JOBS:,} jobs, concurrency 10, median of {runs}")
    print(
        "| configuration | jobs/s with start-up | vs quiet | jobs/s steady | vs quiet "
        "| peak RSS MB |\n|---|---|---|---|---|---|"
    )
    for name in CONFIGS:
        rate = statistics.median(drains[name])
        flat = statistics.median(steady[name])
        print(
            f"| {name} | {rate:,.0f} | {rate / base:.2f}x | {flat:,.0f} | "
            f"{flat / steady_base:.2f}x | {max(rss[name]):.1f} |"
        )
    singles: dict[str, list[float]] = {"untraced": [], "traced": []}
    for _ in range(runs):
        for name in singles:
            dsn = await fresh(backend, workdir)
            singles[name].append(await _enqueue(dsn, min(2000, JOBS - 1), traced=name == "traced"))
    untraced = statistics.median(singles["untraced"])
    traced = statistics.median(singles["traced"])
    print(
        f"\n{backend}: {min(2000, JOBS - 1):,} single enqueues: {untraced:,.0f}/s untraced, "
        f"{traced:,.0f}/s "
        f"traced ({traced / untraced:.2f}x)"
    )


async def main(args: argparse.Namespace) -> None:
    global JOBS
    JOBS = args.jobs
    workdir = Path(tempfile.mkdtemp())
    print(f"logs of the drains: {workdir}", file=sys.stderr)
    for backend in args.backends.split(","):
        await bench_backend(backend, args.runs, workdir)


if __name__ == "__main__":
    os.chdir(ROOT)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,mysql,sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=JOBS, help="jobs per drain (20,000)")
    asyncio.run(main(parser.parse_args()))
