"""``python manage.py aqueue_worker``: run the project's Django tasks."""

from __future__ import annotations

import argparse
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.tasks import task_backends

from aqueue.cli.worker import add_worker_arguments, queue_slot, run_worker
from aqueue.contrib.django.backend import AqueueBackend
from aqueue.contrib.django.child import BACKEND_ENV


def backend_named(alias: str) -> AqueueBackend:
    """The ``TASKS`` backend ``alias``, which must be aqueue's."""
    try:
        backend = task_backends[alias]
    except Exception as exc:
        raise CommandError(f"no task backend {alias!r} in TASKS: {exc}") from None
    if not isinstance(backend, AqueueBackend):
        raise CommandError(
            f"the task backend {alias!r} is a {type(backend).__name__}, not "
            f"aqueue.contrib.django.AqueueBackend"
        )
    return backend


class Command(BaseCommand):
    help = "Run an aqueue worker for the project's Django tasks."
    requires_system_checks: list[str] = []  # checks run in the web processes; a worker just starts

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend", default="default", help="the TASKS alias to serve (default: default)"
        )
        parser.add_argument(
            "--queue",
            action="append",
            dest="queue_names",
            default=None,
            help="a queue to serve, or NAME=N: a queue with N slots of its own "
            "(repeat for more; default: the backend's QUEUES)",
        )
        add_worker_arguments(parser, app=False, queue_option=False)

    def handle(self, *args: Any, **options: Any) -> None:
        backend = backend_named(options["backend"])
        namespace = argparse.Namespace(**options)
        given = options["queue_names"] or []
        if any("=" in name for name in given):
            try:
                namespace.queue_slots = [queue_slot(name) for name in given]
            except argparse.ArgumentTypeError as exc:
                raise CommandError(f"--queue: {exc}") from None
            given = [name for name, _ in namespace.queue_slots]
        names = given or options["queues"] or sorted(backend.queues)
        unknown = sorted(set(names) - backend.queues) if backend.queues else []
        if unknown:
            raise CommandError(f"queue(s) not in the backend's QUEUES: {', '.join(unknown)}")
        # Child processes (--processes, isolation="process") set Django up and
        # load this backend's queue themselves.
        os.environ[BACKEND_ENV] = options["backend"]
        namespace.child_app = "aqueue.contrib.django.child:queue"
        # With slots per queue, the slots name the queues (the worker refuses both).
        namespace.queues = None if namespace.queue_slots else names or None
        # The project's tasks, loaded now: a job naming anything else fails
        # as an unknown task (no module is ever imported because a row names it).
        backend.project_tasks.roots()
        # Django's LOGGING keeps the project's loggers (django.tasks among
        # them); aqueue's own handler only takes aqueue's, so nothing prints twice.
        status = run_worker("manage.py aqueue_worker", namespace, backend.queue, log_root=False)
        if status:
            raise CommandError("the worker could not start", returncode=status)
