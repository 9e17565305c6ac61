"""Fixtures: every conformance test runs once per backend against a real server.

In CI (``CI=true``) an unreachable PostgreSQL or MariaDB fails the run; on a
laptop without them those tests are skipped with a message saying why.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import aqueue
from tests.databases import IN_CI, MYSQL_DSN, POSTGRES_DSN, TestDatabase, prepare_server

BACKENDS = ["postgresql", "mysql", "sqlite"]
_servers: dict[str, str | BaseException] = {}


def server_dsn(backend: str) -> str:
    """The migrated test database of a server backend, or skip/fail if unreachable."""
    if backend not in _servers:
        try:
            dsn = prepare_server(backend)
            queue = aqueue.Queue(dsn)

            async def migrate() -> None:
                async with queue:
                    await queue.migrate()

            asyncio.run(migrate())
            _servers[backend] = dsn
        except Exception as exc:
            _servers[backend] = exc
    found = _servers[backend]
    if isinstance(found, BaseException):
        where = POSTGRES_DSN if backend == "postgresql" else MYSQL_DSN
        message = f"{backend} is not reachable at {where}: {found}"
        if IN_CI:
            pytest.fail(f"{message} (in CI every backend must run)")
        pytest.skip(f"{message}; set AQUEUE_TEST_{backend.upper()}_DSN to run these tests")
    return found


async def empty(dsn: str) -> None:
    queue = aqueue.Queue(dsn)
    async with queue:
        backend = queue.backend
        # Pause states, registered workers and schedules' ticks are per-test state too.
        tables = ["aqueue_jobs", "aqueue_queues", "aqueue_workers", "aqueue_periodic",
                  "aqueue_limits", "aqueue_limit_starts", "aqueue_job_deps",
                  "aqueue_sessions"]
        if backend.supports_handover:
            tables.append("aqueue_offers")  # an offer outlives its worker for seconds
        for table in tables:
            if backend.dialect == "postgresql":
                await backend._fetch(f"TRUNCATE {table}")  # type: ignore[attr-defined]
            else:
                await backend._fetch(f"DELETE FROM {table}")  # type: ignore[attr-defined]


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDatabase]:
    """An empty, migrated database on each backend in turn."""
    backend = request.param
    if backend == "sqlite":
        yield TestDatabase("sqlite", f"sqlite:///{tmp_path / 'aqueue.db'}")
        return
    dsn = server_dsn(backend)
    asyncio.run(empty(dsn))
    yield TestDatabase(backend, dsn)


@pytest.fixture
async def queue(database: TestDatabase) -> AsyncIterator[aqueue.Queue]:
    q = aqueue.Queue(database.dsn)
    async with q:
        yield q
