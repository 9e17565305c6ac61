"""The Django app that brings the management commands (``aqueue_worker``,
``aqueue_migrate``)."""

from __future__ import annotations

from django.apps import AppConfig


class AqueueConfig(AppConfig):
    name = "aqueue.contrib.django"
    label = "aqueue"
    verbose_name = "aqueue"
