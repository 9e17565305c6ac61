"""SQL around aqueue, on a connection of the test's own: as another tool or a
hand-written statement would write, and to read what aqueue offers no API for
(query plans, server settings, other sessions)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiomysql
import aiosqlite
import asyncpg

import aqueue
from aqueue.dsn import parse


class Raw:
    """One connection; statements use the driver's own placeholders
    (``$1`` on PostgreSQL, ``%s`` on MariaDB, ``:name`` or ``?`` on SQLite)."""

    def __init__(self, dialect: str, conn: Any) -> None:
        self.dialect = dialect
        self.conn = conn

    async def fetch(self, sql: str, *params: Any) -> list[Sequence[Any]]:
        """The rows of one statement (SQLite and MariaDB take one sequence or mapping)."""
        if self.dialect == "postgresql":
            return list(await self.conn.fetch(sql, *params))
        if self.dialect == "mysql":
            async with self.conn.cursor() as cur:
                await cur.execute(sql, params[0] if params else None)
                return list(await cur.fetchall())
        rows = list(await self.conn.execute_fetchall(sql, params[0] if params else ()))
        await self.conn.commit()
        return rows

    async def value(self, sql: str, *params: Any) -> Any:
        """The first column of the first row."""
        return (await self.fetch(sql, *params))[0][0]

    async def execute(self, sql: str, *params: Any) -> int:
        """Run one statement (committed at once); the rows it changed."""
        if self.dialect == "postgresql":
            status = await self.conn.execute(sql, *params)
            return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0
        if self.dialect == "mysql":
            async with self.conn.cursor() as cur:
                return int(await cur.execute(sql, params[0] if params else None))
        cursor = await self.conn.execute(sql, params[0] if params else ())
        await self.conn.commit()
        return int(cursor.rowcount)


@asynccontextmanager
async def raw(where: aqueue.Queue | str) -> AsyncIterator[Raw]:
    """A connection to a queue's database (test DSNs carry no password) or a DSN's."""
    dsn = parse(where.dsn if isinstance(where, aqueue.Queue) else where)
    if dsn.dialect == "postgresql":
        conn = await asyncpg.connect(
            host=dsn.host,
            port=dsn.port,
            user=dsn.user,
            password=dsn.password,
            database=dsn.database,
        )
        try:
            yield Raw("postgresql", conn)
        finally:
            await conn.close()
    elif dsn.dialect == "mysql":
        my = await aiomysql.connect(
            host=dsn.host or "127.0.0.1",
            port=dsn.port or 3306,
            user=dsn.user or "root",
            password=dsn.password or "",
            db=dsn.database,
            autocommit=True,
        )
        try:
            yield Raw("mysql", my)
        finally:
            my.close()
    else:
        async with aiosqlite.connect(dsn.database or ":memory:") as lite:
            await lite.execute("PRAGMA busy_timeout = 5000")
            yield Raw("sqlite", lite)


async def set_column(queue: aqueue.Queue, job_id: str, column: str, text: str | None) -> None:
    """Store ``text`` as-is in one job's ``column`` (a fixed, trusted column name)."""
    async with raw(queue) as sql:
        if sql.dialect == "postgresql":
            await sql.execute(
                f"UPDATE aqueue_jobs SET {column} = $2::json WHERE id = $1", job_id, text
            )
        elif sql.dialect == "mysql":
            await sql.execute(f"UPDATE aqueue_jobs SET {column} = %s WHERE id = %s", (text, job_id))
        else:
            await sql.execute(
                f"UPDATE aqueue_jobs SET {column} = :text WHERE id = :id",
                {"text": text, "id": job_id},
            )


async def set_time(queue: aqueue.Queue, job_id: str, column: str, offset: float) -> None:
    """Set one job's timestamp ``column`` (fixed, trusted) to now + ``offset`` seconds."""
    async with raw(queue) as sql:
        if sql.dialect == "postgresql":
            await sql.execute(
                f"UPDATE aqueue_jobs SET {column} = now() + make_interval(secs => $2) "
                "WHERE id = $1::uuid",
                job_id,
                float(offset),
            )
        elif sql.dialect == "mysql":
            await sql.execute(
                f"UPDATE aqueue_jobs SET {column} = UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND "
                "WHERE id = %s",
                (int(offset * 1_000_000), job_id),
            )
        else:
            await sql.execute(
                f"UPDATE aqueue_jobs SET {column} = (julianday('now') - 2440587.5) * 86400.0 "
                "+ :offset WHERE id = :id",
                {"offset": offset, "id": job_id},
            )


async def expire_leases(queue: aqueue.Queue, worker: str) -> int:
    """End the leases ``worker`` holds a second ago, as if it had stopped
    renewing them that long: what a rescue looks for, without waiting."""
    async with raw(queue) as sql:
        if sql.dialect == "postgresql":
            return await sql.execute(
                "UPDATE aqueue_jobs SET lease_expires_at = now() - interval '1 second' "
                "WHERE worker = $1 AND status = 'running'",
                worker,
            )
        if sql.dialect == "mysql":
            return await sql.execute(
                "UPDATE aqueue_jobs SET lease_expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
                "WHERE worker = %s AND status = 'running'",
                (worker,),
            )
        return await sql.execute(
            "UPDATE aqueue_jobs SET lease_expires_at = (julianday('now') - 2440587.5) * 86400.0"
            " - 1 WHERE worker = :worker AND status = 'running'",
            {"worker": worker},
        )


async def age_workers(queue: aqueue.Queue, seconds: float) -> None:
    """Move every registered worker's times ``seconds`` into the past, as if
    that long had gone by since each started, beat, or stopped."""
    columns = ("started_at", "heartbeat_at", "expires_at", "stopped_at")
    async with raw(queue) as sql:
        if sql.dialect == "postgresql":
            moved = ", ".join(f"{c} = {c} - make_interval(secs => $1)" for c in columns)
            await sql.execute(f"UPDATE aqueue_workers SET {moved}", float(seconds))
        elif sql.dialect == "mysql":
            moved = ", ".join(f"{c} = {c} - INTERVAL %(us)s MICROSECOND" for c in columns)
            await sql.execute(f"UPDATE aqueue_workers SET {moved}", {"us": int(seconds * 1e6)})
        else:
            moved = ", ".join(f"{c} = {c} - :s" for c in columns)
            await sql.execute(f"UPDATE aqueue_workers SET {moved}", {"s": seconds})
