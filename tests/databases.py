"""Test databases: where they are, creating them, and emptying them between tests."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import aiomysql
import asyncpg

from aqueue.dsn import parse

POSTGRES_DSN = os.environ.get(
    "AQUEUE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/aqueue_test"
)
MYSQL_DSN = os.environ.get("AQUEUE_TEST_MYSQL_DSN", "mysql://root@127.0.0.1:3306/aqueue_test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class TestDatabase:
    __test__ = False

    backend: str
    dsn: str


async def _create_postgres(dsn: str, name: str | None = None) -> str:
    parsed = parse(dsn)
    database = name or parsed.database
    admin = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.user,
                                  password=parsed.password, database="postgres", timeout=5)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    return dsn.rsplit("/", 1)[0] + "/" + database


async def _drop_postgres(dsn: str, name: str) -> None:
    parsed = parse(dsn)
    admin = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.user,
                                  password=parsed.password, database="postgres", timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _mysql_admin(dsn: str, statement: str) -> None:
    parsed = parse(dsn)
    conn = await aiomysql.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 3306,
                                  user=parsed.user or "root", password=parsed.password or "",
                                  connect_timeout=5, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(statement)
    finally:
        conn.close()


def prepare_server(backend: str) -> str:
    """Create the test database; return its DSN. Raises when the server is unreachable."""
    if backend == "postgresql":
        return asyncio.run(_create_postgres(POSTGRES_DSN))
    database = parse(MYSQL_DSN).database
    asyncio.run(_mysql_admin(MYSQL_DSN, f"CREATE DATABASE IF NOT EXISTS `{database}`"))
    return MYSQL_DSN


def fresh_database(backend: str, name: str) -> str:
    """An empty database called ``name`` (no aqueue schema) on the backend's server."""
    if backend == "postgresql":
        asyncio.run(_drop_postgres(POSTGRES_DSN, name))
        return asyncio.run(_create_postgres(POSTGRES_DSN, name))
    asyncio.run(_mysql_admin(MYSQL_DSN, f"DROP DATABASE IF EXISTS `{name}`"))
    asyncio.run(_mysql_admin(MYSQL_DSN, f"CREATE DATABASE `{name}`"))
    return MYSQL_DSN.rsplit("/", 1)[0] + "/" + name
