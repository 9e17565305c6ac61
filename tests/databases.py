"""Test databases: a migrated template per server, and a throw-away clone of it per test.

A clone starts exactly as the schema left it, so no test has to know which
tables a feature added. PostgreSQL clones with ``CREATE DATABASE … TEMPLATE``;
MariaDB has no templates, so a clone copies each table of the template (named
by ``information_schema``, not by a list kept here) with ``CREATE TABLE … LIKE``,
its rows and its foreign keys. Clones are made ahead and dropped on a thread of their own, so
that no test waits for either.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import queue
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiomysql
import asyncpg

import aqueue
from aqueue.dsn import parse

POSTGRES_DSN = os.environ.get(
    "AQUEUE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/aqueue_test"
)
MYSQL_DSN = os.environ.get("AQUEUE_TEST_MYSQL_DSN", "mysql://root@127.0.0.1:3306/aqueue_test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

TEMPLATE = "aqueue_template"
CLONE_PREFIX = "aqueue_t_"
_CLONE_NAME = re.compile(rf"^{CLONE_PREFIX}(\d+)_\d+$")


@dataclass(frozen=True)
class TestDatabase:
    __test__ = False

    backend: str
    dsn: str


def server_of(backend: str) -> str:
    return POSTGRES_DSN if backend == "postgresql" else MYSQL_DSN


def dsn_for(backend: str, name: str) -> str:
    return server_of(backend).rsplit("/", 1)[0] + "/" + name


async def _postgres_admin(*statements: str) -> list[str]:
    """Run statements on the server's ``postgres`` database; return the last one's first column."""
    parsed = parse(POSTGRES_DSN)
    admin = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.user,
        password=parsed.password,
        database="postgres",
        timeout=5,
    )
    try:
        rows: list[asyncpg.Record] = []
        for statement in statements:
            rows = await admin.fetch(statement)
        return [str(r[0]) for r in rows]
    finally:
        await admin.close()


async def _mysql_admin(*statements: str) -> list[str]:
    """Run statements with autocommit; return the last one's first column."""
    parsed = parse(MYSQL_DSN)
    conn = await aiomysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.user or "root",
        password=parsed.password or "",
        connect_timeout=5,
        autocommit=True,
    )
    try:
        rows: tuple[tuple[object, ...], ...] = ()
        async with conn.cursor() as cur:
            for statement in statements:
                await cur.execute(statement)
                rows = await cur.fetchall()
        return [str(r[0]) for r in rows]
    finally:
        conn.close()


def admin(backend: str, *statements: str) -> list[str]:
    """Run statements on the backend's server, outside any test database."""
    run = _postgres_admin if backend == "postgresql" else _mysql_admin
    # Its own thread and loop, so that an async test can make a database too.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run(*statements)).result()


def _drop(backend: str, name: str) -> str:
    if backend == "postgresql":
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    return f"DROP DATABASE IF EXISTS `{name}`"


def _create(backend: str, name: str) -> str:
    return f'CREATE DATABASE "{name}"' if backend == "postgresql" else f"CREATE DATABASE `{name}`"


def fresh_database(backend: str, name: str) -> str:
    """An empty database called ``name`` (no aqueue schema) on the backend's server."""
    admin(backend, _drop(backend, name), _create(backend, name))
    return dsn_for(backend, name)


def _leftover_clones(backend: str) -> list[str]:
    """Clones of runs that ended without dropping them (their process is gone)."""
    if backend == "postgresql":
        names = admin(
            backend, f"SELECT datname FROM pg_database WHERE datname LIKE '{CLONE_PREFIX}%'"
        )
    else:
        names = admin(backend, f"SHOW DATABASES LIKE '{CLONE_PREFIX}%'")
    left = []
    for name in names:
        found = _CLONE_NAME.match(name)
        if found and not Path(f"/proc/{found.group(1)}").exists():
            left.append(name)
    return left


async def _migrate(dsn: str) -> None:
    async with aqueue.Queue(dsn) as queue:
        await queue.migrate()


class Clones:
    """Hands out a fresh clone of the migrated template for each test.

    A thread of its own makes clones ahead (:data:`AHEAD` per server) and
    drops used ones, so that a test waits for neither.
    """

    AHEAD = 2

    def __init__(self) -> None:
        self._templates: dict[str, str] = {}
        self._sqlite_template: Path | None = None
        self._numbers = itertools.count(1)
        self._ready: dict[str, queue.SimpleQueue[str]] = {}
        self._chores: queue.SimpleQueue[tuple[str, str, str] | None] = queue.SimpleQueue()
        self._helper: threading.Thread | None = None

    def template(self, backend: str) -> str:
        """Create and migrate the server's template once per run (raises if unreachable)."""
        if backend not in self._templates:
            for name in _leftover_clones(backend):
                admin(backend, _drop(backend, name))
            dsn = fresh_database(backend, TEMPLATE)
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, _migrate(dsn)).result()
            self._templates[backend] = dsn
            self._ready[backend] = queue.SimpleQueue()
            for _ in range(self.AHEAD):
                self._chore("make", backend)
        return self._templates[backend]

    def clone(self, backend: str) -> str:
        """A new database holding what the template holds."""
        self.template(backend)
        try:
            dsn = self._ready[backend].get_nowait()
        except queue.Empty:
            dsn = self._make(backend)
        self._chore("make", backend)
        return dsn

    def empty(self, backend: str) -> str:
        """A new database with nothing in it (dropped like a clone)."""
        self.template(backend)
        name = f"{CLONE_PREFIX}{os.getpid()}_{next(self._numbers)}"
        admin(backend, _create(backend, name))
        return dsn_for(backend, name)

    def _make(self, backend: str) -> str:
        name = f"{CLONE_PREFIX}{os.getpid()}_{next(self._numbers)}"
        if backend == "postgresql":
            admin(backend, f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        else:
            tables = admin(
                backend,
                "SELECT table_name FROM information_schema.tables"
                f" WHERE table_schema = '{TEMPLATE}'",
            )
            copies = [f"CREATE TABLE `{name}`.`{t}` LIKE `{TEMPLATE}`.`{t}`" for t in tables]
            rows = [f"INSERT INTO `{name}`.`{t}` SELECT * FROM `{TEMPLATE}`.`{t}`" for t in tables]
            # CREATE TABLE … LIKE leaves foreign keys out: they are added after the rows.
            keys = admin(
                backend,
                "SELECT CONCAT('ALTER TABLE `', k.table_name, '` ADD CONSTRAINT `',"
                " k.constraint_name, '` FOREIGN KEY (`', k.column_name, '`) REFERENCES `',"
                " k.referenced_table_name, '` (`', k.referenced_column_name, '`) ON DELETE ',"
                " r.delete_rule) FROM information_schema.key_column_usage k"
                " JOIN information_schema.referential_constraints r"
                " ON r.constraint_schema = k.constraint_schema"
                " AND r.constraint_name = k.constraint_name"
                f" WHERE k.table_schema = '{TEMPLATE}' AND k.referenced_table_name IS NOT NULL",
            )
            foreign = [f"USE `{name}`", *keys] if keys else []
            admin(backend, _create(backend, name), *copies, *rows, *foreign)
        return dsn_for(backend, name)

    def sqlite(self, where: Path) -> str:
        """A copy of a migrated SQLite file at ``where``."""
        if self._sqlite_template is None:
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="aqueue-template-"))
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, _migrate(f"sqlite:///{folder / 'template.db'}")).result()
            self._sqlite_template = folder / "template.db"
        shutil.copyfile(self._sqlite_template, where)
        return f"sqlite:///{where}"

    def discard(self, backend: str, dsn: str) -> None:
        """Drop a clone soon, on the helper thread."""
        self._chore("drop", backend, parse(dsn).database or "")

    def _chore(self, kind: str, backend: str, name: str = "") -> None:
        if self._helper is None:
            self._helper = threading.Thread(target=self._do_chores, name="test-clones", daemon=True)
            self._helper.start()
        self._chores.put((kind, backend, name))

    def finish(self) -> None:
        """Wait for the chores queued, then drop the clones made ahead (end of the run)."""
        if self._helper is not None:
            self._chores.put(None)
            self._helper.join(timeout=120)
        for backend, ready in self._ready.items():
            while not ready.empty():
                with contextlib.suppress(Exception):
                    admin(backend, _drop(backend, parse(ready.get()).database or ""))
        if self._sqlite_template is not None:
            shutil.rmtree(self._sqlite_template.parent, ignore_errors=True)

    def _do_chores(self) -> None:
        while (chore := self._chores.get()) is not None:
            kind, backend, name = chore
            try:
                if kind == "make":
                    self._ready[backend].put(self._make(backend))
                elif _CLONE_NAME.match(name):
                    admin(backend, _drop(backend, name))
            except Exception:  # a test then makes its own; a clone left is dropped next run
                pass


CLONES = Clones()
