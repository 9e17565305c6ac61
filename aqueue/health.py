"""Is the queue healthy? ``queue.health()`` and ``aqueue health``, for probes and monitors.

Checks, each a few indexed reads: the database answers (within a timeout),
the schema is this version's, no due job of an unpaused queue has waited
longer than ``max_queued_age``, no running job's lease ran out more than
``lease_grace`` seconds ago (that means no worker is alive to rescue it),
and at least ``min_workers`` workers are alive in the workers registry.
With a read replica (``Queue(read_dsn=...)``) the counts are read there, and
its replay must be at most ``max_replica_lag`` seconds behind.

The verdict: ``healthy`` (exit 0), ``unhealthy`` (1) or ``unknown`` (2:
the database did not answer, so nothing can be told). A Kubernetes liveness
probe of a worker should treat 2 as "not my fault" — restarting workers
does not bring a database back.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aqueue.errors import AqueueError

if TYPE_CHECKING:
    from aqueue.queue import Queue

HEALTHY, UNHEALTHY, UNKNOWN = "healthy", "unhealthy", "unknown"
EXIT_CODES = {HEALTHY: 0, UNHEALTHY: 1, UNKNOWN: 2}


@dataclass(frozen=True)
class Health:
    """What :meth:`aqueue.Queue.health` found."""

    status: str  # healthy, unhealthy or unknown
    problems: list[str]
    database: str  # the DSN, without secrets
    checked_at: datetime
    reachable: bool = False
    schema_version: int | None = None
    schema_wanted: int | None = None
    #: The longest a due job of an unpaused queue has waited, and its queue.
    oldest_due_age: float | None = None
    oldest_due_queue: str | None = None
    due: int = 0
    running: int = 0
    expired_leases: int = 0
    workers_alive: int = 0
    workers_dead: int = 0
    paused_queues: list[str] = field(default_factory=list)
    #: The read replica the counts came from (without secrets), and its lag in seconds.
    read_database: str | None = None
    replica_lag: float | None = None

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 unhealthy, 2 unknown."""
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checked_at"] = self.checked_at.isoformat()
        return data


async def check(
    queue: Queue,
    *,
    max_queued_age: float = 300.0,
    min_workers: int = 0,
    lease_grace: float = 60.0,
    timeout: float = 10.0,
    max_replica_lag: float = 60.0,
) -> Health:
    """Check ``queue``'s database, schema, waiting jobs, leases, workers and
    read replica (see the module's docstring); never raises for a database
    that cannot be reached."""
    database = queue.dsn
    now = datetime.now(UTC)
    path = queue.sqlite_path
    if path is not None and not await asyncio.to_thread(os.path.exists, path):
        # Opening would create it (SQLite migrates on open): a health check
        # must not make an empty database look healthy.
        return Health(UNHEALTHY, [f"the database file {path} does not exist"], database, now)
    try:
        return await asyncio.wait_for(
            _checks(queue, max_queued_age, min_workers, lease_grace, max_replica_lag, now),
            timeout,
        )
    except TimeoutError:
        return Health(UNKNOWN, [f"the database did not answer within {timeout:g}s"], database, now)
    except (AqueueError, OSError) as exc:
        return Health(UNKNOWN, [f"the database cannot be reached: {exc}"], database, now)


async def _checks(
    queue: Queue,
    max_queued_age: float,
    min_workers: int,
    lease_grace: float,
    max_replica_lag: float,
    now: datetime,
) -> Health:
    found, wanted = await queue.schema_versions()
    base: dict[str, Any] = {
        "database": queue.dsn,
        "checked_at": now,
        "reachable": True,
        "schema_version": found,
        "schema_wanted": wanted,
        "read_database": queue.reads.dsn,
    }
    if found is None or found < wanted:
        what = "missing" if found is None else f"at version {found}, this aqueue needs {wanted}"
        return Health(UNHEALTHY, [f"aqueue's schema is {what}: run `aqueue migrate`"], **base)
    summaries = await queue.jobs.counts()
    workers = await queue.workers()
    expired = await queue.jobs.expired_leases(lease_grace)
    lag = await queue.reads.lag()
    problems: list[str] = []
    if lag is not None and lag > max_replica_lag:
        problems.append(
            f"the read replica is {lag:.0f}s behind (more than {max_replica_lag:g}s): "
            "what is read there is stale"
        )
    waiting = [
        (s.oldest_due_age, s.name)
        for s in summaries
        if not s.paused and s.oldest_due_age is not None
    ]
    oldest_age, oldest_queue = max(waiting) if waiting else (None, None)
    if oldest_age is not None and oldest_age > max_queued_age:
        problems.append(
            f"a due job of queue {oldest_queue!r} has waited {oldest_age:.0f}s "
            f"(more than {max_queued_age:g}s)"
        )
    if expired:
        problems.append(
            f"{expired} running jobs' leases ran out over {lease_grace:g}s ago: "
            "no worker is alive to rescue them"
        )
    alive = sum(w.status == "running" for w in workers)
    if alive < min_workers:
        problems.append(f"{alive} workers alive, fewer than {min_workers}")
    return Health(
        UNHEALTHY if problems else HEALTHY,
        problems,
        **base,
        oldest_due_age=oldest_age,
        oldest_due_queue=oldest_queue,
        due=sum(s.due for s in summaries if not s.paused),
        running=sum(s.running for s in summaries),
        expired_leases=expired,
        workers_alive=alive,
        workers_dead=sum(w.status == "dead" for w in workers),
        paused_queues=[s.name for s in summaries if s.paused],
        replica_lag=lag,
    )
