"""aqueue's benchmark suite: W1-W7 on PostgreSQL, MySQL/MariaDB and SQLite.

    pip install -e '.[bench]'                # the peers (oban makes .venv-oban itself)
    python -m benchmarks.run                 # full run, prints tables, writes JSON
    python -m benchmarks.run --smoke         # seconds: tiny sizes, one run (CI)
    python -m benchmarks.run --backends postgresql --peers pgqueuer --workloads W1,W3

aqueue runs every workload on each backend; on PostgreSQL, raw asyncpg SQL
(W1, W2) and each peer (W1-W5, W7, through its own API and its own worker)
run beside it, and the report gives aqueue/peer ratios and the performance
targets met or missed. arq and saq's Redis queue run too, on the local Redis,
as what users pick instead: their figures say "(redis)" and no target is
checked against them. Each run starts from a fresh database; each figure is
the median of --runs runs with min-max shown. Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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
    "postgresql": os.environ.get(
        "AQUEUE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/aqueue_bench"
    ),
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
    idle_seconds: float = 10.0
    runs: int = 3


SMOKE = Sizes(
    single=50,
    batch=200,
    drain=200,
    latency=5,
    scale_finished=2000,
    scale_queued=200,
    producers=3,
    per_producer=20,
    idle_seconds=1.0,
    runs=1,
)


@dataclass
class Figure:
    workload: str
    backend: str
    metric: str
    unit: str
    values: list[float] = field(default_factory=list)
    note: str = ""
    system: str = "aqueue"

    @property
    def median(self) -> float:
        return statistics.median(self.values)


# -- fresh databases -------------------------------------------------------------------


async def fresh_server_database(backend: str) -> str:
    """Drop and re-create the benchmark database on a server; its DSN."""
    dsn = SERVERS[backend]
    p = parse(dsn)
    if backend == "postgresql":
        conn = await asyncpg.connect(
            host=p.host, port=p.port, user=p.user, password=p.password, database="postgres"
        )
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{p.database}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{p.database}"')
        finally:
            await conn.close()
    else:
        my = await aiomysql.connect(
            host=p.host,
            port=p.port or 3306,
            user=p.user,
            password=p.password or "",
            autocommit=True,
        )
        try:
            async with my.cursor() as cur:
                await cur.execute(f"DROP DATABASE IF EXISTS `{p.database}`")
                await cur.execute(f"CREATE DATABASE `{p.database}`")
        finally:
            my.close()
    return dsn


_BOUNCER: list[Any] = []


def bouncer_dsn(direct: str) -> str:
    """``direct``'s database through a PgBouncer in transaction pooling mode
    (started once, with Debian's default pool of 20 server sessions)."""
    if not _BOUNCER:
        from tests.pgbouncer import PgBouncer

        _BOUNCER.append(PgBouncer(direct, pool=20))
    return str(_BOUNCER[0].dsn(parse(direct).database)) + "?pgbouncer=on"


async def fresh(backend: str, scratch: Path) -> str:
    """A fresh database with aqueue's schema; its DSN. ``pgbouncer``: a
    PostgreSQL database reached through PgBouncer (migrated through it too)."""
    if backend == "pgbouncer":
        dsn = bouncer_dsn(await fresh_server_database("postgresql"))
    elif backend == "sqlite":
        # e.g. AQUEUE_BENCH_SQLITE_OPTIONS=?synchronous=normal, to measure what FULL costs
        dsn = f"sqlite:///{scratch / f'bench-{time.monotonic_ns()}.db'}"
        dsn += os.environ.get("AQUEUE_BENCH_SQLITE_OPTIONS", "")
    else:
        dsn = await fresh_server_database(backend)
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


def w1_single_enqueue_sync(dsn: str, s: Sizes) -> float:
    """W1 from sync code (a Django view, a Flask handler): ``enqueue_sync``."""
    queue = aqueue.Queue(dsn)
    try:
        task = queue.task_named(noop.name)
        task.enqueue_sync(0)  # start the private loop, warm the pool
        began = time.perf_counter()
        for n in range(s.single):
            task.enqueue_sync(n)
        return s.single / (time.perf_counter() - began)
    finally:
        queue.close_sync()


async def w2_batches_of(dsn: str, s: Sizes, per_call: int = 1000) -> float:
    """W2 as apps do it: ``s.batch`` jobs in calls of ``per_call``."""
    queue = aqueue.Queue(dsn)
    async with queue:
        await queue.enqueue_many([noop.prepare(0), noop.prepare(1)])
        began = time.perf_counter()
        for first in range(0, s.batch, per_call):
            await queue.enqueue_many(
                [noop.prepare(n) for n in range(first, min(s.batch, first + per_call))]
            )
        return s.batch / (time.perf_counter() - began)


async def w2_batch_enqueue(dsn: str, s: Sizes) -> float:
    queue = aqueue.Queue(dsn)
    async with queue:
        # Warm up the batch statement (one job would take the single-job one),
        # as the peers' W2 warms theirs.
        await queue.enqueue_many([noop.prepare(0), noop.prepare(1)])
        # From the job numbers, as the peers' W2 and the raw baseline start.
        began = time.perf_counter()
        await queue.enqueue_many([noop.prepare(n) for n in range(s.batch)])
        return s.batch / (time.perf_counter() - began)


def _run_worker(dsn: str, *args: str, quiet: bool = True) -> tuple[float, float]:
    """Run aqueue-worker to completion; wall seconds and peak RSS (MB). Not
    quiet: its default logging (INFO: start, stop, a summary line a minute)."""
    from benchmarks.peers.drivers import peak_rss_of

    level = ["--log-level", "WARNING"] if quiet else []
    return peak_rss_of([WORKER, "benchmarks.app:queue", "--dsn", dsn, *level, *args])


async def w3_drain(dsn: str, s: Sizes, concurrency: int, quiet: bool = True) -> tuple[float, float]:
    queue = aqueue.Queue(dsn)
    async with queue:
        await queue.enqueue_many([noop.prepare(n) for n in range(s.drain)])
    elapsed, rss = await asyncio.to_thread(
        _run_worker, dsn, "--burst", "--concurrency", str(concurrency), quiet=quiet
    )
    queue = aqueue.Queue(dsn)
    async with queue:
        stats = {c.name: c.totals or {} for c in await queue.jobs.counts(totals=True)}
    done = stats.get("default", {}).get("succeeded", 0)
    if done != s.drain:
        raise RuntimeError(f"drain finished {done} of {s.drain} jobs: {stats}")
    # Wall time includes the worker's start-up (imports, connecting): a user's view.
    return s.drain / elapsed, rss


@contextlib.asynccontextmanager
async def server_connection(dsn: str) -> AsyncIterator[Any]:
    """A plain driver connection to ``dsn``'s database (None for SQLite);
    straight to the server for a DSN through PgBouncer: what is measured is
    the server's, and asyncpg's prepared statements need a session of their own."""
    p = parse(dsn)
    if p.options.get("pgbouncer") == "on":
        p = parse(SERVERS["postgresql"].rsplit("/", 1)[0] + "/" + p.database)
    if p.dialect == "postgresql":
        pg = await asyncpg.connect(
            host=p.host, port=p.port, user=p.user, password=p.password, database=p.database
        )
        try:
            yield pg
        finally:
            await pg.close()
    elif p.dialect == "mysql":
        my = await aiomysql.connect(
            host=p.host or "127.0.0.1",
            port=p.port or 3306,
            user=p.user or "root",
            password=p.password or "",
            db=p.database,
            autocommit=True,
        )
        try:
            yield my
        finally:
            my.close()
    else:
        yield None


async def mysql_row(conn: Any, sql: str) -> Any:
    async with conn.cursor() as cur:
        await cur.execute(sql)
        return await cur.fetchone()


async def idle_load(dsn: str, seconds: float) -> float | None:
    """Statements (MySQL: ``Questions``) or transactions (PostgreSQL) the
    server ran per second over ``seconds`` while only an idle worker was
    connected, less the measuring connection's own; None for SQLite."""
    async with server_connection(dsn) as conn:
        if conn is None:
            return None
        if parse(dsn).dialect == "mysql":
            query = "SHOW GLOBAL STATUS LIKE 'Questions'"
            before = int((await mysql_row(conn, query))[1])
            await asyncio.sleep(seconds)
            return (int((await mysql_row(conn, query))[1]) - before - 1) / seconds
        sql = (
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        before = int(await conn.fetchval(sql))
        await asyncio.sleep(seconds)
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        # Statistics reach pg_stat_database up to a second late: a rough figure.
        return (int(await conn.fetchval(sql)) - before - 3) / seconds


async def w4_latency(dsn: str, s: Sizes) -> tuple[float, float, float, float | None]:
    proc = subprocess.Popen(
        [
            WORKER,
            "benchmarks.app:queue",
            "--dsn",
            dsn,
            "--log-level",
            "WARNING",
            "--concurrency",
            "10",
        ],
        cwd=ROOT,
    )
    try:
        await asyncio.sleep(2.0)  # started and idle
        load = await idle_load(dsn, s.idle_seconds)
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
                info = await queue.results.wait(job.id, 30)
                # The task returns time.time() as it starts, in the worker process.
                latencies.append((float(info.result) - returned) * 1000)
    finally:
        proc.terminate()
        proc.wait(30)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, round(p * (len(latencies) - 1)))]

    return pct(0.50), pct(0.95), pct(0.99), load


async def w5_idle_rss(dsn: str, s: Sizes) -> float:
    proc = subprocess.Popen(
        [WORKER, "benchmarks.app:queue", "--dsn", dsn, "--log-level", "WARNING"], cwd=ROOT
    )
    try:
        await asyncio.sleep(2.0)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_kb = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
        )
    finally:
        proc.terminate()
        proc.wait(30)
    return rss_kb / 1024


async def _fill(dsn: str, finished: int, queued: int) -> None:
    """Bulk-load rows with the database's own generators (far faster than enqueueing).

    The queued rows are a backlog as it builds up: one priority, due in the
    order they were written, as the empty table's jobs are, so that the two
    figures differ by the table's size alone. (Random priorities scatter each
    claim's rows over as many pages, which on SQLite costs a WAL page write
    each, whatever the table's size.) No ANALYZE afterwards: the statistics stay
    as stale as after a real burst.
    """
    queue = aqueue.Queue(dsn)
    async with queue:
        backend: Any = queue.backend
        if queue.dialect == "postgresql":
            await backend._fetch(
                "INSERT INTO aqueue_jobs (id, task, queue, status, args, kwargs, max_attempts, "
                "attempts, scheduled_at, finished_at) SELECT gen_random_uuid(), 'bench.noop', "
                "'default', 'succeeded', '[]', '{}', 3, 1, now() - interval '1 day', now() "
                "FROM generate_series(1, $1)",
                finished,
            )
            await backend._fetch(
                "INSERT INTO aqueue_jobs (id, task, queue, status, priority, args, kwargs, "
                "max_attempts, scheduled_at) SELECT gen_random_uuid(), 'bench.noop', 'default', "
                "'queued', 0, '[]', '{}', 3, now() - ($1 - i) * interval '1 millisecond' "
                "FROM generate_series(1, $1) AS i",
                queued,
            )
        elif queue.dialect == "mysql":
            for status, count in (("succeeded", finished), ("queued", queued)):
                done = 0
                while done < count:
                    step = min(100_000, count - done)
                    await backend._fetch(
                        "INSERT INTO aqueue_jobs (id, task, queue, status, neg_priority, args, "
                        "kwargs, max_attempts, attempts, created_at, scheduled_at, finished_at) "
                        "SELECT UUID(), 'bench.noop', 'default', %s, 0, '[]', '{}', 3, 0, "
                        "UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) - INTERVAL (%s - seq) * 1000 "
                        "MICROSECOND, IF(%s = 'succeeded', UTC_TIMESTAMP(6), NULL) "
                        f"FROM seq_1_to_{step}",
                        (status, count - done, status),
                    )
                    done += step
        else:
            now = "((julianday('now') - 2440587.5) * 86400.0)"
            for status, count in (("succeeded", finished), ("queued", queued)):
                finished_at = now if status == "succeeded" else "NULL"
                await backend._fetchall(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < :count) INSERT INTO aqueue_jobs (id, task, queue, status, "
                    "priority, args, kwargs, max_attempts, created_at, scheduled_at, "
                    f"finished_at) SELECT lower(hex(randomblob(16))), 'bench.noop', 'default', "
                    f":status, 0, '[]', '{{}}', 3, {now}, {now} - (:count - i) * 0.001, "
                    f"{finished_at} FROM n",
                    {"count": count, "status": status},
                )


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
            # The plan aqueue_claim() really runs, reported by auto_explain.
            async with backend._pool.acquire() as conn:
                notes: list[str] = []

                def note(_conn: Any, message: Any) -> None:
                    notes.append(message.message)

                conn.add_log_listener(note)
                await conn.execute(
                    "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; "
                    "SET auto_explain.log_nested_statements = on; "
                    "SET auto_explain.log_format = 'text'; "
                    "SET client_min_messages = log"
                )
                claim = conn.transaction()  # rolled back: the jobs stay queued
                await claim.start()
                try:
                    await conn.fetch("SELECT * FROM aqueue_claim('plan', 10, 30, NULL)")
                finally:
                    await claim.rollback()
                    conn.remove_log_listener(note)
            plan = next(n for n in notes if "SKIP LOCKED" in n).split("\n")
            steps = [line.strip() for line in plan if "->" in line or "Cond" in line]
            return " / ".join(steps)
        if queue.dialect == "mysql":
            rows = await backend._fetch(
                "EXPLAIN SELECT id FROM aqueue_jobs WHERE status = 'queued' AND scheduled_at <= "
                "UTC_TIMESTAMP(6) ORDER BY neg_priority, scheduled_at, id LIMIT 10 "
                "FOR UPDATE SKIP LOCKED"
            )
            r = rows[0]
            return f"type={r[3]} key={r[5]} extra={r[9]}"
        rows = await backend._fetchall(
            "EXPLAIN QUERY PLAN SELECT id FROM aqueue_jobs WHERE status = 'queued' AND "
            "scheduled_at <= 1e12 ORDER BY priority DESC, scheduled_at, id LIMIT 10",
            {},
        )
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

W3_LEVELS = (10, 100)
LATENCY_NAMES = ("p50", "p95", "p99")


def metric(workload: str, s: Sizes, concurrency: int = 0, extra: str = "") -> str:
    """A figure's name; aqueue and each peer use the same one, so they can be compared."""
    return {
        "W1": "enqueue, one per await",
        "W2": f"batch enqueue of {s.batch:,}",
        "W2k": f"batch enqueue of {s.batch:,}, 1,000 per call",
        "W3": f"drain {s.drain:,}, concurrency {concurrency}",
        "W3d": f"drain {s.drain:,}, concurrency {concurrency}, default logging",
        "W3rss": f"drain peak RSS, concurrency {concurrency}",
        "W4": f"enqueue->start latency {extra}",
        "W4load": "idle worker's load on the server",
        "W4floor": "floor: idle round trip + durable commit",
        "W5": "idle worker RSS",
        "W7": f"{s.producers} producers, one per await",
    }[workload]


class Recorder:
    def __init__(self) -> None:
        self.figures: list[Figure] = []

    def add(
        self,
        workload: str,
        backend: str,
        system: str,
        name: str,
        unit: str,
        values: list[float],
        note: str = "",
    ) -> None:
        figure = Figure(workload, backend, name, unit, list(values), note, system)
        self.figures.append(figure)
        print(f"  {system} {workload} {name}: {', '.join(f'{v:,.1f}' for v in values)}", flush=True)


async def measure_aqueue(
    rec: Recorder, backend: str, workloads: set[str], s: Sizes, scratch: Path
) -> None:
    if backend == "pgbouncer":
        workloads = workloads & {"W1", "W3"}  # what changes behind the proxy

    async def repeat(make: Callable[[str], Awaitable[Any]]) -> list[Any]:
        return [await make(await fresh(backend, scratch)) for _ in range(s.runs)]

    def add(workload: str, name: str, unit: str, values: list[float], note: str = "") -> None:
        rec.add(workload, backend, "aqueue", name, unit, values, note)

    # On PostgreSQL each W1/W2 run is followed at once by the raw asyncpg
    # baseline's run: this machine's commit cost drifts by 2x within minutes,
    # and the two are compared as a ratio.
    from benchmarks import raw

    paired = backend == "postgresql"

    async def raw_run(make: Callable[[str], Awaitable[float]], into: list[float]) -> None:
        if paired:
            into.append(await make(await fresh_server_database("postgresql")))

    if "W1" in workloads:
        ours: list[float] = []
        base: list[float] = []
        from_sync: list[float] = []
        for _ in range(s.runs):
            ours.append(await w1_single_enqueue(await fresh(backend, scratch), s))
            await raw_run(lambda d: raw.single(d, s.single), base)
            # Paired with the async run: sync callers have no loop of their own.
            dsn = await fresh(backend, scratch)
            from_sync.append(await asyncio.to_thread(w1_single_enqueue_sync, dsn, s))
        add("W1", metric("W1", s), "jobs/s", ours)
        add("W1", "enqueue_sync, one per call", "jobs/s", from_sync)
        if paired:
            rec.add("W1", backend, "raw", "INSERT, one per commit", "jobs/s", base)
    if "W2" in workloads:
        ours, base, bare = [], [], []
        for _ in range(s.runs):
            ours.append(await w2_batch_enqueue(await fresh(backend, scratch), s))
            await raw_run(lambda d: raw.batch(d, s.batch), base)
            await raw_run(lambda d: raw.batch(d, s.batch, statement_only=True), bare)
        add("W2", metric("W2", s), "jobs/s", ours)
        add("W2", metric("W2k", s), "jobs/s", await repeat(lambda d: w2_batches_of(d, s)))
        if paired:
            rec.add(
                "W2",
                backend,
                "raw",
                f"INSERT ... unnest of {s.batch:,}, from Python values",
                "jobs/s",
                base,
            )
            rec.add(
                "W2",
                backend,
                "raw",
                f"INSERT ... unnest of {s.batch:,}, statement only",
                "jobs/s",
                bare,
            )
    if "W3" in workloads:
        for c in W3_LEVELS:
            results = await repeat(lambda d, c=c: w3_drain(d, s, c))
            add("W3", metric("W3", s, c), "jobs/s", [r[0] for r in results])
            add("W3", metric("W3rss", s, c), "MB", [r[1] for r in results])
        results = await repeat(lambda d: w3_drain(d, s, 10, quiet=False))
        add("W3", metric("W3d", s, 10), "jobs/s", [r[0] for r in results])
    if "W4" in workloads:
        results = await repeat(lambda d: w4_latency(d, s))
        for i, name in enumerate(LATENCY_NAMES):
            add("W4", metric("W4", s, extra=name), "ms", [r[i] for r in results])
        loads = [r[3] for r in results if r[3] is not None]
        if loads:
            unit = "queries/s" if backend == "mysql" else "transactions/s"
            add("W4", metric("W4load", s), unit, loads)
        if paired:
            floors = [
                await raw.latency_floor(await fresh_server_database("postgresql"))
                for _ in range(s.runs)
            ]
            rec.add("W4", backend, "raw", metric("W4floor", s), "ms", floors)
    if "W5" in workloads:
        add("W5", metric("W5", s), "MB", await repeat(lambda d: w5_idle_rss(d, s)))
    if "W6" in workloads:
        # One filled database per backend (filling 1.1M rows dominates the
        # time); each run claims from jobs enqueued for it.
        empty = await fresh(backend, scratch)
        full = await fresh(backend, scratch)
        await _fill(full, s.scale_finished, s.scale_queued)
        add(
            "W6",
            "claim cost per job, empty table",
            "us",
            [await _claim_cost(empty) for _ in range(s.runs)],
        )
        add(
            "W6",
            f"claim cost per job, {s.scale_finished:,} finished + {s.scale_queued:,} queued",
            "us",
            [await _claim_cost(full) for _ in range(s.runs)],
            note=await _plan(full),
        )
    if "W7" in workloads:
        add("W7", metric("W7", s), "jobs/s", await repeat(lambda d: w7_producers(d, s)))


async def measure_peer(rec: Recorder, name: str, workloads: set[str], s: Sizes) -> None:
    from benchmarks.peers.redis_brokers import fresh_redis
    from benchmarks.peers.registry import PEERS

    broker = PEERS[name].broker

    async def repeat(workload: str, *args: Any) -> list[Any]:
        results = []
        # One drain each on Redis: arq's, at its default 0.5 s poll, takes
        # ~100 s for 20,000 jobs.
        runs = 1 if broker == "redis" and workload == "W3" else s.runs
        for _ in range(runs):
            where = await (
                fresh_redis() if broker == "redis" else fresh_server_database("postgresql")
            )
            peer = PEERS[name](where)
            results.append(await getattr(peer, workload.lower())(s, *args))
        return results

    def add(workload: str, name_: str, unit: str, values: list[float]) -> None:
        rec.add(workload, broker, name, name_, unit, values)

    if "W1" in workloads:
        add("W1", metric("W1", s), "jobs/s", await repeat("W1"))
    if "W2" in workloads:
        add("W2", metric("W2", s), "jobs/s", await repeat("W2"))
        add("W2", metric("W2k", s), "jobs/s", await repeat("W2k"))
    if "W3" in workloads:
        for c in W3_LEVELS:
            results = await repeat("W3", c)
            add("W3", metric("W3", s, c), "jobs/s", [r[0] for r in results])
            add("W3", metric("W3rss", s, c), "MB", [r[1] for r in results])
        results = await repeat("W3", 10, False)
        add("W3", metric("W3d", s, 10), "jobs/s", [r[0] for r in results])
    if "W4" in workloads:
        results = await repeat("W4")
        for i, name_ in enumerate(LATENCY_NAMES):
            add("W4", metric("W4", s, extra=name_), "ms", [r[i] for r in results])
    if "W5" in workloads:
        add("W5", metric("W5", s), "MB", await repeat("W5"))
    if "W7" in workloads:
        add("W7", metric("W7", s), "jobs/s", await repeat("W7"))


async def measure(
    backends: list[str], peers: list[str], workloads: set[str], s: Sizes, scratch: Path
) -> list[Figure]:
    from benchmarks.peers.redis_brokers import URL, redis_answers
    from benchmarks.peers.registry import PEERS

    rec = Recorder()
    if any(PEERS[p].broker == "redis" for p in peers) and not await redis_answers():
        print(f"no Redis answers at {URL}: the peers on Redis are left out", flush=True)
        peers = [p for p in peers if PEERS[p].broker != "redis"]
    # PostgreSQL first, the peers right after it: figures compared as ratios
    # are taken close together in time.
    for backend in sorted(backends, key=lambda b: b != "postgresql"):
        print(
            f"== aqueue on {backend}" + (" (and raw asyncpg)" if backend == "postgresql" else ""),
            flush=True,
        )
        await measure_aqueue(rec, backend, workloads, s, scratch)
        if backend == "postgresql":
            for name in peers:
                print(f"== {name} on {PEERS[name].broker}", flush=True)
                await measure_peer(rec, name, workloads, s)
    return rec.figures


# -- reporting ----------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:,.{1 if abs(value) < 100 else 0}f}"


def render(figures: list[Figure]) -> str:
    lines = [
        "| workload | database | system | figure | median | min-max |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.workload} | {f.backend} | {f.system} | {f.metric} | "
            f"{_fmt(f.median)} {f.unit} | {_fmt(min(f.values))}-{_fmt(max(f.values))} |"
        )
    for f in figures:
        if f.note:
            lines.append(f"\nW6 plan on {f.backend}: `{f.note}`")
    return "\n".join(lines)


def _better(aqueue_value: float, peer_value: float, unit: str) -> float:
    """How many times better aqueue's figure is (higher jobs/s; lower ms or MB)."""
    if unit == "jobs/s":
        return aqueue_value / peer_value
    return peer_value / aqueue_value


def ratios(figures: list[Figure]) -> list[dict[str, Any]]:
    """aqueue against each peer on PostgreSQL, figure by figure."""
    ours = {f.metric: f for f in figures if f.system == "aqueue" and f.backend == "postgresql"}
    rows = []
    for f in figures:
        if f.system in ("aqueue", "raw") or f.metric not in ours:
            continue
        mine = ours[f.metric]
        # A peer on another broker (Redis) is named with it: not like for like.
        peer = f.system if f.backend == "postgresql" else f"{f.system} ({f.backend})"
        rows.append(
            {
                "workload": f.workload,
                "metric": f.metric,
                "peer": peer,
                "aqueue": mine.median,
                "peer_value": f.median,
                "unit": f.unit,
                "times_better": _better(mine.median, f.median, f.unit),
            }
        )
    return rows


def targets(figures: list[Figure]) -> list[dict[str, Any]]:
    """The performance issue's targets, checked against this run's figures."""

    def find(system: str, backend: str, starts: str) -> Figure | None:
        return next(
            (
                f
                for f in figures
                if f.system == system and f.backend == backend and f.metric.startswith(starts)
            ),
            None,
        )

    checks: list[dict[str, Any]] = []

    def check(what: str, value: float | None, goal: float, higher: bool, unit: str) -> None:
        if value is None:
            return
        met = value >= goal if higher else value <= goal
        checks.append(
            {
                "target": what,
                "value": value,
                "goal": goal,
                "unit": unit,
                "higher": higher,
                "met": met,
            }
        )

    def ratio(a: Figure | None, b: Figure | None) -> float | None:
        return None if a is None or b is None else _better(a.median, b.median, a.unit)

    pg = "postgresql"

    def best_peer(metric_name: str) -> Figure | None:
        """The best peer's figure of that name on PostgreSQL (higher is better
        in jobs/s, lower in ms)."""
        found = [
            f
            for f in figures
            if f.system not in ("aqueue", "raw") and f.backend == pg and f.metric == metric_name
        ]
        if not found:
            return None
        return (max if found[0].unit == "jobs/s" else min)(found, key=lambda f: f.median)

    def versus_best(label: str, metric_name: str, goal: float) -> None:
        best = best_peer(metric_name)
        ours = next(
            (
                f
                for f in figures
                if f.system == "aqueue" and f.backend == pg and f.metric == metric_name
            ),
            None,
        )
        check(
            f"{label} vs best peer ({best.system if best else '-'})",
            ratio(ours, best),
            goal,
            True,
            "x",
        )

    # The speed issue's table (round two): against the best peer on each figure.
    versus_best("W1 enqueue, one per await", "enqueue, one per await", 1.25)
    check(
        "W1 single vs raw INSERT per commit",
        ratio(find("aqueue", pg, "enqueue, one"), find("raw", pg, "INSERT, one")),
        0.80,
        True,
        "x",
    )
    w2k = next((f.metric for f in figures if f.metric.endswith("1,000 per call")), "")
    versus_best("W2 batch enqueue, 1,000 per call", w2k, 3.0)
    for label in ("from Python values", "statement only"):
        raw_w2 = next(
            (f for f in figures if f.system == "raw" and f.workload == "W2" and label in f.metric),
            None,
        )
        check(
            f"W2 batch vs raw unnest ({label})",
            ratio(find("aqueue", pg, "batch enqueue of"), raw_w2),
            0.70,
            True,
            "x",
        )
    for f in figures:
        # The W3 target is at concurrency 10 (quiet and default logging).
        if (
            f.system == "aqueue"
            and f.backend == pg
            and f.metric.startswith("drain")
            and ("concurrency 10," in f.metric or f.metric.endswith("concurrency 10"))
            and f.unit == "jobs/s"
        ):
            versus_best(f"W3 {f.metric}", f.metric, 5.0)
    floor = next((f for f in figures if f.system == "raw" and f.metric.startswith("floor")), None)
    p50 = find("aqueue", pg, "enqueue->start latency p50")
    if floor is not None and p50 is not None:
        check("W4 p50 on postgresql / floor", p50.median / floor.median, 1.3, False, "x")
    for backend, goals in (
        ("sqlite", (("p50", 10.0), ("p99", 50.0))),
        ("mysql", (("p50", 50.0), ("p99", 150.0))),
    ):
        for name, goal in goals:
            latency = find("aqueue", backend, f"enqueue->start latency {name}")
            check(f"W4 {name} on {backend}", latency.median if latency else None, goal, False, "ms")
    load = find("aqueue", "mysql", "idle worker's load")
    check("W4 idle worker's load on mysql", load.median if load else None, 20.0, False, "queries/s")
    for backend in ("postgresql", "mysql", "sqlite"):
        check(
            f"W1 enqueue_sync vs async enqueue on {backend}",
            ratio(find("aqueue", backend, "enqueue_sync"), find("aqueue", backend, "enqueue, one")),
            0.80,
            True,
            "x",
        )
    for f in figures:
        if f.system == "aqueue" and f.unit == "MB":
            check(f"{f.workload} {f.metric} on {f.backend}", f.median, 30.0, False, "MB")
    for backend in ("postgresql", "mysql", "sqlite"):
        empty = find("aqueue", backend, "claim cost per job, empty")
        full = next(
            (
                f
                for f in figures
                if f.system == "aqueue"
                and f.backend == backend
                and f.workload == "W6"
                and "finished" in f.metric
            ),
            None,
        )
        if empty and full:
            check(
                f"W6 full/empty claim cost on {backend}",
                full.median / empty.median,
                2.0,
                False,
                "x",
            )
    for backend in ("mysql", "sqlite"):
        for f in figures:
            if f.system == "aqueue" and f.backend == backend and f.metric.startswith("drain 2"):
                check(f"W3 {f.metric} on {backend}", f.median, 2000.0, True, "jobs/s")
    return checks


def render_comparison(figures: list[Figure]) -> str:
    lines = []
    rows = ratios(figures)
    if rows:
        lines += [
            "\n| figure | aqueue | peer | peer's | aqueue better by |",
            "|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['workload']} {r['metric']} | {_fmt(r['aqueue'])} {r['unit']} | "
                f"{r['peer']} | {_fmt(r['peer_value'])} {r['unit']} | "
                f"{r['times_better']:.2f}x |"
            )
    checks = targets(figures)
    if checks:
        lines += ["\n| target | this run | goal | |", "|---|---|---|---|"]
        for c in checks:
            sign = ">=" if c["higher"] else "<="
            lines.append(
                f"| {c['target']} | {c['value']:,.2f} {c['unit']} | {sign} "
                f"{c['goal']:,.2f} | {'met' if c['met'] else 'MISSED'} |"
            )
    return "\n".join(lines)


def main() -> None:
    from benchmarks.peers.drivers import available
    from benchmarks.peers.registry import PEERS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run")
    parser.add_argument(
        "--backends",
        default="postgresql,pgbouncer,mysql,sqlite",
        help="pgbouncer: PostgreSQL through PgBouncer in transaction "
        "pooling mode (W1, W3; skipped when it is not installed)",
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="peers to run beside aqueue ('' for none): on PostgreSQL, and "
        "arq and saq-redis on the local Redis (AQUEUE_BENCH_REDIS_URL), "
        "printed apart and left out of the targets",
    )
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6,W7")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else Sizes()
    if args.runs:
        sizes.runs = args.runs
    backends = [b for b in args.backends.split(",") if b]
    peers = [p for p in args.peers.split(",") if p]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peer {unknown[0]!r}; known: {', '.join(PEERS)}")
    missing = [p for p in peers if not available(p)]
    if missing:
        parser.error(
            f"peer {', '.join(missing)} not installed: pip install -e '.[bench]' "
            "(or --peers '' to run aqueue alone)"
        )
    if "postgresql" not in backends:
        peers = []
    if "pgbouncer" in backends:
        from tests.pgbouncer import pgbouncer_binary

        if pgbouncer_binary() is None:
            print(
                "pgbouncer is not installed (apt-get install pgbouncer): its figures are left out",
                flush=True,
            )
            backends.remove("pgbouncer")
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        try:
            figures = asyncio.run(
                measure(backends, peers, set(args.workloads.split(",")), sizes, Path(scratch))
            )
        finally:
            for proxy in _BOUNCER:
                proxy.stop()
    print(render(figures))
    print(render_comparison(figures))
    seconds = round(time.monotonic() - began, 1)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "sizes": sizes.__dict__,
                "seconds": seconds,
                "figures": [{**f.__dict__, "median": f.median} for f in figures],
                "ratios": ratios(figures),
                "targets": targets(figures),
            },
            indent=2,
        )
    )
    print(f"\nwrote {out} ({seconds:.0f}s)")


if __name__ == "__main__":
    main()
