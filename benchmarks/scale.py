"""Scale: sustained load (W8) and many workers (W9).

    python -m benchmarks.scale w8 --backend postgresql --minutes 10
    python -m benchmarks.scale w9 --backend mysql --workers 20 --idle 60
    python -m benchmarks.scale w8 --backend sqlite --minutes 0.5 --rate 500   # a smoke

**W8** runs three ``aqueue-worker`` processes (retention on: succeeded jobs
deleted after a minute) while a producer enqueues at a steady rate — by
default half of what three workers drain, measured first — in a batch every
100 ms, as a web app's requests add up. Every tick's first job is a probe:
its enqueue→start latency is read from its result. Each minute it prints
throughput, p99 latency, the backlog, the job table's and its indexes' size,
and dead tuples (PostgreSQL) or the file and WAL size (SQLite).

``--hold-snapshot`` (PostgreSQL) holds a REPEATABLE READ transaction open
on the same database for the whole run, as a long report or backup would:
vacuum can then remove no row version that died after it began.

**W9** starts ``--workers`` worker processes, lets them idle ``--idle``
seconds, and prints the connections they hold, the server's load while they
idle (statements/s on MySQL, transactions/s on PostgreSQL), then the
aggregate rate at which they drain ``--jobs`` jobs enqueued at once. With
``--backend pgbouncer`` the workers reach the server through PgBouncer (a
pool of 20 sessions) and probe for jobs; add ``--listen-direct`` to give
each a LISTEN connection straight to the server, as docs/scaling.md advises.

Figures are printed (and written as JSON with ``--output``), never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aqueue
from aqueue.dsn import parse
from benchmarks.app import noop
from benchmarks.run import SERVERS, fresh, idle_load, mysql_row, server_connection

ROOT = Path(__file__).resolve().parents[1]
WORKER = str(Path(sys.executable).with_name("aqueue-worker"))


def start_workers(dsn: str, count: int, *args: str) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [WORKER, "benchmarks.app:queue", "--dsn", dsn, "--log-level", "WARNING", *args],
            cwd=ROOT,
        )
        for _ in range(count)
    ]


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


async def connections(dsn: str) -> int | None:
    """Server sessions open on the benchmark database, other than this one."""
    async with server_connection(dsn) as conn:
        if conn is None:
            return None
        if parse(dsn).dialect == "postgresql":
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            )
        row = await mysql_row(
            conn,
            "SELECT count(*) FROM information_schema.processlist "
            "WHERE db = DATABASE() AND id <> CONNECTION_ID()",
        )
        return int(row[0])


async def storage(dsn: str) -> dict[str, float]:
    """The job table's size and its indexes' (MB), and dead tuples or file sizes."""
    p = parse(dsn)
    async with server_connection(dsn) as conn:
        if p.dialect == "postgresql":
            row = await conn.fetchrow(
                "SELECT pg_relation_size('aqueue_jobs'), pg_indexes_size('aqueue_jobs'), "
                "n_dead_tup, n_live_tup FROM pg_stat_user_tables WHERE relname = 'aqueue_jobs'"
            )
            return {
                "table_mb": row[0] / 2**20,
                "indexes_mb": row[1] / 2**20,
                "dead_tuples": float(row[2]),
                "live_tuples": float(row[3]),
            }
        if p.dialect == "mysql":
            # InnoDB's figures are estimates refreshed now and then (as good as it gets
            # without ANALYZE, which would change what is measured).
            row = await mysql_row(
                conn,
                "SELECT data_length, index_length, data_free "
                "FROM information_schema.tables WHERE table_schema = "
                "DATABASE() AND table_name = 'aqueue_jobs'",
            )
            return {
                "table_mb": row[0] / 2**20,
                "indexes_mb": row[1] / 2**20,
                "free_mb": row[2] / 2**20,
            }
    path = Path(p.database)
    wal = path.with_name(path.name + "-wal")
    return {
        "file_mb": path.stat().st_size / 2**20,
        "wal_mb": wal.stat().st_size / 2**20 if wal.exists() else 0.0,
    }


async def autovacuum(dsn: str) -> str | None:
    """PostgreSQL's autovacuum switch (None elsewhere)."""
    async with server_connection(dsn) as conn:
        if parse(dsn).dialect != "postgresql":
            return None
        return str(await conn.fetchval("SHOW autovacuum"))


async def backlog(queue: aqueue.Queue) -> int:
    return sum(c.queued + c.running for c in await queue.jobs.counts())


# -- W8 ---------------------------------------------------------------------------------


async def measure_drain(backend: str, scratch: Path, workers: int, jobs: int) -> float:
    """What ``workers`` processes drain per second (the W8 rate's base)."""
    dsn = await fresh(backend, scratch)
    queue = aqueue.Queue(dsn)
    async with queue:
        await queue.enqueue_many([noop.prepare(n) for n in range(jobs)])
        began = time.perf_counter()
        procs = start_workers(dsn, workers, "--burst", "--concurrency", "10")
        for proc in procs:
            await asyncio.to_thread(proc.wait)
        return jobs / (time.perf_counter() - began)


@contextlib.asynccontextmanager
async def held_snapshot(dsn: str, hold: bool) -> AsyncIterator[None]:
    """With ``hold``, a REPEATABLE READ transaction open on ``dsn``'s database
    for the duration, its snapshot taken at the start (as a long report or a
    backup would hold one): no row version dead after it can be vacuumed."""
    if not hold:
        yield
        return
    async with server_connection(dsn) as conn:
        if parse(dsn).dialect != "postgresql":
            raise SystemExit("--hold-snapshot is for PostgreSQL")
        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        await conn.fetchval("SELECT count(*) FROM aqueue_migrations")  # takes the snapshot
        try:
            yield
        finally:
            await conn.execute("COMMIT")


async def w8(
    backend: str,
    minutes: float,
    rate: float | None,
    scratch: Path,
    window: float = 60.0,
    hold_snapshot: bool = False,
) -> dict[str, Any]:
    if rate is None:
        drained = await measure_drain(backend, scratch, 3, 10_000)
        rate = round(drained / 2)
        print(f"three workers drain {drained:,.0f} jobs/s: producing {rate:,} jobs/s", flush=True)
    dsn = await fresh(backend, scratch)
    vacuum = await autovacuum(dsn)
    if vacuum == "off":
        print(
            "WARNING: this PostgreSQL runs with autovacuum = off; production servers run "
            "it on, and W8's table sizes mean little without it (ALTER SYSTEM SET "
            "autovacuum = on; SELECT pg_reload_conf();)",
            flush=True,
        )
    procs = start_workers(
        dsn, 3, "--concurrency", "10", "--retention", "succeeded=1m", "--poll-interval", "1"
    )
    queue = aqueue.Queue(dsn)
    minutes_out: list[dict[str, Any]] = []
    probes: list[tuple[float, aqueue.Job[Any], float]] = []  # (minute, job, returned)
    latencies: dict[int, list[float]] = {}
    tick = 0.1
    per_tick = max(1, round(rate * tick))
    try:
        async with queue, held_snapshot(dsn, hold_snapshot):
            await asyncio.sleep(2.0)  # workers started

            async def read_probes() -> None:
                while True:
                    if not probes:
                        await asyncio.sleep(0.2)
                        continue
                    minute, job, returned = probes.pop(0)
                    with contextlib.suppress(Exception):
                        info = await queue.results.wait(job.id, 60)
                        latencies.setdefault(int(minute), []).append(
                            (float(info.result) - returned) * 1000
                        )

            readers = [asyncio.create_task(read_probes()) for _ in range(4)]
            began = time.monotonic()
            next_tick = began
            enqueued_in_minute = 0
            minute_began = began
            backlog_before = 0
            number = 0

            async def close_window(now: float) -> None:
                nonlocal enqueued_in_minute, minute_began, backlog_before
                left = await backlog(queue)
                seconds = now - minute_began
                row: dict[str, Any] = {
                    "minute": len(minutes_out) + 1,
                    "throughput_per_s": (enqueued_in_minute - (left - backlog_before)) / seconds,
                    "enqueued_per_s": enqueued_in_minute / seconds,
                    "backlog": left,
                    **await storage(dsn),
                }
                minutes_out.append(row)
                print(
                    json.dumps(
                        {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}
                    ),
                    flush=True,
                )
                enqueued_in_minute, minute_began, backlog_before = 0, now, left

            while time.monotonic() - began < minutes * 60:
                batch = await queue.enqueue_many(
                    [noop.prepare(number + i) for i in range(per_tick)]
                )
                returned = time.time()
                number += per_tick
                enqueued_in_minute += per_tick
                probes.append(((time.monotonic() - began) // window, batch[0], returned))
                next_tick += tick
                if time.monotonic() - minute_began >= window:
                    await close_window(time.monotonic())
                await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            if enqueued_in_minute:
                await close_window(time.monotonic())  # the last, shorter window
            # Let the last probes finish, then read their latencies.
            deadline = time.monotonic() + 60
            while probes and time.monotonic() < deadline:  # noqa: ASYNC110 - readers drain it
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            for reader in readers:
                reader.cancel()
    finally:
        stop_workers(procs)
    for row in minutes_out:
        values = sorted(latencies.get(int(row["minute"]) - 1, []))
        row["p99_latency_ms"] = values[int(0.99 * (len(values) - 1))] if values else None
        row["p50_latency_ms"] = statistics.median(values) if values else None
        shown = [
            f"{v:.1f}" if v is not None else "-"
            for v in (row["p50_latency_ms"], row["p99_latency_ms"])
        ]
        print(f"minute {row['minute']}: enqueue->start p50 {shown[0]} ms, p99 {shown[1]} ms")
    return {
        "workload": "W8",
        "backend": backend,
        "rate": rate,
        "autovacuum": vacuum,
        "held_snapshot": hold_snapshot,
        "minutes": minutes_out,
    }


# -- W9 ---------------------------------------------------------------------------------


async def w9(
    backend: str, workers: int, idle: float, jobs: int, scratch: Path, listen_direct: bool = False
) -> dict[str, Any]:
    dsn = await fresh(backend, scratch)
    # Behind PgBouncer, LISTEN needs a session of its own on the server.
    listen = ["--listen-dsn", SERVERS["postgresql"]] if listen_direct else []
    procs = start_workers(dsn, workers, "--concurrency", "10", *listen)
    try:
        await asyncio.sleep(5.0 + workers * 0.2)  # all started and idle
        held = await connections(dsn)
        load = await idle_load(dsn, idle)
        queue = aqueue.Queue(dsn)
        async with queue:
            await queue.enqueue_many([noop.prepare(n) for n in range(jobs)])
            began = time.perf_counter()
            while await backlog(queue) > 0:  # noqa: ASYNC110 - the database is what we watch
                await asyncio.sleep(0.05)
            rate = jobs / (time.perf_counter() - began)
    finally:
        stop_workers(procs)
    result = {
        "workload": "W9",
        "backend": backend,
        "workers": workers,
        "listen_direct": listen_direct,
        "connections_held": held,
        "idle_seconds": idle,
        "idle_load_per_s": load,
        "drain_jobs": jobs,
        "drain_jobs_per_s": rate,
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workload", choices=["w8", "w9"])
    parser.add_argument(
        "--backend", default="postgresql", choices=["postgresql", "pgbouncer", "mysql", "sqlite"]
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="W8's length")
    parser.add_argument(
        "--window", type=float, default=60.0, help="W8's seconds per printed row (default a minute)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="W8's jobs/s (default: half of what three workers drain)",
    )
    parser.add_argument(
        "--hold-snapshot",
        action="store_true",
        help="W8 on PostgreSQL: hold a REPEATABLE READ snapshot open for the whole run",
    )
    parser.add_argument("--workers", type=int, default=20, help="W9's worker processes")
    parser.add_argument("--idle", type=float, default=60.0, help="W9's idle seconds")
    parser.add_argument("--jobs", type=int, default=20_000, help="W9's drain")
    parser.add_argument(
        "--listen-direct",
        action="store_true",
        help="W9 through PgBouncer: each worker LISTENs on a direct connection",
    )
    parser.add_argument("--output", default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        try:
            if args.workload == "w8":
                result = asyncio.run(
                    w8(
                        args.backend,
                        args.minutes,
                        args.rate,
                        Path(scratch),
                        args.window,
                        args.hold_snapshot,
                    )
                )
            else:
                result = asyncio.run(
                    w9(
                        args.backend,
                        args.workers,
                        args.idle,
                        args.jobs,
                        Path(scratch),
                        args.listen_direct,
                    )
                )
        finally:
            from benchmarks.run import _BOUNCER

            for proxy in _BOUNCER:
                proxy.stop()
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
