"""``AqueueBackend``: Django's task backend API on aqueue.

Enqueue writes the job on **Django's own connection** when aqueue uses the
project's database (the default), so a job enqueued inside
``transaction.atomic()`` commits or rolls back with the data around it.
Results are read, and jobs run, through aqueue's own connections.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.tasks import Task as DjangoTask
from django.tasks import TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTaskBackend, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone

from aqueue.backends.base import CallerConnection
from aqueue.contrib.django.dsn import dsn_from_django
from aqueue.contrib.django.registry import ProjectTasks
from aqueue.contrib.django.results import task_result
from aqueue.contrib.django.runner import resolver
from aqueue.errors import ConfigurationError
from aqueue.job import Job
from aqueue.queue import Queue
from aqueue.sync import Here
from aqueue.task import DEFAULT_MAX_ATTEMPTS, JobRequest
from aqueue.triggers import TriggerAuth

_OPTIONS = {
    "dsn",
    "database",
    "max_attempts",
    "timeout",
    "pool_size",
    "task_modules",
    "trigger_token",
    "trigger_allow_unauthenticated",
}


class AqueueBackend(BaseTaskBackend):
    """Django tasks stored and run by aqueue.

    ``OPTIONS``: ``database`` (the ``DATABASES`` alias to use, ``"default"``),
    or ``dsn`` (an aqueue DSN of another database: enqueue then writes on
    aqueue's connections, outside Django's transactions); ``max_attempts``
    (3: a task that raises is retried with back-off, then FAILED; 1 for
    Django's run-once behaviour), ``timeout`` (seconds an attempt may run),
    ``pool_size``; ``task_modules`` (modules holding tasks besides each
    installed app's ``tasks`` module: a job may only name a task of these);
    ``trigger_token`` (and ``trigger_allow_unauthenticated``)
    for the HTTP trigger views of :mod:`aqueue.contrib.django.views`.
    """

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        unknown = sorted(set(self.options) - _OPTIONS)
        if unknown:
            raise InvalidTaskBackend(
                f"unknown OPTIONS for the aqueue backend {alias!r}: "
                f"{', '.join(unknown)} (known: {', '.join(sorted(_OPTIONS))})"
            )
        self.database: str = self.options.get("database", "default")
        self.dsn: str | None = self.options.get("dsn")
        max_attempts = self.options.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
        if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
            raise InvalidTaskBackend("OPTIONS['max_attempts'] must be a whole number >= 1")
        self.max_attempts = max_attempts
        self.timeout: float | None = self.options.get("timeout")
        modules = self.options.get("task_modules", [])
        if not isinstance(modules, list | tuple) or not all(isinstance(m, str) for m in modules):
            raise InvalidTaskBackend("OPTIONS['task_modules'] must be a list of module paths")
        #: The tasks a job may name: the project's own (see registry.py).
        self.project_tasks = ProjectTasks(modules)
        self._queue: Queue | None = None
        self._lock = threading.Lock()
        try:
            self.trigger_auth = TriggerAuth(
                self.options.get("trigger_token"),
                bool(self.options.get("trigger_allow_unauthenticated")),
            )
        except ValueError as exc:
            raise InvalidTaskBackend(f"OPTIONS['trigger_token']: {exc}") from None

    # -- the aqueue side -----------------------------------------------------------

    @property
    def on_django_connection(self) -> bool:
        """Whether enqueue writes on Django's connection (the project's database)."""
        return self.dsn is None

    @property
    def queue(self) -> Queue:
        """The aqueue queue behind this backend (Django tasks found by module path)."""
        with self._lock:
            if self._queue is None:
                try:
                    dsn = self.dsn or dsn_from_django(settings.DATABASES[self.database])
                except KeyError:
                    raise InvalidTaskBackend(
                        f"OPTIONS['database'] names {self.database!r}, which is not in DATABASES"
                    ) from None
                except ConfigurationError as exc:
                    raise InvalidTaskBackend(str(exc)) from None
                queue = Queue(dsn, pool_size=int(self.options.get("pool_size", 10)))
                queue.task_resolver = resolver(queue, self)
                self._queue = queue
            return self._queue

    def _request(self, task: DjangoTask, args: Any, kwargs: Any) -> JobRequest:
        ref = self.queue.task_named(task.module_path).using(
            queue=task.queue_name,
            priority=task.priority,
            run_after=task.run_after,
            max_attempts=self.max_attempts,
            timeout=self.timeout,
        )
        return ref.prepare(*args, **kwargs)

    # -- Django's API ----------------------------------------------------------------

    def enqueue(self, task: DjangoTask, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        request = self._request(task, tuple(args), dict(kwargs))
        if self.on_django_connection:
            # Through the queue's own enqueue — its middleware (tracing) and
            # checks included — on Django's connection, inside its transaction.
            # The enqueue runs on the sync bridge's loop; the connection is used
            # on this thread only (it is this thread's, and Django refuses it
            # where an event loop runs). What waits for the commit is handed to
            # Django once the enqueue is done.
            after_commit: list[Callable[[], None]] = []

            def enqueue(queue: Queue, here: Here) -> Awaitable[list[Job[Any]]]:
                def with_cursor(fn: Callable[[Any], Any]) -> Awaitable[Any]:
                    return here(lambda: self._with_cursor(fn))

                door = CallerConnection(run=with_cursor, on_commit=after_commit.append)
                return queue.enqueue_many([request], connection=door)

            [job] = self.queue.sync_bridge().call_here(enqueue)
            for fn in after_commit:
                transaction.on_commit(fn, using=self.database)
            job_id = job.id
        else:
            [job] = self.queue.sync_bridge().call(lambda q: q.enqueue_many([request]))
            job_id = job.id
        result = TaskResult(
            task=task,
            id=job_id,
            status=TaskResultStatus.READY,
            enqueued_at=timezone.now(),
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=list(args),
            kwargs=dict(kwargs),
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        task_enqueued.send(type(self), task_result=result)
        return result

    def _with_cursor(self, fn: Callable[[Any], Any]) -> Any:
        with connections[self.database].cursor() as cursor:
            return fn(cursor)

    def get_result(self, result_id: str) -> TaskResult:
        try:
            info = self.queue.sync_bridge().call(lambda q: q.get_job(str(result_id)))
        except ValueError:  # not an id at all
            info = None
        if info is None:
            raise TaskResultDoesNotExist(result_id)
        return task_result(info, self)
