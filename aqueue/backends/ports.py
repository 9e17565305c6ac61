"""The statements a feature drives, which each backend implements.

A feature owns its logic — which keys a limited claim visits and how many it
takes (:mod:`aqueue.limits`), how a parent's end reaches its children
(:mod:`aqueue.dependencies`) — and runs it over these ports, inside the
transaction a backend opens for it. So the logic is written once for three
databases, and no backend imports a feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from aqueue.records import ClaimedJob, Edge, EndedEdge, NewJob, Related, TaskLimit


class KeyOps(Protocol):
    """The statements of a limited claim, on one backend, in one transaction."""

    async def next_key(self, after: tuple[str, str] | None) -> tuple[str, str] | None:
        """The first (task, key) after ``after`` with due, claimable jobs."""

    async def lock(self, task: str, key: str) -> bool:
        """Lock the key's row; False when another worker holds it now."""

    async def counts(self, limit: TaskLimit, key: str) -> tuple[int, int]:
        """The key's running jobs, and its starts within the rate window."""

    async def claim(self, task: str, key: str, n: int) -> list[ClaimedJob]:
        """Claim up to ``n`` of the key's due jobs, in claim order."""

    async def record_starts(self, task: str, key: str, n: int) -> None:
        """Log ``n`` starts of the key now, for its rate window."""


class ReleaseSteps(Protocol):
    """What releasing children takes, where the database has no function for it."""

    async def ended_edges(self, parents: Sequence[str] | None) -> list[EndedEdge]:
        """Edges not yet applied whose parent (one of these; None: any) ended or is gone."""

    async def mark_released(self, edges: Sequence[EndedEdge]) -> None: ...

    async def count_down(self, child: str, n: int) -> None:
        """``n`` of a waiting child's parents ended well: due when none is left."""

    async def cancel_child(self, child: str, message: str) -> bool:
        """Cancel a waiting child with ``ParentFailed``; False if it was not waiting."""


class DependencyOps(Protocol):
    """The statements of enqueueing dependents, inside the insert's transaction."""

    async def lock_parents(self, ids: Sequence[str]) -> dict[str, str]:
        """Lock these jobs' rows (shared) and return their statuses."""

    async def insert_edges(self, edges: Sequence[Edge]) -> None: ...

    async def set_waiting(self, counts: dict[str, int]) -> None:
        """Set each child's count of parents not yet applied."""

    async def release(self, parents: Sequence[str]) -> None:
        """Apply these parents' ends to their children."""

    async def insert_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        """Write ``(job id, tag)`` rows (a row already there is kept)."""

    async def insert_batch(self, batch_id: str, callbacks: str, anchor: str) -> None:
        """Record an open batch and its callbacks (JSON); the row is deleted
        with the job ``anchor``."""

    async def lock_batch(self, batch_id: str) -> tuple[str, bool] | None:
        """Lock a batch's row until the transaction ends: its callbacks (JSON)
        and whether it is closed; None for no such batch."""


class UniqueOps(Protocol):
    """The statements of enqueueing one job whose key is held for a period or
    past its end (:mod:`aqueue.uniqueness`), inside one transaction."""

    async def ensure_key(self, key: str) -> None:
        """Make sure the key has a row (a new one holds no job)."""

    async def lock_key(self, key: str) -> tuple[str | None, float]:
        """Lock the key's row: the job holding it and the seconds since it took it."""

    async def job_status(self, job_id: str) -> str | None:
        """The job's status; None if it is gone."""

    async def record_key(self, key: str, job_id: str) -> None:
        """The key is held by ``job_id`` from now."""

    async def replace_job(self, job_id: str, job: NewJob) -> bool:
        """Give a queued job (not waiting for parents) ``job``'s arguments,
        priority, due time and meta; whether it was."""

    async def insert(self, job: NewJob) -> str:
        """Insert the job; the id of the job that holds its key while queued or
        running, if another does already."""

    async def insert_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        """Write ``(job id, tag)`` rows."""


#: The feature's part of enqueueing one uniquely keyed job (``aqueue.uniqueness``).
UniqueSteps = Callable[[UniqueOps, NewJob], Awaitable[str]]


#: The feature's release (``aqueue.dependencies.release``), given to backends
#: that run it over :class:`ReleaseSteps` (PostgreSQL has a function instead):
#: applies the ends of ``parents``; whether any child changed.
ReleaseAlgorithm = Callable[[ReleaseSteps, Sequence[str]], Awaitable[bool]]

#: The features' part of enqueueing related jobs (``aqueue.dependencies.write_related``):
#: record the edges and tags of the jobs that went in, over :class:`DependencyOps`.
DependencySteps = Callable[[DependencyOps, Related], Awaitable[None]]
