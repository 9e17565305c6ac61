"""The test project's Django tasks: sync with the ORM, async, with context,
failing."""

from __future__ import annotations

import os
from typing import Any

from django.db import connection
from django.tasks import TaskContext, task

from tests.djangoapp.shop.models import Order


@task(queue_name="emails", priority=10)
def send_receipt(order_id: int) -> str:
    order = Order.objects.get(pk=order_id)
    order.receipt_sent = True
    order.save()
    return f"receipt for {order.email}"


@task()
async def add(a: int, b: int) -> int:
    count = await Order.objects.acount()  # the async ORM works in a worker
    return a + b + 0 * count


@task(takes_context=True)
def report(context: TaskContext, label: str) -> dict[str, Any]:
    return {
        "label": label,
        "attempt": context.attempt,
        "id": context.task_result.id,
        "vendor": connection.vendor,
    }


@task()
def explode() -> None:
    raise ValueError("kaboom")


@task()
def whose_pid() -> int:
    """The process the task runs in (a child with --processes)."""
    return os.getpid()
