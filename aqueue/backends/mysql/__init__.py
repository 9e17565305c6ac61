"""MySQL / MariaDB backend."""

from aqueue.backends.mysql.backend import MySQLBackend

__all__ = ["MySQLBackend"]
