"""What a task that asks for it (``takes_context=True``) receives as its first argument."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aqueue import serialization

if TYPE_CHECKING:
    from aqueue.backends.base import Backend


@dataclass(frozen=True)
class JobContext:
    """The running job's identity, and a way to report progress."""

    job_id: str
    task: str
    queue: str
    attempt: int
    max_attempts: int
    worker: str
    _backend: Backend
    #: The job's arguments, as the task receives them (for middleware).
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    #: What aqueue recorded about the job: ``{"periodic": {"schedule": ...,
    #: "tick": ...}}`` for a job a periodic schedule enqueued.
    meta: Mapping[str, Any] | None = None

    @property
    def periodic_tick(self) -> datetime | None:
        """The scheduled time of the tick that enqueued this job, if a periodic
        schedule did (the same on every attempt, unlike the due time)."""
        periodic = (self.meta or {}).get("periodic")
        if not isinstance(periodic, dict) or not isinstance(periodic.get("tick"), str):
            return None
        return datetime.fromisoformat(periodic["tick"])

    async def set_progress(self, progress: Any) -> bool:
        """Store ``progress`` (any JSON value) on the job, readable as ``JobInfo.progress``.

        Returns False when this attempt no longer owns the job (its lease was
        lost). Raises ``TypeError`` for a value JSON cannot carry.
        """
        try:
            encoded = serialization.encode(progress)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"progress cannot be encoded as JSON: {exc}") from None
        return await self._backend.set_progress(self.job_id, self.attempt, self.worker, encoded)
