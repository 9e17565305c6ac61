"""The peers on Redis: what users pick instead of a database queue.

arq and saq's Redis queue keep jobs in Redis, a different broker from
aqueue's: an in-memory store, as durable as its persistence settings make it
(this machine's Redis has neither snapshots nor an append-only file, so an
acknowledged enqueue survives no restart). Their figures are printed apart,
with "(redis)" on each, and never enter the targets, which are against the
peers on PostgreSQL. Each runs as its docs show, with its defaults.
"""

from __future__ import annotations

import json
import os
from typing import Any

from benchmarks.peers.drivers import BIN, Peer, Saq, _Enqueuer

URL = os.environ.get("AQUEUE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


async def fresh_redis() -> str:
    """The benchmark's Redis database, emptied (FLUSHDB)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return URL


async def redis_answers() -> bool:
    import redis.asyncio as redis

    client = redis.Redis.from_url(URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (OSError, redis.RedisError):
        return False
    finally:
        await client.aclose()


async def _scan(url: str, pattern: str) -> list[bytes]:
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        return [key async for key in client.scan_iter(match=pattern, count=1000)]
    finally:
        await client.aclose()


class RedisPeer(Peer):
    broker = "redis"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.env = {**os.environ, "AQUEUE_BENCH_REDIS_URL": url, "AQUEUE_BENCH_SAQ_URL": url}

    async def install(self) -> None:
        await fresh_redis()


class Arq(RedisPeer):
    """arq 0.28: ``ArqRedis.enqueue_job`` (it has no batch call: a batch is one
    enqueue per job), its ``arq`` CLI worker, ``--burst`` for drains (it exits
    once no job is left); default logging is a line per job start and end."""

    name = "arq"

    async def finished(self) -> int:
        # A finished job's result stays an hour (keep_result's default).
        return len(await _scan(self.dsn, "arq:result:*"))

    def enqueuer(self, pool_size: int = 10) -> Any:
        from arq.connections import ArqRedis, RedisSettings, create_pool

        pool: list[ArqRedis] = []

        async def enter() -> Any:
            pool.append(await create_pool(RedisSettings.from_dsn(self.dsn)))

            async def one(n: int) -> None:
                await pool[0].enqueue_job("noop", n)

            async def many(numbers: list[int]) -> None:
                for n in numbers:
                    await pool[0].enqueue_job("noop", n)

            return one, many

        async def leave() -> None:
            await pool[0].aclose()

        return _Enqueuer(enter, leave)

    def worker_command(self, concurrency: int, drain: bool, quiet: bool = True) -> list[str]:
        self.env = {**self.env, "AQUEUE_BENCH_CONCURRENCY": str(concurrency)}
        command = [str(BIN / "arq"), "benchmarks.peers.arq_app.WorkerSettings"]
        if quiet:
            command += ["--custom-log-dict", "benchmarks.peers.arq_app.QUIET"]
        return [*command, "--burst"] if drain else command


class SaqRedis(RedisPeer, Saq):
    """saq 0.26 with its Redis queue (its original broker): the PostgreSQL saq
    peer's enqueue (one per job) and workers (drains stopped when its queue
    counts nothing queued, active or unfinished), on Redis."""

    name = "saq-redis"

    async def finished(self) -> int:
        import redis.asyncio as redis

        # Finished jobs stay as keys (ttl 600 s by default), status inside.
        keys = await _scan(self.dsn, "saq:job:*")
        client = redis.Redis.from_url(self.dsn)
        try:
            values = await client.mget(keys) if keys else []
        finally:
            await client.aclose()
        return sum(1 for v in values if v and json.loads(v).get("status") == "complete")

    def _queue(self, pool_size: int) -> Any:
        from saq import Queue

        return Queue.from_url(self.dsn)  # its Redis client pools connections itself


REDIS_PEERS: dict[str, type[Peer]] = {"arq": Arq, "saq-redis": SaqRedis}
