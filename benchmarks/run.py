"""aqueue's benchmark suite: W1-W7 on PostgreSQL, MySQL/MariaDB and SQLite.

    python -m benchmarks.run                 # full run, prints a table, writes JSON
    python -m benchmarks.run --smoke         # seconds: tiny sizes, one run (CI)
    python -m benchmarks.run --backends postgresql --workloads W1,W3

Each workload starts from a fresh database; each figure is the median of
--runs runs with min-max shown. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomysql
import asyncpg

import aqueue
from aqueue.dsn import parse
from benchmarks.app import noop

ROOT = Path(__file__).resolve().parents[1]
WORKER = str(Path(sys.executable).with_name("aqueue-worker"))
SERVERS = {
    "postgresql": os.environ.get("AQUEUE_BENCH_POSTGRES_DSN",
                                 "postgresql://postgres@127.0.0.1:5432/aqueue_bench"),
    "mysql": os.environ.get("AQUEUE_BENCH_MYSQL_DSN", "mysql://root@127.0.0.1:3306/aqueue_bench"),
}


@dataclass
class Sizes:
    single: int = 2000
    batch: int = 20_000
    drain: int = 20_000
    latency: int = 200
    scale_finished: int = 1_000_000
    scale_queued: int = 100_000
    producers: int = 10
    per_producer: int = 300
    runs: int = 3


SMOKE = Sizes(single=50, batch=200, drain=200, latency=5, scale_finished=2000,
              scale_queued=200, producers=3, per_producer=20, runs=1)


@dataclass
class Figure:
    workload: str
    backend: str
    metric: str
    unit: str
    values: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)


# -- fresh databases -------------------------------------------------------------------


async def fresh(backend: str, scratch: Path) -> str:
    if backend == "sqlite":
        path = scratch / f"bench-{time.monotonic_ns()}.db"
        dsn = f"sqlite:///{path}"
    else:
        dsn = SERVERS[backend]
        p = parse(dsn)
        if backend == "postgresql":
            conn = await asyncpg.connect(host=p.host, port=p.port, user=p.user,
                                         password=p.password, database="postgres")
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{p.database}" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{p.database}"')
            finally:
                await conn.close()
        else:
            my = await aiomysql.connect(host=p.host, port=p.port or 3306, user=p.user,
                                        password=p.password or "", autocommit=True)
            try:
                async with my.cursor() as cur:
                    await cur.execute(f"DROP DATABASE IF EXISTS `{p.database}`")
                    await cur.execute(f"CREATE DATABASE `{p.database}`")
            finally:
                my.close()
    queue = aqueue.Queue(dsn)
    async with queue:
        await queue.migrate()
    return dsn


# -- workloads ---------------------------------------------------------------------------


async def w1_single_enqueue(dsn: str, s: Sizes) -> float:
    queue = aqueue.Queue(dsn)
    async with queue:
        task = queue.task_named(noop.name)
        await task.enqueue(0)  # warm the pool and statement cache
        began = time.perf_counter()
        for n in range(s.single):
            await task.enqueue(n)
        return s.single / (time.perf_counter() - began)


async def w2_batch_enqueue(dsn: str, s: Sizes) -> float:
    queue = aqueue.Queue(dsn)
    async with queue:
        requests = [noop.prepare(n) for n in range(s.batch)]
        await queue.enqueue_many([noop.prepare(0)])
        began = time.perf_counter()
        await queue.enqueue_many(requests)
        return s.batch / (time.perf_counter() - began)


def _run_worker(dsn: str, *args: str) -> tuple[float, float]:
    """Run aqueue-worker to completion; wall seconds and peak RSS (MB)."""
    began = time.perf_counter()
    proc = subprocess.Popen([WORKER, "benchmarks.app:queue", "--dsn", dsn, "--log-level",
                             "WARNING", *args], cwd=ROOT)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"aqueue-worker exited with {status}")
    return elapsed, usage.ru_maxrss / 1024


async def w3_drain(dsn: str, s: Sizes, concurrency: int) -> tuple[float, float]:
    queue = aqueue.Queue(dsn)
    async with queue:
        await queue.enqueue_many([noop.prepare(n) for n in range(s.drain)])
    elapsed, rss = await asyncio.to_thread(
        _run_worker, dsn, "--burst", "--concurrency", str(concurrency))
    queue = aqueue.Queue(dsn)
    async with queue:
        stats = await queue.stats()
    done = stats.get("default", {}).get("succeeded", 0)
    if done != s.drain:
        raise RuntimeError(f"drain finished {done} of {s.drain} jobs: {stats}")
    # Wall time includes the worker's start-up (imports, connecting): a user's view.
    return s.drain / elapsed, rss


async def w4_latency(dsn: str, s: Sizes) -> tuple[float, float, float]:
    proc = subprocess.Popen([WORKER, "benchmarks.app:queue", "--dsn", dsn, "--log-level",
                             "WARNING", "--concurrency", "10"], cwd=ROOT)
    try:
        await asyncio.sleep(2.0)  # started and idle
        queue = aqueue.Queue(dsn)
        latencies: list[float] = []
        async with queue:
            task = queue.task_named(noop.name)
            jobs = []
            for n in range(s.latency):
                job = await task.enqueue(n)
                jobs.append((job, time.time()))
                await asyncio.sleep(0.02)
            for job, returned in jobs:
                info = await queue.wait_until_finished(job.id, 30)
                # The task returns time.time() as it starts, in the worker process.
                latencies.append((float(info.result) - returned) * 1000)
    finally:
        proc.terminate()
        proc.wait(30)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, round(p * (len(latencies) - 1)))]

    return pct(0.50), pct(0.95), pct(0.99)


async def w5_idle_rss(dsn: str, s: Sizes) -> float:
    proc = subprocess.Popen([WORKER, "benchmarks.app:queue", "--dsn", dsn, "--log-level",
                             "WARNING"], cwd=ROOT)
    try:
        await asyncio.sleep(2.0)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_kb = next(int(line.split()[1]) for line in status.splitlines()
                      if line.startswith("VmRSS:"))
    finally:
        proc.terminate()
        proc.wait(30)
    return rss_kb / 1024


async def _fill(dsn: str, finished: int, queued: int) -> None:
    """Bulk-load rows with the database's own generators (far faster than enqueueing)."""
    queue = aqueue.Queue(dsn)
    async with queue:
        backend: Any = queue.backend
        if queue.dialect == "postgresql":
            await backend._fetch(
                "INSERT INTO aqueue_jobs (id, task, queue, status, args, kwargs, max_attempts, "
                "attempts, scheduled_at, finished_at) SELECT gen_random_uuid(), 'bench.noop', "
                "'default', 'succeeded', '[]', '{}', 3, 1, now() - interval '1 day', now() "
                "FROM generate_series(1, $1)", finished)
            await backend._fetch(
                "INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, "
                "max_attempts, scheduled_at) SELECT gen_random_uuid(), 'bench.noop', 'default', "
                "'queued', (random() * 10)::int, '[]', '{}', 3, now() - random() * interval "
                "'1 hour' FROM generate_series(1, $1)", queued)
            await backend._fetch("ANALYZE aqueue_jobs")
        elif queue.dialect == "mysql":
            for status, count in (("succeeded", finished), ("queued", queued)):
                done = 0
                while done < count:
                    step = min(100_000, count - done)
                    await backend._fetch(
                        "INSERT INTO aqueue_jobs (id, task, queue, status, neg_priority, args, "
                        "kwargs, max_attempts, attempts, created_at, scheduled_at, finished_at) "
                        "SELECT UUID(), 'bench.noop', 'default', %s, -FLOOR(RAND() * 10), '[]', "
                        "'{}', 3, 0, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) - INTERVAL FLOOR(RAND() "
                        "* 3600) SECOND, IF(%s = 'succeeded', UTC_TIMESTAMP(6), NULL) "
                        f"FROM seq_1_to_{step}", (status, status))
                    done += step
            await backend._fetch("ANALYZE TABLE aqueue_jobs")
        else:
            now = "((julianday('now') - 2440587.5) * 86400.0)"
            for status, count in (("succeeded", finished), ("queued", queued)):
                finished_at = now if status == "succeeded" else "NULL"
                await backend._fetchall(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < :count) INSERT INTO aqueue_jobs (id, task, queue, status, "
                    "priority, args, kwargs, max_attempts, created_at, scheduled_at, "
                    f"finished_at) SELECT lower(hex(randomblob(16))), 'bench.noop', 'default', "
                    f":status, abs(random() % 10), '[]', '{{}}', 3, {now}, {now} - "
                    f"abs(random() % 3600), {finished_at} FROM n", {"count": count,
                                                                    "status": status})
            await backend._fetchall("ANALYZE", {})


async def _claim_cost(dsn: str, rounds: int = 50, batch: int = 10) -> float:
    """Median microseconds per claimed job, claiming ``batch`` at a time."""
    queue = aqueue.Queue(dsn)
    async with queue:
        await queue.enqueue_many([noop.prepare(n) for n in range(rounds * batch)])
        costs = []
        for _ in range(rounds):
            began = time.perf_counter()
            claimed = await queue.backend.claim_jobs("bench", None, batch, 30)
            costs.append((time.perf_counter() - began) / max(1, len(claimed)) * 1e6)
        return statistics.median(costs)


async def w6_scale(dsn_empty: str, dsn_full: str, s: Sizes) -> tuple[float, float, str]:
    empty = await _claim_cost(dsn_empty)
    await _fill(dsn_full, s.scale_finished, s.scale_queued)
    full = await _claim_cost(dsn_full)
    return empty, full, await _plan(dsn_full)


async def _plan(dsn: str) -> str:
    queue = aqueue.Queue(dsn)
    async with queue:
        backend: Any = queue.backend
        if queue.dialect == "postgresql":
            rows = await backend._fetch(
                "EXPLAIN (COSTS OFF) SELECT id FROM aqueue_jobs WHERE status = 'queued' AND "
                "scheduled_at <= now() ORDER BY priority DESC, scheduled_at, id LIMIT 10 "
                "FOR UPDATE SKIP LOCKED")
            return " / ".join(r[0].strip() for r in rows)
        if queue.dialect == "mysql":
            rows = await backend._fetch(
                "EXPLAIN SELECT id FROM aqueue_jobs WHERE status = 'queued' AND scheduled_at <= "
                "UTC_TIMESTAMP(6) ORDER BY neg_priority, scheduled_at, id LIMIT 10 "
                "FOR UPDATE SKIP LOCKED")
            r = rows[0]
            return f"type={r[3]} key={r[5]} extra={r[9]}"
        rows = await backend._fetchall(
            "EXPLAIN QUERY PLAN SELECT id FROM aqueue_jobs WHERE status = 'queued' AND "
            "scheduled_at <= 1e12 ORDER BY priority DESC, scheduled_at, id LIMIT 10", {})
        return " / ".join(str(r[-1]) for r in rows)


async def w7_producers(dsn: str, s: Sizes) -> float:
    queue = aqueue.Queue(dsn, pool_size=s.producers)
    async with queue:
        task = queue.task_named(noop.name)
        await task.enqueue(0)

        async def produce() -> None:
            for n in range(s.per_producer):
                await task.enqueue(n)

        began = time.perf_counter()
        await asyncio.gather(*(produce() for _ in range(s.producers)))
        return s.producers * s.per_producer / (time.perf_counter() - began)


# -- driver ---------------------------------------------------------------------------------


async def measure(backends: list[str], workloads: set[str], s: Sizes,
                  scratch: Path) -> list[Figure]:
    figures: list[Figure] = []

    def fig(workload: str, backend: str, metric: str, unit: str, note: str = "") -> Figure:
        if figures:
            last = figures[-1]
            print(f"  {last.workload} {last.metric}: {last.values}", flush=True)
        figure = Figure(workload, backend, metric, unit, note=note)
        figures.append(figure)
        return figure

    async def repeat(make: Callable[[str], Awaitable[Any]]) -> list[Any]:
        results = []
        for _ in range(s.runs):
            results.append(await make(await fresh(backend, scratch)))
        return results

    for backend in backends:
        print(f"== {backend}", flush=True)
        if "W1" in workloads:
            fig("W1", backend, "enqueue, one per await", "jobs/s").values = await repeat(
                lambda d: w1_single_enqueue(d, s))
        if "W2" in workloads:
            fig("W2", backend, f"batch enqueue of {s.batch}", "jobs/s").values = await repeat(
                lambda d: w2_batch_enqueue(d, s))
        if "W3" in workloads:
            for concurrency in (10, 100):
                results = await repeat(lambda d, c=concurrency: w3_drain(d, s, c))
                fig("W3", backend, f"drain {s.drain}, concurrency {concurrency}",
                    "jobs/s").values = [r[0] for r in results]
                fig("W3", backend, f"drain peak RSS, concurrency {concurrency}",
                    "MB").values = [r[1] for r in results]
        if "W4" in workloads:
            results = await repeat(lambda d: w4_latency(d, s))
            for i, name in enumerate(("p50", "p95", "p99")):
                fig("W4", backend, f"enqueue->start latency {name}", "ms").values = [
                    r[i] for r in results]
        if "W5" in workloads:
            fig("W5", backend, "idle worker RSS", "MB").values = await repeat(
                lambda d: w5_idle_rss(d, s))
        if "W6" in workloads:
            results = []
            for _ in range(s.runs):
                results.append(await w6_scale(await fresh(backend, scratch),
                                              await fresh(backend, scratch), s))
            fig("W6", backend, "claim cost per job, empty table", "us").values = [
                r[0] for r in results]
            fig("W6", backend,
                f"claim cost per job, {s.scale_finished:,} finished + {s.scale_queued:,} queued",
                "us", note=results[-1][2]).values = [r[1] for r in results]
        if "W7" in workloads:
            fig("W7", backend, f"{s.producers} producers, one per await",
                "jobs/s").values = await repeat(lambda d: w7_producers(d, s))
    return figures


def render(figures: list[Figure]) -> str:
    lines = ["| workload | backend | figure | median | min-max |", "|---|---|---|---|---|"]
    for f in figures:
        digits = 1 if f.median < 100 else 0
        lines.append(
            f"| {f.workload} | {f.backend} | {f.metric} | {f.median:,.{digits}f} {f.unit} | "
            f"{min(f.values):,.{digits}f}-{max(f.values):,.{digits}f} |")
    plans = [f for f in figures if f.note]
    for f in plans:
        lines.append(f"\nW6 plan on {f.backend}: `{f.note}`")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run")
    parser.add_argument("--backends", default="postgresql,mysql,sqlite")
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6,W7")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else Sizes()
    if args.runs:
        sizes.runs = args.runs
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        figures = asyncio.run(measure(args.backends.split(","),
                                      set(args.workloads.split(",")), sizes, Path(scratch)))
    print(render(figures))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "sizes": sizes.__dict__, "seconds": round(time.monotonic() - began, 1),
        "figures": [{**f.__dict__, "median": f.median} for f in figures],
    }, indent=2))
    print(f"\nwrote {out} ({time.monotonic() - began:.0f}s)")


if __name__ == "__main__":
    main()
