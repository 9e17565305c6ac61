"""W1-W5 and W7 for each peer, through its own APIs and its own worker.

Every function takes the DSN of a fresh, empty PostgreSQL database; the
peer's schema is installed first, outside the timed part.
"""

from __future__ import annotations

import asyncio
import os
import shutil
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


def peak_rss_of(
    command: list[str], env: dict[str, str] | None = None, quiet: bool = False
) -> tuple[float, float]:
    """Run a worker to completion; wall seconds and peak RSS (MB). ``quiet``
    sends what the worker prints to /dev/null.

    The peak is the child's own ``VmHWM``, read while it runs. (``wait4``'s
    ``ru_maxrss`` would not do: Linux carries the forking parent's RSS across
    ``exec`` into it, so every child looked as big as the benchmark process.)
    """
    began = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL if quiet else None
    )
    peak_kb = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(
                peak_kb,
                next(
                    int(line.split()[1])
                    for line in status.splitlines()
                    if line.startswith("VmHWM:")
                ),
            )
        except (OSError, StopIteration):
            pass  # exiting: keep the last reading
        time.sleep(0.02)
    elapsed = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {proc.returncode}")
    return elapsed, peak_kb / 1024


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return (
        next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        / 1024
    )


def percentiles(values: list[float]) -> tuple[float, float, float]:
    values = sorted(values)

    def pct(p: float) -> float:
        return values[min(len(values) - 1, round(p * (len(values) - 1)))]

    return pct(0.50), pct(0.95), pct(0.99)


class Peer:
    """One peer: how it installs, enqueues (one and many) and starts its worker."""

    name = ""
    #: Where its jobs live (the peers on Redis say "redis").
    broker = "postgresql"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.env = {**os.environ, "AQUEUE_BENCH_POSTGRES_DSN": dsn}

    async def install(self) -> None:
        raise NotImplementedError

    def enqueuer(self, pool_size: int = 10) -> Any:
        """An async context manager yielding (enqueue_one, enqueue_many)."""
        raise NotImplementedError

    def worker_command(self, concurrency: int, drain: bool, quiet: bool = True) -> list[str]:
        """Its worker; ``quiet``: at WARNING, else with its default logging."""
        raise NotImplementedError

    #: Counts the peer's successfully finished jobs.
    finished_sql = ""

    async def finished(self) -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            return int(await conn.fetchval(self.finished_sql))
        finally:
            await conn.close()

    # -- the workloads, the same for every peer -------------------------------------

    async def w1(self, s: Sizes) -> float:
        await self.install()
        async with self.enqueuer(pool_size=1) as (one, _many):
            await one(0)
            began = time.perf_counter()
            for n in range(s.single):
                await one(n)
            return s.single / (time.perf_counter() - began)

    async def w2(self, s: Sizes) -> float:
        await self.install()
        async with self.enqueuer(pool_size=1) as (_one, many):
            await many([0])
            numbers = list(range(s.batch))
            began = time.perf_counter()
            await many(numbers)
            return s.batch / (time.perf_counter() - began)

    async def w2k(self, s: Sizes, per_call: int = 1000) -> float:
        await self.install()
        async with self.enqueuer(pool_size=1) as (_one, many):
            await many([0])
            began = time.perf_counter()
            for first in range(0, s.batch, per_call):
                await many(list(range(first, min(s.batch, first + per_call))))
            return s.batch / (time.perf_counter() - began)

    async def w3(self, s: Sizes, concurrency: int, quiet: bool = True) -> tuple[float, float]:
        await self.install()
        async with self.enqueuer() as (_one, many):
            await many(list(range(s.drain)))
        command = self.worker_command(concurrency, drain=True, quiet=quiet)
        # A drain that cannot see its end by itself waits for this many.
        env = {**(self.env or os.environ), "AQUEUE_BENCH_EXPECT": str(s.drain)}
        elapsed, peak = await asyncio.to_thread(peak_rss_of, command, env)
        done = await self.finished()
        if done != s.drain and self.broker == "redis" and done > 0:
            # saq's Redis queue has left a job or two of 200 unfinished, now and
            # then, with its worker idle for ten seconds past them: said, and
            # counted as what it did — not a failure of the run (on a database,
            # where nothing may be lost, it is one).
            print(f"  {self.name} drain finished {done} of {s.drain} jobs: counted as {done}")
            return done / elapsed, peak
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

    def __init__(
        self, enter: Callable[[], Awaitable[Any]], leave: Callable[[], Awaitable[None]]
    ) -> None:
        self._enter, self._leave = enter, leave

    async def __aenter__(self) -> Any:
        return await self._enter()

    async def __aexit__(self, *exc: object) -> None:
        await self._leave()


class Procrastinate(Peer):
    """procrastinate 3.x: psycopg 3, ``defer_async``/``batch_defer_async``, its worker."""

    name = "procrastinate"
    finished_sql = "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"

    def _app(self, pool_size: int = 10) -> Any:
        import procrastinate

        # The producer's own app: it defers the worker's task by name.
        return procrastinate.App(
            connector=procrastinate.PsycopgConnector(
                conninfo=self.dsn, min_size=1, max_size=max(pool_size, 1)
            )
        )

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

    def worker_command(self, concurrency: int, drain: bool, quiet: bool = True) -> list[str]:
        level = ["--log-level", "warning"] if quiet else []
        command = [
            str(BIN / "procrastinate"),
            *level,
            "--app",
            "benchmarks.peers.procrastinate_app.app",
            "worker",
            "--concurrency",
            str(concurrency),
        ]
        return [*command, "--one-shot"] if drain else command


class PgQueuer(Peer):
    """pgqueuer 1.x: asyncpg, ``Queries.enqueue`` (scalars or lists), its QueueManager."""

    name = "pgqueuer"
    finished_sql = "SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'"

    async def install(self) -> None:
        from pgqueuer.queries import Queries

        conn = await asyncpg.connect(self.dsn)
        try:
            await Queries.from_asyncpg_connection(conn).install()
        finally:
            await conn.close()

    def enqueuer(self, pool_size: int = 10) -> Any:
        from pgqueuer.queries import Queries

        pool: list[Any] = []

        async def enter() -> Any:
            # One producer: one connection, as pgqueuer's docs enqueue
            # (AsyncpgDriver / Queries.from_asyncpg_connection); concurrent
            # producers (W7) need a pool.
            if pool_size == 1:
                pool.append(await asyncpg.connect(self.dsn))
                queries = Queries.from_asyncpg_connection(pool[0])
            else:
                pool.append(await asyncpg.create_pool(self.dsn, min_size=1, max_size=pool_size))
                queries = Queries.from_asyncpg_pool(pool[0])

            async def one(n: int) -> None:
                await queries.enqueue("noop", str(n).encode(), 0)

            async def many(numbers: list[int]) -> None:
                await queries.enqueue(
                    ["noop"] * len(numbers), [str(n).encode() for n in numbers], [0] * len(numbers)
                )

            return one, many

        async def leave() -> None:
            await pool[0].close()

        return _Enqueuer(enter, leave)

    def worker_command(self, concurrency: int, drain: bool, quiet: bool = True) -> list[str]:
        return [
            sys.executable,
            "-m",
            "benchmarks.peers.pgqueuer_worker",
            str(concurrency),
            "drain" if drain else "continuous",
            "WARNING" if quiet else "INFO",
        ]


class Chancy(Peer):
    """chancy: psycopg 3, ``push``/``push_many`` (its documented batches of
    1,000 per transaction), a worker whose queue runs async jobs on its asyncio
    executor; its default plugins (leadership, pruner, recovery, metrics,
    workflows) stay on, as a user gets them."""

    name = "chancy"
    finished_sql = "SELECT count(*) FROM chancy_jobs WHERE state = 'succeeded'"

    async def install(self) -> None:
        from chancy import Chancy as App  # type: ignore[import-untyped]

        async with App(self.dsn) as app:
            await app.migrate()

    def enqueuer(self, pool_size: int = 10) -> Any:
        from chancy import Chancy as App

        from benchmarks.peers.chancy_app import noop

        app = App(self.dsn, max_connection_pool_size=max(pool_size, 1))

        async def enter() -> Any:
            await app.__aenter__()

            async def one(n: int) -> None:
                await app.push(noop.job.with_kwargs(n=n))

            async def many(numbers: list[int]) -> None:
                jobs = [noop.job.with_kwargs(n=n) for n in numbers]
                async for _ in app.push_many(jobs):
                    pass

            return one, many

        async def leave() -> None:
            await app.__aexit__(None, None, None)

        return _Enqueuer(enter, leave)

    def worker_command(self, concurrency: int, drain: bool, quiet: bool = True) -> list[str]:
        return [
            sys.executable,
            "-m",
            "benchmarks.peers.chancy_app",
            str(concurrency),
            "drain" if drain else "continuous",
            "WARNING" if quiet else "default",
        ]


class Saq(Peer):
    """saq with its PostgreSQL queue: ``queue.enqueue`` (it has no batch insert:
    a batch is one enqueue per job), its own ``saq`` CLI worker, or for drains
    the same Worker stopped when drained (benchmarks/peers/saq_app.py); its
    default logging is errors only, so both configurations are the same."""

    name = "saq"
    finished_sql = "SELECT count(*) FROM saq_jobs WHERE status = 'complete'"

    async def install(self) -> None:
        from saq import Queue

        queue = Queue.from_url(self.dsn)
        await queue.connect()  # creates its tables
        await queue.disconnect()

    def _queue(self, pool_size: int) -> Any:
        from saq import Queue

        return Queue.from_url(self.dsn, min_size=1, max_size=max(pool_size, 1))

    def enqueuer(self, pool_size: int = 10) -> Any:
        queue = self._queue(pool_size)

        async def enter() -> Any:
            await queue.connect()

            async def one(n: int) -> None:
                await queue.enqueue("noop", n=n)

            async def many(numbers: list[int]) -> None:
                for n in numbers:
                    await queue.enqueue("noop", n=n)

            return one, many

        return _Enqueuer(enter, queue.disconnect)

    def worker_command(self, concurrency: int, drain: bool, quiet: bool = True) -> list[str]:
        if drain:
            return [sys.executable, "-m", "benchmarks.peers.saq_app", str(concurrency)]
        self.env = {**self.env, "AQUEUE_BENCH_CONCURRENCY": str(concurrency)}
        return [str(BIN / "saq"), "benchmarks.peers.saq_app.settings"]


OBAN_VENV = ROOT / ".venv-oban"


def oban_python() -> Path | None:
    """``.venv-oban``'s Python, made on first use with pyenv's Python 3.12
    (oban needs >= 3.12; the suite runs on the project's 3.11); None if there
    is no 3.12 here."""
    python = OBAN_VENV / "bin" / "python"
    if python.exists():
        return python
    # pyenv's own versions first: its shims answer for versions not selected.
    candidates = [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.1[23]*/bin/python"))]
    candidates += [shutil.which(name) or "" for name in ("python3.12", "python3.13")]
    found = next(
        (
            c
            for c in candidates
            if c
            and subprocess.run(
                [c, "-c", "import sys; assert sys.version_info >= (3, 12)"], capture_output=True
            ).returncode
            == 0
        ),
        None,
    )
    if found is None:
        return None
    subprocess.run([found, "-m", "venv", str(OBAN_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "oban>=0.7"], check=True)
    return python


class ObanPeer(Peer):
    """oban 0.7 (Python >= 3.12, psycopg 3) from ``.venv-oban``: its enqueue and
    ``enqueue_many``, measured in its own process (benchmarks/peers/oban_side.py);
    ``oban start --queues default:N`` as the worker; drains run the same Oban
    in-process and stop when no job is left (it has no drain mode)."""

    name = "oban"
    finished_sql = "SELECT count(*) FROM oban_jobs WHERE state = 'completed'"

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn)
        python = oban_python()
        if python is None:
            raise RuntimeError("oban needs Python >= 3.12 (pyenv install 3.12)")
        self.python = python
        self.env = {**self.env, "PYTHONPATH": str(ROOT)}

    def _side(self, *args: object) -> str:
        command = [str(self.python), "-m", "benchmarks.peers.oban_side", *map(str, args)]
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    async def install(self) -> None:
        await asyncio.to_thread(self._side, "install", self.dsn)

    async def _figure(self, *args: object) -> float:
        await self.install()
        return float(await asyncio.to_thread(self._side, *args))

    async def w1(self, s: Sizes) -> float:
        return await self._figure("w1", self.dsn, s.single)

    async def w2(self, s: Sizes) -> float:
        return await self._figure("w2", self.dsn, s.batch)

    async def w2k(self, s: Sizes, per_call: int = 1000) -> float:
        return await self._figure("w2k", self.dsn, s.batch)

    async def w7(self, s: Sizes) -> float:
        return await self._figure("w7", self.dsn, s.per_producer, s.producers)

    async def w3(self, s: Sizes, concurrency: int, quiet: bool = True) -> tuple[float, float]:
        await self.install()
        await asyncio.to_thread(self._side, "fill", self.dsn, s.drain)
        command = [
            str(self.python),
            "-m",
            "benchmarks.peers.oban_side",
            "drain",
            self.dsn,
            str(concurrency),
            "WARNING" if quiet else "INFO",
        ]
        elapsed, peak = await asyncio.to_thread(peak_rss_of, command, self.env)
        done = await self.finished()
        if done != s.drain:
            raise RuntimeError(f"oban drain finished {done} of {s.drain} jobs")
        return s.drain / elapsed, peak

    async def w4(self, s: Sizes) -> tuple[float, float, float]:
        await self.install()
        with tempfile.NamedTemporaryFile("r", suffix=".starts") as starts:
            env = {**self.env, "AQUEUE_BENCH_STARTS": starts.name}
            proc = subprocess.Popen(self.worker_command(10, drain=False), cwd=ROOT, env=env)
            try:
                await asyncio.sleep(3.0)  # started and idle
                lines = await asyncio.to_thread(self._side, "w4", self.dsn, s.latency)
                returned = {
                    int(n): float(t) for n, t in (line.split() for line in lines.splitlines())
                }
                started = await _wait_for_lines(Path(starts.name), s.latency)
            finally:
                proc.terminate()
                proc.wait(30)
        return percentiles([(started[n] - returned[n]) * 1000 for n in returned])

    def enqueuer(self, pool_size: int = 10) -> Any:
        raise NotImplementedError("oban enqueues in its own Python (oban_side)")

    def worker_command(self, concurrency: int, drain: bool, quiet: bool = True) -> list[str]:
        # --cron-modules names the module with the worker (else it imports every
        # module under the working directory, .venv-oban's included).
        return [
            str(OBAN_VENV / "bin" / "oban"),
            "start",
            "--dsn",
            self.dsn,
            "--queues",
            f"default:{concurrency}",
            "--cron-modules",
            "benchmarks.peers.oban_app",
            "--log-level",
            "WARNING" if quiet else "INFO",
        ]


#: The peers on PostgreSQL (benchmarks/peers/registry.py adds those on Redis).
ON_POSTGRES: dict[str, type[Peer]] = {
    "procrastinate": Procrastinate,
    "pgqueuer": PgQueuer,
    "chancy": Chancy,
    "saq": Saq,
    "oban": ObanPeer,
}


def available(name: str) -> bool:
    """Whether a peer's package is installed (``pip install -e '.[bench]'``)."""
    import importlib.util

    if name == "oban":  # in its own Python 3.12 environment
        return (OBAN_VENV / "bin" / "python").exists() or oban_python() is not None
    if name == "saq-redis":
        return all(importlib.util.find_spec(m) is not None for m in ("saq", "redis"))
    return importlib.util.find_spec(name) is not None
