"""Running tasks in child processes: the options, and the worker's door to
its pool (:mod:`aqueue._worker.processes`, imported — with
:mod:`multiprocessing` — only once a task runs in a child, so that a worker
that never does stays small)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aqueue._worker.output import Sink
    from aqueue._worker.processes import ProcessPool

#: Writes a child's progress report (encoded JSON); whether the attempt still owns the job.
Progress = Callable[[str], Awaitable[bool]]
#: What a child's durable steps and waits ask of the worker, ``(op, name,
#: value)``: ``get`` a step's stored result, ``put`` one (what is stored comes
#: back; None: the attempt lost the job), or read a ``signal``'s payload. See
#: :mod:`aqueue.steps`.
Step = Callable[[str, str, str | None], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Processes:
    """How a worker runs tasks in child processes.

    ``app`` is the import path of the app's :class:`~aqueue.Queue`
    (``"myapp.tasks:queue"``), which each child imports once; ``aqueue-worker``
    fills it in. ``size`` children at most (default: one per CPU);
    ``every_task`` runs every task in them, else only tasks declared with
    ``isolation="process"``. A child is replaced after ``max_tasks`` jobs, or
    once a job has left it using more than ``max_memory`` bytes. ``setup``
    (``"module:function"``) runs in each child before the app is imported.
    """

    app: str
    size: int | None = None
    every_task: bool = False
    max_tasks: int | None = None
    max_memory: int | None = None
    setup: str | None = None

    def __post_init__(self) -> None:
        if ":" not in self.app:
            raise ValueError(f"app must look like module:attribute, not {self.app!r}")
        for name in ("size", "max_tasks", "max_memory"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")


@dataclass(frozen=True, slots=True)
class Request:
    """One attempt to run, as the child needs it."""

    job_id: str
    task: str
    queue: str
    attempt: int
    max_attempts: int
    worker: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] | None = None
    #: Send what the attempt prints and logs to the worker, line by line.
    capture: bool = False


class Isolated:
    """The worker's child processes, started on first use."""

    def __init__(self, options: Processes) -> None:
        self.options = options
        self.pool: ProcessPool | None = None

    def wants(self, isolation: str | None) -> bool:
        """Whether a task declared with ``isolation`` runs in a child here."""
        return self.options.every_task or isolation == "process"

    async def run(
        self,
        request: Request,
        progress: Progress,
        output: Sink | None = None,
        step: Step | None = None,
    ) -> Any:
        if self.pool is None:
            from aqueue._worker.processes import ProcessPool

            self.pool = ProcessPool(self.options)
        return await self.pool.run(request, progress, output, step)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
