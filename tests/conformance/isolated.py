"""What the tests of tasks in child processes share: the app the children
import (``tests/apps/isolated.py``) on the test's database, and a burst worker."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import aqueue
from tests.apps import isolated
from tests.databases import TestDatabase

APP = "tests.apps.isolated:queue"


@pytest.fixture
async def app(database: TestDatabase) -> AsyncIterator[aqueue.Queue]:
    """A queue on the test's database with the tasks the children import."""
    queue = aqueue.Queue(database.dsn)
    for name, task in isolated.queue.tasks.items():
        ours = copy.copy(task)  # the same task, enqueued on this queue
        ours.queue = queue
        queue.tasks[name] = ours
    async with queue:
        yield queue


def every_task(**options: Any) -> aqueue.Processes:
    return aqueue.Processes(APP, **{"size": 2, "every_task": True, **options})


async def burst(queue: aqueue.Queue, processes: aqueue.Processes | None, **kw: Any) -> None:
    worker = aqueue.Worker(queue, processes=processes, burst=True, concurrency=2, **kw)
    await asyncio.wait_for(worker.run(), 60)


def error_of(info: aqueue.JobInfo) -> dict[str, Any]:
    assert info.error is not None
    return info.error if isinstance(info.error, dict) else json.loads(info.error)
