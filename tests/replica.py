"""The streaming replica of the test PostgreSQL on port 5433: made for the
tests that need it by scripts/start_replica.sh (and dropped after them, so
that it does not replay every other test's databases), or one already
running; a test database's twin there, once replay has made it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest

from aqueue.dsn import parse
from tests.databases import IN_CI

REPLICA_PORT = int(os.environ.get("AQUEUE_TEST_REPLICA_PORT", "5433"))
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "start_replica.sh"
CLUSTER = "aqueue_replica"


def unavailable(message: str) -> NoReturn:
    """Skip the replica tests for ``message``; in CI, where they must run, fail."""
    if IN_CI:
        pytest.fail(f"{message}: in CI the replica tests must run")
    pytest.skip(message)


def _answers() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", REPLICA_PORT), 1):
        return True
    return False


@contextlib.contextmanager
def replica_server() -> Iterator[None]:
    """A replica for the duration: one already running, else one made now
    (as root, with Debian's cluster tools) and dropped at the end."""
    if _answers():
        yield
        return
    if os.geteuid() != 0 or shutil.which("pg_createcluster") is None:
        message = (
            f"no PostgreSQL replica on port {REPLICA_PORT}, and none can be made here "
            "(scripts/start_replica.sh needs root and Debian's postgresql-common)"
        )
        unavailable(message)
    made = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=300)
    if made.returncode != 0:
        pytest.fail(f"scripts/start_replica.sh failed: {made.stdout}{made.stderr}")
    try:
        yield
    finally:
        newest = max(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".")])
        subprocess.run(
            ["pg_dropcluster", "--stop", newest, CLUSTER], capture_output=True, timeout=120
        )


def replica_of(primary_dsn: str) -> str:
    """The DSN of ``primary_dsn``'s database on the replica, waiting (up to
    30 s) for replay to have created it; skips (fails in CI) without a replica."""
    parsed = parse(primary_dsn)
    dsn = f"postgresql://{parsed.user}@{parsed.host}:{REPLICA_PORT}/{parsed.database}"

    async def reachable() -> BaseException | None:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = await asyncpg.connect(dsn, timeout=5)
            except (OSError, asyncpg.PostgresError) as exc:
                problem: BaseException = exc
                # A database the primary just made is missing until replayed.
                if not isinstance(exc, asyncpg.InvalidCatalogNameError):
                    return problem
                if time.monotonic() > deadline:
                    return problem
                await asyncio.sleep(0.05)  # replay of CREATE DATABASE: no event to wait on
                continue
            await conn.close()
            return None

    problem = asyncio.run(reachable())
    if problem is not None:
        message = (
            f"no PostgreSQL replica at {parsed.host}:{REPLICA_PORT} ({problem}); "
            "make one with scripts/start_replica.sh (as root, Debian's postgresql-common)"
        )
        unavailable(message)
    return dsn


async def replay(replica_dsn: str, *, paused: bool) -> None:
    """Pause or resume the replica's replay (the whole server's)."""
    conn = await asyncpg.connect(replica_dsn)
    try:
        await conn.execute(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()")
    finally:
        await conn.close()
