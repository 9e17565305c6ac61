"""aqueue for Django 6's task framework (``django.tasks``).

Settings::

    INSTALLED_APPS = [..., "aqueue.contrib.django"]
    TASKS = {"default": {"BACKEND": "aqueue.contrib.django.AqueueBackend",
                         "QUEUES": ["default", "emails"]}}

Then ``python manage.py aqueue_migrate`` once and ``python manage.py
aqueue_worker`` beside the web processes. See docs/django.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AqueueBackend"]


def __getattr__(name: str) -> Any:
    # Lazily, so that INSTALLED_APPS can name this package before Django's
    # apps are ready (the backend module imports django.tasks).
    if name == "AqueueBackend":
        from aqueue.contrib.django.backend import AqueueBackend

        return AqueueBackend
    raise AttributeError(name)
