"""W1-W5 and W7 for each peer, through its own APIs and its own worker.

Every function takes the DSN of a fresh, empty PostgreSQL database; the
peer's schema is installed first, outside the timed part.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class Sizes(Protocol):
    single: int
    batch: int
    drain: int
    latency: int
    producers: int
    per_producer: int


def peak_rss_of(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a worker to completion; wall seconds and peak RSS (MB).

    The peak is the child's own ``VmHWM``, read while it runs. (``wait4``'s
    ``ru_maxrss`` would not do: Linux carries the forking parent's RSS across
    ``exec`` into it, so every child looked as big as the benchmark process.)
    """
    began = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    peak_kb = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, next(int(line.split()[1]) for line in status.splitlines()
                                        if line.startswith("VmHWM:")))
        except (OSError, StopIteration):
            pass  # exiting: keep the last reading
        time.sleep(0.02)
    elapsed = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {proc.returncode}")
    return elapsed, peak_kb / 1024


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines()
                if line.startswith("VmRSS:")) / 1024


def percentiles(values: list[float]) -> tuple[float, float, float]:
    values = sorted(values)

    def pct(p: float) -> float:
        return values[min(len(values) - 1, round(p * (len(values) - 1)))]

    return pct(0.50), pct(0.95), pct(0.99)


class Peer:
    """One peer: how it installs, enqueues (one and many) and starts its worker."""

    name = ""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.env = {**os.environ, "AQUEUE_BENCH_POSTGRES_DSN": dsn}

    async def install(self) -> None:
        raise NotImplementedError

    def enqueuer(self) -> Any:
        """An async context manager yielding (enqueue_one, enqueue_many)."""
        raise NotImplementedError

    def worker_command(self, concurrency: int, drain: bool) -> list[str]:
        raise NotImplementedError

    async def finished(self) -> int:
        raise NotImplementedError

    # -- the workloads, the same for every peer -------------------------------------

    async def w1(self, s: Sizes) -> float:
        await self.install()
        async with self.enqueuer() as (one, _many):
            await one(0)
            began = time.perf_counter()
            for n in range(s.single):
                await one(n)
            return s.single / (time.perf_counter() - began)

    async def w2(self, s: Sizes) -> float:
        await self.install()
        async with self.enqueuer() as (_one, many):
            await many([0])
            numbers = list(range(s.batch))
            began = time.perf_counter()
            await many(numbers)
            return s.batch / (time.perf_counter() - began)

    async def w3(self, s: Sizes, concurrency: int) -> tuple[float, float]:
        await self.install()
        async with self.enqueuer() as (_one, many):
            await many(list(range(s.drain)))
        elapsed, peak = await asyncio.to_thread(
            peak_rss_of, self.worker_command(concurrency, drain=True), self.env)
        done = await self.finished()
        if done != s.drain:
            raise RuntimeError(f"{self.name} drain finished {done} of {s.drain} jobs")
        return s.drain / elapsed, peak

    async def w4(self, s: Sizes) -> tuple[float, float, float]:
        await self.install()
        with tempfile.NamedTemporaryFile("r", suffix=".starts") as starts:
            env = {**self.env, "AQUEUE_BENCH_STARTS": starts.name}
            proc = subprocess.Popen(self.worker_command(10, drain=False), cwd=ROOT, env=env)
            try:
                await asyncio.sleep(2.0)  # started and idle
                returned: dict[int, float] = {}
                async with self.enqueuer() as (one, _many):
                    for n in range(s.latency):
                        await one(n)
                        returned[n] = time.time()
                        await asyncio.sleep(0.02)
                started = await _wait_for_lines(Path(starts.name), s.latency)
            finally:
                proc.terminate()
                proc.wait(30)
        return percentiles([(started[n] - returned[n]) * 1000 for n in returned])

    async def w5(self, s: Sizes) -> float:
        await self.install()
        proc = subprocess.Popen(self.worker_command(10, drain=False), cwd=ROOT, env=self.env)
        try:
            await asyncio.sleep(2.0)
            return rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)

    async def w7(self, s: Sizes) -> float:
        await self.install()
        async with self.enqueuer(pool_size=s.producers) as (one, _many):
            await one(0)

            async def produce() -> None:
                for n in range(s.per_producer):
                    await one(n)

            began = time.perf_counter()
            await asyncio.gather(*(produce() for _ in range(s.producers)))
            return s.producers * s.per_producer / (time.perf_counter() - began)


async def _wait_for_lines(path: Path, count: int, timeout: float = 60.0) -> dict[int, float]:
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines()
        if len(lines) >= count or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    if len(lines) < count:
        raise RuntimeError(f"only {len(lines)} of {count} jobs started")
    return {int(n): float(t) for n, t in (line.split() for line in lines)}


class _Enqueuer:
    """Adapts a setup coroutine and a teardown into ``async with``."""

    def __init__(self, enter: Callable[[], Awaitable[Any]],
                 leave: Callable[[], Awaitable[None]]) -> None:
        self._enter, self._leave = enter, leave

    async def __aenter__(self) -> Any:
        return await self._enter()

    async def __aexit__(self, *exc: object) -> None:
        await self._leave()


class Procrastinate(Peer):
    """procrastinate 3.x: psycopg 3, ``defer_async``/``batch_defer_async``, its worker."""

    name = "procrastinate"

    def _app(self, pool_size: int = 10) -> Any:
        import procrastinate

        # The producer's own app: it defers the worker's task by name.
        return procrastinate.App(connector=procrastinate.PsycopgConnector(
            conninfo=self.dsn, min_size=1, max_size=max(pool_size, 1)))

    async def install(self) -> None:
        app = self._app()
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    def enqueuer(self, pool_size: int = 10) -> Any:
        app = self._app(pool_size)

        async def enter() -> Any:
            await app.open_async()
            # The task's deferrer bound to this app (and its connector).
            task = app.configure_task("noop")

            async def one(n: int) -> None:
                await task.defer_async(n=n)

            async def many(numbers: list[int]) -> None:
                await task.batch_defer_async(*({"n": n} for n in numbers))

            return one, many

        return _Enqueuer(enter, app.close_async)

    def worker_command(self, concurrency: int, drain: bool) -> list[str]:
        command = [str(BIN / "procrastinate"), "--log-level", "warning",
                   "--app", "benchmarks.peers.procrastinate_app.app", "worker",
                   "--concurrency", str(concurrency)]
        return [*command, "--one-shot"] if drain else command

    async def finished(self) -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"))
        finally:
            await conn.close()


class PgQueuer(Peer):
    """pgqueuer 1.x: asyncpg, ``Queries.enqueue`` (scalars or lists), its QueueManager."""

    name = "pgqueuer"

    async def install(self) -> None:
        from pgqueuer.queries import Queries

        conn = await asyncpg.connect(self.dsn)
        try:
            await Queries.from_asyncpg_connection(conn).install()
        finally:
            await conn.close()

    def enqueuer(self, pool_size: int = 10) -> Any:
        from pgqueuer.queries import Queries

        pool: list[asyncpg.Pool] = []

        async def enter() -> Any:
            pool.append(await asyncpg.create_pool(self.dsn, min_size=1, max_size=pool_size))
            queries = Queries.from_asyncpg_pool(pool[0])

            async def one(n: int) -> None:
                await queries.enqueue("noop", str(n).encode(), 0)

            async def many(numbers: list[int]) -> None:
                await queries.enqueue(["noop"] * len(numbers),
                                      [str(n).encode() for n in numbers], [0] * len(numbers))

            return one, many

        async def leave() -> None:
            await pool[0].close()

        return _Enqueuer(enter, leave)

    def worker_command(self, concurrency: int, drain: bool) -> list[str]:
        return [sys.executable, "-m", "benchmarks.peers.pgqueuer_worker", str(concurrency),
                "drain" if drain else "continuous"]

    async def finished(self) -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'"))
        finally:
            await conn.close()


PEERS: dict[str, type[Peer]] = {"procrastinate": Procrastinate, "pgqueuer": PgQueuer}


def available(name: str) -> bool:
    """Whether a peer's package is installed (``pip install -e '.[bench]'``)."""
    import importlib.util

    return importlib.util.find_spec(name) is not None
