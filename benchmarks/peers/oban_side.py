# oban is installed in .venv-oban only, and its @worker adds .new at run time.
# mypy: disable-error-code="import-not-found, attr-defined"
"""oban's side of the benchmark, run with Python >= 3.12 (oban needs it) in
``.venv-oban``, which ``benchmarks.peers.drivers`` makes with pyenv's 3.12.

    python -m benchmarks.peers.oban_side install|w1|w2|w2k|w4|w7|fill|finished DSN [N ...]
    python -m benchmarks.peers.oban_side drain DSN CONCURRENCY LOG_LEVEL

Enqueue figures are measured here, in oban's own process, and printed as
one number; ``drain`` runs oban in-process as ``oban start`` does and stops
it once no job is left (oban has no drain mode). Continuous workers (W4, W5)
are ``oban start`` itself.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from oban import Oban
from oban.schema import install

from benchmarks.peers.drained import wait_until_drained
from benchmarks.peers.oban_app import Noop


async def _pool(dsn: str, size: int = 10):  # type: ignore[no-untyped-def]
    return await Oban.create_pool(dsn, min_size=1, max_size=size)


async def _client(dsn: str, size: int = 10):  # type: ignore[no-untyped-def]
    pool = await _pool(dsn, size)
    return pool, Oban(pool=pool)  # no queues: a client that only enqueues


async def _many(oban: Oban, numbers: list[int]) -> None:
    await oban.enqueue_many([Noop.new({"n": n}) for n in numbers])


async def run(command: str, dsn: str, args: list[str]) -> float | None:
    if command == "install":
        pool = await _pool(dsn)
        await install(pool)
        await pool.close()
        return None
    if command == "drain":
        concurrency, level = int(args[0]), args[1]
        logging.basicConfig(level=level)  # `oban start` sets INFO by default
        pool = await _pool(dsn)
        async with Oban(pool=pool, queues={"default": concurrency}):
            await wait_until_drained(
                dsn,
                "SELECT count(*) FROM oban_jobs WHERE state NOT IN "
                "('completed', 'discarded', 'cancelled')",
            )
        await pool.close()
        return None
    if command == "finished":
        pool = await _pool(dsn)
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT count(*) FROM oban_jobs WHERE state = 'completed'")
            row = await cursor.fetchone()
        await pool.close()
        return float(row[0]) if row else 0.0
    n = int(args[0])
    size = int(args[1]) if command == "w7" else 1
    pool, oban = await _client(dsn, max(size, 1))
    try:
        async with oban:
            if command == "fill":
                await _many(oban, list(range(n)))
                return None
            if command == "w1":
                await oban.enqueue(Noop.new({"n": 0}))
                began = time.perf_counter()
                for i in range(n):
                    await oban.enqueue(Noop.new({"n": i}))
                return n / (time.perf_counter() - began)
            if command == "w2":
                await _many(oban, [0])
                began = time.perf_counter()
                await _many(oban, list(range(n)))
                return n / (time.perf_counter() - began)
            if command == "w2k":
                await _many(oban, [0])
                began = time.perf_counter()
                for first in range(0, n, 1000):
                    await _many(oban, list(range(first, min(n, first + 1000))))
                return n / (time.perf_counter() - began)
            if command == "w4":
                # One line per job: its number and when enqueue returned.
                for i in range(n):
                    await oban.enqueue(Noop.new({"n": i}))
                    print(f"{i} {time.time()}", flush=True)
                    await asyncio.sleep(0.02)
                return None
            if command == "w7":
                producers, per = size, n

                async def produce() -> None:
                    for i in range(per):
                        await oban.enqueue(Noop.new({"n": i}))

                await oban.enqueue(Noop.new({"n": 0}))
                began = time.perf_counter()
                await asyncio.gather(*(produce() for _ in range(producers)))
                return producers * per / (time.perf_counter() - began)
    finally:
        await pool.close()
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    figure = asyncio.run(run(sys.argv[1], sys.argv[2], sys.argv[3:]))
    if figure is not None:
        print(figure)
