"""Database backends behind :class:`aqueue.backends.base.Backend`."""

from __future__ import annotations

from aqueue.backends.base import Backend
from aqueue.dsn import DSN


def create_backend(dsn: DSN, *, pool_size: int = 10, listen_dsn: DSN | None = None) -> Backend:
    """Build the backend for ``dsn``; drivers are imported only when used.
    ``listen_dsn`` (PostgreSQL) is where LISTEN connects, when not to ``dsn``."""
    if dsn.dialect == "postgresql":
        from aqueue.backends.postgres import PostgresBackend

        return PostgresBackend(dsn, pool_size=pool_size, listen_dsn=listen_dsn)
    if dsn.dialect == "mysql":
        from aqueue.backends.mysql import MySQLBackend

        return MySQLBackend(dsn, pool_size=pool_size)
    from aqueue.backends.sqlite import SQLiteBackend

    # One connection: SQLite has one writer at a time anyway.
    return SQLiteBackend(dsn)


__all__ = ["Backend", "create_backend"]
