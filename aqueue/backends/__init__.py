"""Database backends behind :mod:`aqueue.backends.base`'s protocols."""

from __future__ import annotations

from aqueue.backends.base import Backend
from aqueue.backends.ports import ReleaseAlgorithm
from aqueue.dsn import DSN


def create_backend(
    dsn: DSN, *, release: ReleaseAlgorithm, pool_size: int = 10, listen_dsn: DSN | None = None
) -> Backend:
    """Build the backend for ``dsn``; drivers are imported only when used.

    ``release`` is :func:`aqueue.dependencies.release`, which the backends
    without a database function for it run in their transactions (the
    caller passes it: no backend imports a feature). ``listen_dsn``
    (PostgreSQL) is where LISTEN connects, when not to ``dsn``.
    """
    if dsn.dialect == "postgresql":
        from aqueue.backends.postgres import PostgresBackend

        return PostgresBackend(dsn, pool_size=pool_size, listen_dsn=listen_dsn)
    if dsn.dialect == "mysql":
        from aqueue.backends.mysql import MySQLBackend

        return MySQLBackend(dsn, release=release, pool_size=pool_size)
    from aqueue.backends.sqlite import SQLiteBackend

    # One connection: SQLite has one writer at a time anyway.
    return SQLiteBackend(dsn, release=release)


__all__ = ["Backend", "create_backend"]
