"""Each backend's schema.sql is the schema its migrations build: a database
migrated step by step (the test's own, cloned from the migrated template) and
one built from schema.sql (and, on PostgreSQL, functions.sql) have the same
tables, columns, indexes, constraints, storage options and functions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aqueue
from aqueue.backends.sqlfile import latest_version
from tests.databases import TestDatabase
from tests.raw import Raw, raw

PACKAGES = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
BACKENDS = Path(aqueue.__file__).parent / "backends"


async def _postgres(sql: Raw) -> dict[str, Any]:
    async def rows(query: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(r) for r in await sql.fetch(query))

    return {
        "columns": await rows(
            "SELECT table_name, column_name, ordinal_position, data_type, column_default, "
            "is_nullable FROM information_schema.columns WHERE table_schema = 'public'"
        ),
        "indexes": await rows(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        ),
        "constraints": await rows(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
        ),
        "options": await rows(
            "SELECT relname, coalesce(array_to_string(reloptions, ','), '') FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace"
        ),
        "functions": await rows(
            "SELECT proname, pg_get_functiondef(oid) FROM pg_proc "
            "WHERE pronamespace = 'public'::regnamespace"
        ),
    }


async def _mysql(sql: Raw) -> dict[str, Any]:
    tables = sorted(str(r[0]) for r in await sql.fetch("SHOW TABLES"))
    created = {}
    for table in tables:
        [(_, text)] = await sql.fetch(f"SHOW CREATE TABLE `{table}`")
        created[table] = " ".join(
            part for part in str(text).split() if not part.startswith("AUTO_INCREMENT=")
        )
    return created


async def _sqlite(sql: Raw) -> dict[str, Any]:
    rows = await sql.fetch(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return {str(r[1]): tuple(r) for r in rows}


async def _catalog(dsn: str, dialect: str) -> dict[str, Any]:
    async with raw(dsn) as sql:
        read = {"postgresql": _postgres, "mysql": _mysql, "sqlite": _sqlite}[dialect]
        return await read(sql)


async def _build(dsn: str, dialect: str, files: list[Path]) -> None:
    async with raw(dsn) as sql:
        for path in files:
            text = path.read_text()
            if dialect == "postgresql":
                await sql.conn.execute(text)
            elif dialect == "sqlite":
                await sql.conn.executescript(text)
            else:
                for statement in text.split(";\n"):
                    if statement.strip() and not all(
                        line.startswith("--") for line in statement.strip().splitlines()
                    ):
                        await sql.execute(statement)


async def test_the_schema_file_is_what_the_migrations_build(
    database: TestDatabase, tmp_path: Path, fresh_dsn: Callable[..., str]
) -> None:
    folder = BACKENDS / PACKAGES[database.backend]
    schema = folder / "schema.sql"
    version = latest_version(f"aqueue.backends.{PACKAGES[database.backend]}")
    assert f"after migration {version:04d}" in schema.read_text().splitlines()[0], (
        "schema.sql is older than the newest migration: run scripts/dump_schema.py"
    )
    files = [schema] + ([folder / "functions.sql"] if database.backend == "postgresql" else [])
    built = fresh_dsn(database.backend, tmp_path, empty=True)
    await _build(built, database.backend, files)
    migrated = await _catalog(database.dsn, database.backend)
    assert migrated, "the migrated database has no schema to compare"
    assert await _catalog(built, database.backend) == migrated, (
        "schema.sql differs from what the migrations build: run scripts/dump_schema.py"
    )


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_an_older_database_gets_the_current_functions(database: TestDatabase) -> None:
    """A database one migration behind, whose functions are an older
    version's: its next migrate brings both up to date, in one run."""
    before = await _catalog(database.dsn, "postgresql")
    async with raw(database.dsn) as sql:
        await sql.execute(
            "DELETE FROM aqueue_migrations WHERE version = "
            "(SELECT max(version) FROM aqueue_migrations)"
        )
        await sql.execute(
            "DROP FUNCTION aqueue_claim_limited(text, float8, text[], integer, text, text, "
            "text[], integer[], integer[], float8[], integer, integer)"
        )
        await sql.execute("DROP FUNCTION aqueue_claim(text, integer, float8, text[])")
        await sql.execute(
            "CREATE FUNCTION aqueue_claim(p_worker text, p_limit integer, "
            "p_lease float8, p_queues text[]) RETURNS TABLE (id text) "
            "LANGUAGE sql AS $$ SELECT NULL::text $$"
        )
    async with aqueue.Queue(database.dsn) as queue:
        assert await queue.migrate() == [latest_version("aqueue.backends.postgres")]
    assert await _catalog(database.dsn, "postgresql") == before
