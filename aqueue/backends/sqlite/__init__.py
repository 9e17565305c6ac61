"""SQLite backend."""

from aqueue.backends.sqlite.backend import SQLiteBackend

__all__ = ["SQLiteBackend"]
