"""Write each backend's ``schema.sql``: the schema a database has once every
migration ran, in one file to read.

    python scripts/dump_schema.py        # all three (PostgreSQL and MariaDB from
                                         # the test DSNs of DEVELOPERS.md)
    python scripts/dump_schema.py sqlite

Run it after adding a migration; ``tests/conformance/test_schema.py`` fails
while a ``schema.sql`` differs from what the migrations build. PostgreSQL's
functions are left out: they are defined once, in ``functions.sql``.
PostgreSQL's schema is read with ``pg_dump`` (the server's own tool).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aqueue  # noqa: E402
from aqueue.backends.sqlfile import latest_version  # noqa: E402
from aqueue.dsn import parse  # noqa: E402

POSTGRES_DSN = os.environ.get(
    "AQUEUE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/aqueue_test"
)
MYSQL_DSN = os.environ.get("AQUEUE_TEST_MYSQL_DSN", "mysql://root@127.0.0.1:3306/aqueue_test")
SCRATCH = "aqueue_schema_dump"
PACKAGES = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


def header(backend: str) -> str:
    version = latest_version(f"aqueue.backends.{PACKAGES[backend]}")
    return (
        f"-- aqueue's {backend} schema after migration {version:04d}: written by\n"
        "-- scripts/dump_schema.py from a database migrated step by step. Do not edit:\n"
        "-- change the schema with a new migration, then run the script again.\n"
    )


async def migrate(dsn: str) -> None:
    async with aqueue.Queue(dsn) as queue:
        await queue.migrate()


async def postgres() -> str:
    import asyncpg

    server = parse(POSTGRES_DSN)
    admin = await asyncpg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        database="postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{SCRATCH}"')
        dsn = POSTGRES_DSN.rsplit("/", 1)[0] + "/" + SCRATCH
        await migrate(dsn)
        dumped = subprocess.run(  # noqa: ASYNC221 - a developer's tool, nothing else runs
            [
                "pg_dump",
                "--schema-only",
                "--no-owner",
                "--no-privileges",
                "--no-comments",
                "--host",
                server.host or "127.0.0.1",
                "--port",
                str(server.port or 5432),
                "--username",
                server.user or "postgres",
                SCRATCH,
            ],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": server.password or ""},
        ).stdout
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        await admin.close()
    # pg_dump heads each object with "-- Name: ...; Type: KIND; ...": keep the
    # tables, their defaults, constraints and indexes, not the settings or the
    # functions.
    kept = []
    for entry in re.split(r"^--\n-- (?=Name: )", dumped, flags=re.M)[1:]:
        kind = re.match(r"Name: [^;]*; Type: ([A-Z ]+);", entry)
        if kind is None or kind.group(1) == "FUNCTION":
            continue
        body = "\n".join(
            line
            for line in entry.splitlines()[1:]
            if line.strip() and not line.startswith(("--", "\\"))
        )
        kept.append(body.replace("public.", "").strip())
    return header("postgresql") + "-- Functions: functions.sql.\n\n" + "\n\n".join(kept) + "\n"


async def mysql() -> str:
    import aiomysql

    server = parse(MYSQL_DSN)
    conn = await aiomysql.connect(
        host=server.host or "127.0.0.1",
        port=server.port or 3306,
        user=server.user or "root",
        password=server.password or "",
        autocommit=True,
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{SCRATCH}`")
            await cur.execute(f"CREATE DATABASE `{SCRATCH}`")
        await migrate(MYSQL_DSN.rsplit("/", 1)[0] + "/" + SCRATCH)
        async with conn.cursor() as cur:
            await cur.execute(f"SHOW TABLES FROM `{SCRATCH}`")
            tables = sorted(r[0] for r in await cur.fetchall())
            created = []
            for table in tables:
                await cur.execute(f"SHOW CREATE TABLE `{SCRATCH}`.`{table}`")
                text = (await cur.fetchone())[1]
                created.append(re.sub(r" AUTO_INCREMENT=\d+", "", text) + ";")
            # A table whose foreign key names another comes after the tables without one.
            created.sort(key=lambda statement: "FOREIGN KEY" in statement)
            await cur.execute(f"DROP DATABASE `{SCRATCH}`")
    finally:
        conn.close()
    return header("mysql") + "\n" + "\n\n".join(created) + "\n"


async def sqlite() -> str:
    import aiosqlite

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "schema.db"
        await migrate(f"sqlite:///{path}")
        async with aiosqlite.connect(path) as conn:
            rows = await conn.execute_fetchall(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                "AND name NOT LIKE 'sqlite_%' "
                # Triggers last: they name tables that must exist by then.
                "ORDER BY type = 'trigger', type = 'index', tbl_name, name"
            )
    return header("sqlite") + "\n" + "\n\n".join(f"{r[0]};" for r in rows) + "\n"


def main() -> int:
    wanted = sys.argv[1:] or list(PACKAGES)
    makers = {"postgresql": postgres, "mysql": mysql, "sqlite": sqlite}
    for backend in wanted:
        text = asyncio.run(makers[backend]())
        target = ROOT / "aqueue" / "backends" / PACKAGES[backend] / "schema.sql"
        target.write_text(text)
        print(f"wrote {target.relative_to(ROOT)} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
