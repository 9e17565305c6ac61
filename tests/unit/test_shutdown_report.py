"""A stop that takes long says what holds it: what each task waits in."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aqueue._worker import shutdown
from aqueue._worker.shutdown import Stopping, waiting_in


class Caught(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.arrived.set()


async def stuck_in_a_step(blocker: asyncio.Event) -> None:
    await blocker.wait()


async def test_a_slow_stop_logs_what_each_task_waits_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutdown, "REPORT_AFTER", 0.01)
    caught = Caught()
    logger = logging.getLogger("aqueue.worker")
    logger.addHandler(caught)
    blocker = asyncio.Event()
    task = asyncio.create_task(stuck_in_a_step(blocker), name="a-step")
    stopping = Stopping(30.0)
    try:
        stopping.request()
        await asyncio.wait_for(caught.arrived.wait(), 5)
    finally:
        stopping.over()
        logger.removeHandler(caught)
        blocker.set()
        await task
    [message] = caught.messages
    assert message.startswith("still stopping after 0s; waiting in: ")
    assert "a-step: stuck_in_a_step (test_shutdown_report.py:26) > wait (locks.py:" in message


async def test_where_a_task_waits_reads_the_chain_of_awaits() -> None:
    blocker = asyncio.Event()
    task = asyncio.create_task(stuck_in_a_step(blocker))
    await asyncio.sleep(0)  # it runs up to its first await
    assert waiting_in(task).startswith("stuck_in_a_step (test_shutdown_report.py:26) > wait (")
    blocker.set()
    await task
