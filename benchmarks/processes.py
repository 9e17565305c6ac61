"""Tasks in child processes against the worker's own threads and loop.

    python -m benchmarks.processes [--backend sqlite] [--runs 3] [--cpu-jobs 200] [--noops 3000]

Each configuration drains its jobs with ``aqueue-worker --burst`` (start-up
included, as a user times it), the configurations taking turns run after run;
medians are printed with their ratios. Figures are printed, never asserted.

- **CPU-bound**: ``bench.cpu`` (~50 ms of pure Python each) with two threads
  (``--concurrency 2``) against two children (``--processes 2``): on two
  cores the threads share one GIL, the children do not.
- **No-op**: ``bench.sync_noop`` in the worker's threads (``--concurrency
  10``) against ``--processes 2`` and ``--processes 10``: what the pipe costs
  per job. And an async no-op (``bench.noop``) in the worker, the default.
- **Captured output**: a job that prints one line, captured and not, in the
  worker (``capture_output=True``) and in children (where capture is the
  default), against the no-ops: what keeping output costs per job.
- **Memory**: the worker's peak, and one child's after its jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

import aqueue
from benchmarks.observability import steady_rate
from benchmarks.peers.drivers import peak_rss_of
from benchmarks.run import fresh

WORKER = str(Path(sys.executable).with_name("aqueue-worker"))


def configurations(cpu_jobs: int, noops: int) -> dict[str, tuple[str, int, list[str]]]:
    """name: (task, jobs, worker options)."""
    return {
        "cpu, 2 threads": ("bench.cpu", cpu_jobs, ["--concurrency", "2"]),
        "cpu, 2 processes": ("bench.cpu", cpu_jobs, ["--processes", "2"]),
        "async no-op, in the worker": ("bench.noop", noops, ["--concurrency", "10"]),
        "sync no-op, 10 threads": ("bench.sync_noop", noops, ["--concurrency", "10"]),
        "sync no-op, 2 processes": ("bench.sync_noop", noops, ["--processes", "2"]),
        "sync no-op, 10 processes": ("bench.sync_noop", noops, ["--processes", "10"]),
        "async print, not captured": ("bench.say_uncaptured", noops, ["--concurrency", "10"]),
        "async print, captured": ("bench.say", noops, ["--concurrency", "10"]),
        "sync print, 2 processes, not captured": (
            "bench.sync_say_uncaptured",
            noops,
            ["--processes", "2"],
        ),
        "sync print, 2 processes, captured": ("bench.sync_say", noops, ["--processes", "2"]),
    }


async def _enqueue(dsn: str, task: str, jobs: int) -> None:
    from benchmarks import app

    queue = aqueue.Queue(dsn)
    async with queue:
        template = app.queue.tasks[task]
        for first in range(0, jobs, 1000):
            count = min(1000, jobs - first)
            await queue.enqueue_many(
                [queue.task_named(template.name).prepare(n) for n in range(first, first + count)]
            )


async def one_run(
    backend: str, scratch: Path, task: str, jobs: int, options: list[str]
) -> tuple[float, float, float]:
    dsn = await fresh(backend, scratch)
    await _enqueue(dsn, task, jobs)
    command = [WORKER, "benchmarks.app:queue", "--dsn", dsn, "--log-level", "WARNING", "--burst"]
    # What uncaptured jobs print goes to /dev/null, not into these figures.
    elapsed, rss = await asyncio.to_thread(peak_rss_of, [*command, *options], None, True)
    queue = aqueue.Queue(dsn)
    async with queue:
        counts = {c.name: c.totals or {} for c in await queue.jobs.counts(totals=True)}
    done = counts.get("default", {}).get("succeeded", 0)
    if done != jobs:
        raise RuntimeError(f"{task}: {done} of {jobs} jobs succeeded: {counts}")
    return jobs / elapsed, await steady_rate(dsn), rss


def child_rss_mb() -> float:
    """One idle child's resident memory, the benchmark app imported."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    out = context.SimpleQueue()
    process = context.Process(target=_measure_child, args=(out,))
    process.start()
    value = out.get()
    process.join()
    return float(value)


def _measure_child(out: object) -> None:
    from aqueue._worker.child import load, resident_bytes

    load("benchmarks.app:queue")
    out.put(resident_bytes() / 2**20)  # type: ignore[attr-defined]


async def main_async(args: argparse.Namespace) -> None:
    configs = configurations(args.cpu_jobs, args.noops)
    rates: dict[str, list[float]] = {name: [] for name in configs}
    steady: dict[str, list[float]] = {name: [] for name in configs}
    peaks: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.runs):
            for name, (task, jobs, options) in configs.items():
                rate, flat, rss = await one_run(args.backend, Path(scratch), task, jobs, options)
                rates[name].append(rate)
                steady[name].append(flat)
                peaks[name].append(rss)
                print(
                    f"run {run + 1}: {name}: {rate:,.1f} jobs/s, worker peak {rss:.1f} MiB",
                    flush=True,
                )
    med = {name: statistics.median(values) for name, values in rates.items()}
    flat = {name: statistics.median(values) for name, values in steady.items()}
    print(f"\n{args.backend}, median of {args.runs}\n")
    print("| configuration | jobs/s with start-up | jobs/s steady | per job, steady | peak RSS |")
    print("|---|---|---|---|---|")
    for name in configs:
        print(
            f"| {name} | {med[name]:,.1f} | {flat[name]:,.1f} | {1000 / flat[name]:.2f} ms | "
            f"{statistics.median(peaks[name]):.1f} MiB |"
        )
    print()
    for label, table in (("with start-up", med), ("steady", flat)):
        ratio = table["cpu, 2 processes"] / table["cpu, 2 threads"]
        print(f"cpu, {label}: processes / threads = {ratio:.2f}x (goal >= 1.8x on two cores)")
        ratio = table["sync no-op, 2 processes"] / table["sync no-op, 10 threads"]
        print(f"sync no-op, {label}: 2 processes / 10 threads = {ratio:.2f}x")
    for kind in ("async print", "sync print, 2 processes"):
        kept, plain = flat[f"{kind}, captured"], flat[f"{kind}, not captured"]
        extra = (1000 / kept - 1000 / plain) * 1000
        print(f"{kind}: captured / not = {kept / plain:.2f}x, {extra:+.0f} us per job (steady)")
    print(f"one idle child, the app imported: {child_rss_mb():.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu-jobs", type=int, default=200)
    parser.add_argument("--noops", type=int, default=3000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
