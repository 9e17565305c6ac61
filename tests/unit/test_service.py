"""The service base (aqueue/service.py): steps on an interval, errors logged
and backed off, start and stop safe to call twice, signals to wait on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aqueue.errors import DatabaseUnavailable
from aqueue.service import Service


class Flaky(Service):
    duty = "do the flaky thing"

    def __init__(self, errors: list[Exception]) -> None:
        super().__init__(0.01, jitter=0.0, max_backoff=0.05, first_after=0.0)
        self.errors = errors
        self.steps = 0

    async def step(self) -> None:
        self.steps += 1
        if self.errors:
            raise self.errors.pop(0)


async def test_errors_are_logged_backed_off_and_then_cleared(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = Flaky([DatabaseUnavailable("down"), DatabaseUnavailable("down"), ValueError("bug")])
    pauses = []
    with caplog.at_level(logging.WARNING, "aqueue.worker"):
        service.start()
        for n in range(1, 4):
            await service.failed.wait(n)
            pauses.append(service.pause())
        await service.stepped.wait()
        await service.stop()
    assert pauses[0] < pauses[1] <= 0.05  # doubling, up to max_backoff
    assert service.failures == 0 and service.pause() == 0.01
    assert isinstance(service.failed.last, ValueError)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines[:2] == [("WARNING", "cannot do the flaky thing: down")] * 2
    assert lines[2][0] == "ERROR" and "do the flaky thing" in lines[2][1]
    assert caplog.records[2].exc_info is not None  # an unexpected error keeps its traceback


async def test_start_and_stop_may_be_called_twice() -> None:
    service = Flaky([])
    await service.stop()  # never started
    first = service.start()
    assert service.start() is first  # one task, however often started
    await service.stepped.wait(2)
    await service.stop()
    await service.stop()
    assert first.cancelled()
    steps = service.steps
    await asyncio.sleep(0.05)  # a stopped service takes no more steps (what is asserted is time)
    assert service.steps == steps
    again = service.start()  # and can be started again
    assert again is not first
    await service.stepped.wait(service.stepped.count + 1)
    await service.stop()


def test_the_pause_is_spread_by_its_jitter() -> None:
    service = Service(10.0, jitter=0.2)
    pauses = {round(service.pause(), 6) for _ in range(50)}
    assert len(pauses) > 1 and all(8.0 <= p <= 12.0 for p in pauses)
