"""Database backends behind :class:`aqueue.backends.base.Backend`."""

from __future__ import annotations

from aqueue.backends.base import Backend
from aqueue.dsn import DSN


def create_backend(dsn: DSN, **options: object) -> Backend:
    """Build the backend for ``dsn``; drivers are imported only when used."""
    if dsn.dialect == "postgresql":
        from aqueue.backends.postgres import PostgresBackend

        return PostgresBackend(dsn, **options)  # type: ignore[arg-type]
    if dsn.dialect == "mysql":
        from aqueue.backends.mysql import MySQLBackend

        return MySQLBackend(dsn, **options)  # type: ignore[arg-type]
    from aqueue.backends.sqlite import SQLiteBackend

    return SQLiteBackend(dsn, **options)  # type: ignore[arg-type]


__all__ = ["Backend", "create_backend"]
