"""What a task that asks for it (``takes_context=True``) receives as its first argument."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aqueue import serialization
from aqueue.errors import ConfigurationError

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
    # How many durable sleeps this run has reached: the n-th is step "aqueue:sleep:n".
    _sleeps: list[int] = field(default_factory=lambda: [0], init=False, repr=False, compare=False)

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

    async def step(self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` (a function or a coroutine function) as
        the job's durable step ``name``: once per job, its result stored with
        the job and returned again to any later attempt (see :mod:`aqueue.steps`).

        Raises ``TypeError`` for a result JSON cannot carry, and
        :class:`aqueue.AttemptLost` when this attempt no longer holds the job.
        """
        from aqueue.steps import StepStore, run_step

        store: StepStore | None = getattr(self._backend, "store_step", None) and self._backend  # type: ignore[assignment]
        if store is None:
            raise ConfigurationError("this database keeps no durable steps")
        return await run_step(store, self.job_id, self.attempt, self.worker, name, fn, args, kwargs)

    async def sleep(self, duration: float | str | timedelta) -> None:
        """A durable sleep: the job goes back to the queue, its slot freed, and
        runs again once ``duration`` (seconds, ``"1h"``, a timedelta) has passed,
        getting its finished steps back (see :mod:`aqueue.steps`). The task's
        code before the sleep runs again, so keep its side effects in steps."""
        from aqueue.steps import durable_sleep

        await durable_sleep(self, duration)

    async def wait_for(self, name: str, timeout: float | str | timedelta | None = None) -> Any:
        """The payload of the signal ``name`` sent to this job with
        :meth:`aqueue.Queue.signal`: at once if it was sent already (before the
        wait, too), else the job is parked — back in the queue, its slot freed —
        until it comes. Past ``timeout`` raises ``TimeoutError`` in the task.
        The task's code before the wait runs again: keep side effects in steps
        (see :mod:`aqueue.steps`)."""
        from aqueue.steps import wait_for

        return await wait_for(self, name, timeout)
