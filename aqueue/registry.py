"""A queue's tasks: registered with ``@queue.task``, scheduled with
``@queue.periodic``, found by name for the jobs a worker claims."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, cast, overload

from aqueue import durations
from aqueue.backoff import Backoff
from aqueue.errors import ConfigurationError, UnknownTask
from aqueue.periodic import CatchUp, Schedule
from aqueue.records import TaskLimit
from aqueue.task import (
    DEFAULT_MAX_ATTEMPTS,
    ContextTaskDecorator,
    Isolation,
    JobOptions,
    Task,
    TaskDecorator,
    _checked,
    check_isolation,
    new_jobs,
)

if TYPE_CHECKING:
    from aqueue.queue import Queue

P = ParamSpec("P")
R = TypeVar("R")


def _module_name(fn: Callable[..., Any]) -> str:
    # Run as `python -m pkg.mod`, a module calls itself __main__ while the
    # worker imports it as pkg.mod: name tasks after the importable name.
    module = fn.__module__
    if module == "__main__":
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if spec is not None and spec.name:
            return str(spec.name)
    return module


class TaskRegistry:
    """The tasks and schedules of a :class:`~aqueue.Queue` (its base)."""

    max_payload_bytes: int

    def _as_queue(self) -> Queue:
        # A registry is only ever a Queue's base; its tasks enqueue through it.
        return cast("Queue", self)

    def __init__(self, default_options: JobOptions) -> None:
        #: The options a task of this queue starts from.
        self.default_options = default_options
        self.tasks: dict[str, Task[Any, Any]] = {}
        #: Cron schedules registered with :meth:`periodic`, kept by every worker.
        self.schedules: list[Schedule] = []
        #: Consulted by workers for a job whose task is not registered: returns
        #: the task for that name (registering it), or None. Integrations whose
        #: tasks are found by name (Django's, by module path) set it.
        self.task_resolver: Callable[[str], Task[..., Any] | None] | None = None

    # -- registering tasks ------------------------------------------------------

    @overload
    def task(self, func: Callable[P, Awaitable[R]], /) -> Task[P, R]: ...

    @overload
    def task(self, func: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(
        self,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        takes_context: Literal[False] = False,
        result_ttl: str | float | timedelta | None = None,
        concurrency: int | None = None,
        rate_limit: str | None = None,
        isolation: Isolation = None,
        capture_output: bool | None = None,
    ) -> TaskDecorator: ...

    @overload
    def task(
        self,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        takes_context: Literal[True],
        result_ttl: str | float | timedelta | None = None,
        concurrency: int | None = None,
        rate_limit: str | None = None,
        isolation: Isolation = None,
        capture_output: bool | None = None,
    ) -> ContextTaskDecorator: ...

    def task(  # type: ignore[misc]  # P is bound by the decorated function
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        takes_context: bool = False,
        result_ttl: str | float | timedelta | None = None,
        concurrency: int | None = None,
        rate_limit: str | None = None,
        isolation: Isolation = None,
        capture_output: bool | None = None,
    ) -> Any:
        """Register a function (async, or sync to run in a thread) as a task.

        The name defaults to ``module.qualname``. ``takes_context=True`` passes
        a :class:`JobContext` as the first argument. ``result_ttl`` (``"1h"``,
        seconds or a timedelta) deletes this task's succeeded jobs that long
        after they finish (workers do it, see :mod:`aqueue.retention`).
        ``concurrency=5`` runs at most 5 of its jobs at once and
        ``rate_limit="100/m"`` (``/s``, ``/h``) starts at most 100 in any minute,
        across all workers; ``task.using(limit_key=...)`` applies them per key
        (see :mod:`aqueue.limits`). ``isolation="process"`` runs its jobs in a
        child process of the worker (see :class:`aqueue.Processes`).
        ``capture_output`` keeps what each attempt prints and logs with the job
        (default: for tasks that run in a child process only).
        """
        check_isolation(isolation)  # at the decorator, not at first use
        if capture_output is not None and not isinstance(capture_output, bool):
            raise TypeError(f"capture_output must be True, False or None, not {capture_output!r}")
        ttl = None if result_ttl is None else durations.seconds(result_ttl, "result_ttl")
        # Checked here, so that bad limits fail at the decorator, not at first use.
        limit = TaskLimit.of("", concurrency, rate_limit)

        def register(fn: Callable[..., Any]) -> Task[Any, Any]:
            task_name = name or f"{_module_name(fn)}.{fn.__qualname__}"
            options = _checked(
                self.default_options,
                queue=queue if queue is not None else self.default_options.queue,
                priority=priority,
                max_attempts=max_attempts,
                timeout=timeout,
                limit_key="" if limit is not None else None,
            )
            task: Task[Any, Any] = Task(
                self._as_queue(),
                task_name,
                fn,
                options,
                backoff or Backoff(),
                takes_context,
                ttl,
                None if limit is None else replace(limit, task=task_name),
                isolation,
                capture_output=capture_output,
            )
            if task_name in self.tasks and self.tasks[task_name].func is not fn:
                raise ConfigurationError(f"a different task is already named {task_name!r}")
            self.tasks[task_name] = task
            return task

        return register(func) if func is not None else register

    def periodic(
        self,
        cron: str,
        *,
        timezone: str = "UTC",
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        catch_up: CatchUp = "latest",
        name: str | None = None,
    ) -> Callable[[Any], Any]:
        """Enqueue the task (or function, registered as a task) on a cron schedule.

        Stack it on ``@queue.task(...)`` or put it on a plain function. Every
        worker keeps the schedule and each tick is enqueued once, however many
        run (see :mod:`aqueue.periodic`). ``catch_up`` says what a worker
        starting after missed ticks enqueues: the ``"latest"`` one, ``"all"``
        (at most 100), or none (``"skip"``). ``name`` keys the schedule in the
        database (default: task, cron and timezone).
        """

        def register(target: Any) -> Any:
            task = target if isinstance(target, Task) else self.task(target)
            if task.queue is not self or task.func is None:
                raise ConfigurationError(f"{task.name!r} is not a task of this queue")
            schedule = Schedule(
                task.name, cron, timezone, tuple(args), dict(kwargs or {}), catch_up, name or ""
            )
            if any(s.name == schedule.name for s in self.schedules):
                raise ConfigurationError(f"two schedules are named {schedule.name!r}")
            # Bad arguments fail here, at import, not at the first tick.
            new_jobs([task.prepare(*schedule.args, **schedule.kwargs)], self.max_payload_bytes)
            self.schedules.append(schedule)
            return target

        return register

    def find_task(self, name: str) -> Task[..., Any] | None:
        """The task registered as ``name``, or the one :attr:`task_resolver` finds.

        A resolver that raises — even ``SystemExit`` from code it ran — fails
        the one job that named ``name`` (:class:`UnknownTask`), never the worker.
        """
        found = self.tasks.get(name)
        if found is None and self.task_resolver is not None:
            try:
                found = self.task_resolver(name)
            except (Exception, SystemExit, KeyboardInterrupt) as exc:
                raise UnknownTask(
                    f"finding task {name!r} failed: {type(exc).__name__}: {exc}"
                ) from exc
        return found

    def task_named(self, name: str) -> Task[..., Any]:
        """The registered task ``name``, or a reference to it by name for
        producers that do not import the worker's code."""
        if name in self.tasks:
            return self.tasks[name]
        return Task(self._as_queue(), name, None, self.default_options, Backoff())
