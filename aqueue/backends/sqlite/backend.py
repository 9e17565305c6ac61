"""SQLite backend (aiosqlite): one connection, WAL, one writer at a time; the
processes of one host wake each other through sockets beside the file.

The class is its capabilities put together: the core and the schema
(:mod:`.core`), admin, registry, schedules and sessions (:mod:`.admin`),
limits and dependencies (:mod:`.features`), captured output (:mod:`.outputs`),
durable steps (:mod:`.steps`), notifications (:mod:`.listener`).
No hand-over. Its SQL is in ``queries.sql``, its schema in ``schema.sql``.
"""

from __future__ import annotations

from aqueue.backends.sqlite.admin import SQLiteAdmin
from aqueue.backends.sqlite.features import SQLiteFeatures
from aqueue.backends.sqlite.flow import SQLiteFlow
from aqueue.backends.sqlite.listener import SQLiteNotifications
from aqueue.backends.sqlite.outputs import SQLiteOutputs
from aqueue.backends.sqlite.steps import SQLiteSteps
from aqueue.backends.sqlite.unique import SQLiteUnique


class SQLiteBackend(
    SQLiteAdmin,
    SQLiteFeatures,
    SQLiteFlow,
    SQLiteOutputs,
    SQLiteSteps,
    SQLiteUnique,
    SQLiteNotifications,
):
    """The core, schema, admin, registry, schedules, sessions, limits,
    dependencies, flow, outputs, steps and notifications of :mod:`aqueue.backends.base`."""


__all__ = ["SQLiteBackend"]
