"""PostgreSQL backend (asyncpg): SKIP LOCKED claims, batch statements,
LISTEN/NOTIFY, and producers handing jobs straight to idle workers.

The class is its capabilities put together: the core and the schema
(:mod:`.core`), admin, registry, schedules and sessions (:mod:`.admin`),
limits, dependencies and hand-over (:mod:`.features`), captured output
(:mod:`.outputs`), durable steps (:mod:`.steps`), the flow of jobs for the
charts (:mod:`.flow`), a standby's lag (:mod:`.replication`), notifications
(:mod:`.listener`). Its SQL is in ``queries.sql``, its schema in ``schema.sql``.
"""

from __future__ import annotations

from aqueue.backends.postgres.admin import PostgresAdmin
from aqueue.backends.postgres.features import PostgresFeatures
from aqueue.backends.postgres.flow import PostgresFlow
from aqueue.backends.postgres.listener import PostgresListener, PostgresNotifications
from aqueue.backends.postgres.outputs import PostgresOutputs
from aqueue.backends.postgres.replication import PostgresReplication
from aqueue.backends.postgres.steps import PostgresSteps
from aqueue.backends.postgres.unique import PostgresUnique


class PostgresBackend(
    PostgresAdmin,
    PostgresFeatures,
    PostgresFlow,
    PostgresOutputs,
    PostgresReplication,
    PostgresSteps,
    PostgresUnique,
    PostgresNotifications,
):
    """Every capability of :mod:`aqueue.backends.base`."""


__all__ = ["PostgresBackend", "PostgresListener"]
