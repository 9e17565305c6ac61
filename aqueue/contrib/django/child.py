"""What each child process of ``manage.py aqueue_worker --processes N`` loads:
Django, set up as ``manage.py`` set it up (its settings module is in the
environment the child inherits), and the queue of the command's backend."""

from __future__ import annotations

import os

from aqueue.queue import Queue

#: The TASKS alias the command serves, for its children.
BACKEND_ENV = "AQUEUE_DJANGO_BACKEND"


def queue() -> Queue:
    """Set Django up in this child and return the backend's queue."""
    import django

    django.setup()
    from django.tasks import task_backends

    from aqueue.contrib.django.backend import AqueueBackend

    backend = task_backends[os.environ.get(BACKEND_ENV, "default")]
    assert isinstance(backend, AqueueBackend)
    backend.project_tasks.roots()  # as the worker: only the project's tasks
    return backend.queue
