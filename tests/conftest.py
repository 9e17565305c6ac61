"""Fixtures: every conformance test runs once per backend against a real server.

Each test gets its own database, cloned from a migrated template (see
``tests/databases.py``). In CI (``CI=true``) an unreachable PostgreSQL or
MariaDB fails the run; on a laptop without them those tests are skipped with a
message saying why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

import aqueue
from tests.databases import CLONES, IN_CI, TestDatabase, server_of

BACKENDS = ["postgresql", "mysql", "sqlite"]
_unreachable: dict[str, BaseException] = {}


def clone_of(backend: str) -> str:
    """A fresh migrated database on a server backend, or skip/fail if the server is unreachable."""
    if backend not in _unreachable:
        try:
            CLONES.template(backend)
        except Exception as exc:  # unreachable, refused, or a template that cannot be made
            _unreachable[backend] = exc
    if backend in _unreachable:
        message = f"{backend} is not usable at {server_of(backend)}: {_unreachable[backend]}"
        if IN_CI:
            pytest.fail(f"{message} (in CI every backend must run)")
        variable = f"AQUEUE_TEST_{'POSTGRES' if backend == 'postgresql' else 'MYSQL'}_DSN"
        pytest.skip(f"{message}; set {variable} to run these tests")
    return CLONES.clone(backend)


@pytest.fixture
def fresh_dsn() -> Iterator[Callable[..., str]]:
    """Make more databases inside one test: ``fresh_dsn(backend, tmp_path)`` a
    migrated one, ``fresh_dsn(backend, tmp_path, empty=True)`` one with nothing in it."""
    made: list[tuple[str, str]] = []

    def make(backend: str, where: Path, empty: bool = False) -> str:
        if backend == "sqlite":
            path = where / f"fresh-{len(made)}.db"
            made.append((backend, str(path)))
            return f"sqlite:///{path}" if empty else CLONES.sqlite(path)
        dsn = clone_of(backend)
        if empty:
            CLONES.discard(backend, dsn)
            dsn = CLONES.empty(backend)
        made.append((backend, dsn))
        return dsn

    yield make
    for backend, dsn in made:
        if backend != "sqlite":
            CLONES.discard(backend, dsn)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDatabase]:
    """A migrated database of its own on each backend in turn."""
    backend = request.param
    if backend == "sqlite":
        yield TestDatabase("sqlite", CLONES.sqlite(tmp_path / "aqueue.db"))
        return
    dsn = clone_of(backend)
    yield TestDatabase(backend, dsn)
    CLONES.discard(backend, dsn)


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A migrated PostgreSQL database of its own, for PostgreSQL-only tests."""
    dsn = clone_of("postgresql")
    yield dsn
    CLONES.discard("postgresql", dsn)


@pytest.fixture
async def queue(database: TestDatabase) -> AsyncIterator[aqueue.Queue]:
    q = aqueue.Queue(database.dsn)
    async with q:
        yield q


def pytest_sessionfinish(session: pytest.Session) -> None:
    CLONES.finish()
