"""MySQL 8 / MariaDB 10.6+ backend (aiomysql): SKIP LOCKED claims under READ
COMMITTED; idle workers probe instead of listening.

The class is its capabilities put together: the core and the schema
(:mod:`.core`), admin, registry, schedules and sessions (:mod:`.admin`),
limits and dependencies (:mod:`.features`), captured output (:mod:`.outputs`),
durable steps (:mod:`.steps`). No notifications, no hand-over: MySQL has no
LISTEN. Its SQL is in ``queries.sql``, its schema in ``schema.sql``.
"""

from __future__ import annotations

from aqueue.backends.mysql.admin import MySQLAdmin
from aqueue.backends.mysql.features import MySQLFeatures
from aqueue.backends.mysql.flow import MySQLFlow
from aqueue.backends.mysql.outputs import MySQLOutputs
from aqueue.backends.mysql.steps import MySQLSteps
from aqueue.backends.mysql.unique import MySQLUnique


class MySQLBackend(MySQLAdmin, MySQLFeatures, MySQLFlow, MySQLOutputs, MySQLSteps, MySQLUnique):
    """The core, schema, admin, registry, schedules, sessions, limits,
    dependencies, outputs and steps of :mod:`aqueue.backends.base`."""


__all__ = ["MySQLBackend"]
