"""Periodic jobs on each backend: each tick enqueued once however many
schedulers race, restarts do not double a tick, missed ticks per policy, and
the task's context reads its tick."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import aqueue
from aqueue.backends.base import Schedules
from aqueue.errors import ConfigurationError
from aqueue.periodic import Scheduler
from aqueue.records import JobFilter
from tests.databases import TestDatabase

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def app(
    dsn: str, catch_up: str = "latest", cron: str = "* * * * *"
) -> tuple[aqueue.Queue, list[datetime | None]]:
    queue = aqueue.Queue(dsn)
    seen: list[datetime | None] = []

    @queue.periodic(cron, catch_up=catch_up, kwargs={"label": "minutely"}, name="report")  # type: ignore[arg-type]
    @queue.task(name="report", takes_context=True)
    async def report(ctx: aqueue.JobContext, label: str) -> str:
        seen.append(ctx.periodic_tick)
        return label

    return queue, seen


async def jobs_of(queue: aqueue.Queue) -> list[aqueue.JobInfo]:
    return await queue.jobs.list(JobFilter(tasks=("report",), limit=1000))


async def test_racing_schedulers_enqueue_each_tick_once(database: TestDatabase) -> None:
    queues = [app(database.dsn)[0] for _ in range(5)]
    for q in queues:
        await q.open()
    try:
        schedulers = [Scheduler.of(q) for q in queues]
        # First start: the schedule begins now, no past tick runs.
        assert (
            sum(await asyncio.gather(*(s.tick(T0 + timedelta(seconds=5)) for s in schedulers))) == 0
        )
        for minute in range(1, 4):
            now = T0 + timedelta(minutes=minute, seconds=1)
            written = await asyncio.gather(*(s.tick(now) for s in schedulers))
            assert sum(written) == 1, written
        found = await jobs_of(queues[0])
        ticks = sorted(j.scheduled_at for j in found)
        assert ticks == [T0 + timedelta(minutes=m) for m in range(1, 4)]
        assert all(j.kwargs == {"label": "minutely"} for j in found)
        # A restarted worker (a new scheduler, mid-minute) does not double it.
        again = Scheduler.of(queues[0])
        assert await again.tick(T0 + timedelta(minutes=3, seconds=30)) == 0
        assert len(await jobs_of(queues[0])) == 3
    finally:
        for q in queues:
            await q.close()


@pytest.mark.parametrize(("policy", "expected"), [("latest", 1), ("all", 10), ("skip", 0)])
async def test_ticks_missed_while_no_worker_ran(
    database: TestDatabase, policy: str, expected: int
) -> None:
    queue, _ = app(database.dsn, policy, cron="*/5 * * * *")
    async with queue:
        first = Scheduler.of(queue)
        await first.tick(T0 + timedelta(seconds=1))
        # No worker for 50 minutes (ten ticks); one starts 90 s after the latest.
        later = Scheduler.of(queue)
        assert await later.tick(T0 + timedelta(minutes=50, seconds=90)) == expected
        assert await later.tick(T0 + timedelta(minutes=50, seconds=95)) == 0
        assert len(await jobs_of(queue)) == expected


async def test_the_task_reads_its_tick_on_every_attempt(database: TestDatabase) -> None:
    queue, seen = app(database.dsn)
    async with queue:
        scheduler = Scheduler.of(queue)
        await scheduler.tick(T0)
        await scheduler.tick(T0 + timedelta(minutes=1, seconds=2))
        [job] = await jobs_of(queue)
        assert await queue.process(1) == 1
        assert seen == [T0 + timedelta(minutes=1)]
        assert (await queue.get_job(job.id)).meta == {  # type: ignore[union-attr]
            "periodic": {"schedule": "report", "tick": (T0 + timedelta(minutes=1)).isoformat()}
        }


async def test_last_ticks_and_compare_and_set(queue: aqueue.Queue) -> None:
    backend = queue.backend
    assert isinstance(backend, Schedules)
    assert await backend.advance_tick("s", None, T0, []) == []
    assert await backend.advance_tick("s", None, T0, []) is None  # already started
    assert await backend.advance_tick("s", T0 - timedelta(minutes=1), T0, []) is None
    assert await backend.advance_tick("s", T0, T0 + timedelta(minutes=1), []) == []
    assert (await backend.last_ticks())["s"] == T0 + timedelta(minutes=1)


def test_bad_periodic_registrations_fail_at_import(database: TestDatabase) -> None:
    queue = aqueue.Queue(database.dsn)
    other = aqueue.Queue(database.dsn)

    @other.task(name="elsewhere")
    async def elsewhere() -> None:
        return None

    with pytest.raises(ConfigurationError, match="not a task of this queue"):
        queue.periodic("* * * * *")(elsewhere)
    with pytest.raises(TypeError):

        @queue.periodic("* * * * *", args=({1, 2},))
        async def unstorable(value: Any) -> None:
            return None

    with pytest.raises(ConfigurationError, match="invalid cron"):
        queue.periodic("nope")(lambda: None)

    @queue.periodic("0 * * * *")
    async def hourly() -> None:  # a plain function becomes a task
        return None

    assert [s.task for s in queue.schedules] == [
        f"{__name__}.test_bad_periodic_registrations_fail_at_import.<locals>.hourly"
    ]
    with pytest.raises(ConfigurationError, match="two schedules"):
        queue.periodic("0 * * * *")(hourly)
