"""A test's clock (:mod:`aqueue.testing`): queued jobs' due times drawn nearer,
and how long until the next is due. Test-only, so not part of the production
seam: no worker or producer can reach it."""

from __future__ import annotations

from typing import Protocol

from aqueue.backends.base import Backend


class Clock(Protocol):
    """Time, as the jobs of one database see it, moved on by a test."""

    async def shift(self, seconds: float) -> int:
        """Bring every queued job's due time ``seconds`` nearer; jobs waiting
        for parents are left alone. How many moved."""

    async def next_due_in(self) -> float | None:
        """Seconds until the earliest queued job not waiting for parents is due
        (negative: overdue); None when there is none."""


def clock_for(backend: Backend) -> Clock:
    """The clock of ``backend``'s database."""
    if backend.dialect == "postgresql":
        from aqueue.backends.postgres.clock import PostgresClock
        from aqueue.backends.postgres.core import PostgresCore

        assert isinstance(backend, PostgresCore)
        return PostgresClock(backend)
    if backend.dialect == "mysql":
        from aqueue.backends.mysql.clock import MySQLClock
        from aqueue.backends.mysql.core import MySQLCore

        assert isinstance(backend, MySQLCore)
        return MySQLClock(backend)
    from aqueue.backends.sqlite.clock import SQLiteClock
    from aqueue.backends.sqlite.core import SQLiteCore

    assert isinstance(backend, SQLiteCore)
    return SQLiteClock(backend)
