"""PostgreSQL backend."""

from aqueue.backends.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]
