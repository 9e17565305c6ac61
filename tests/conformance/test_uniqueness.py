"""Unique keys held for a period, past a job's end, or replaced (debounce), on
each backend; producers racing for one key get one job."""

from __future__ import annotations

import asyncio

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.records import JobFilter
from tests.raw import raw

BACKDATE = {
    "postgresql": "UPDATE aqueue_unique_keys SET created_at = created_at - interval '2 hours'",
    "mysql": "UPDATE aqueue_unique_keys SET created_at = created_at - INTERVAL 2 HOUR",
    "sqlite": "UPDATE aqueue_unique_keys SET created_at = created_at - 7200",
}


def tasks(queue: aqueue.Queue) -> tuple[aqueue.Task, aqueue.Task]:  # type: ignore[type-arg]
    @queue.task(name="digest")
    async def digest(n: int) -> int:
        return n

    @queue.task(name="fails", max_attempts=1)
    async def fails(n: int) -> None:
        raise RuntimeError("no")

    return digest, fails


async def _backdate(queue: aqueue.Queue) -> None:
    async with raw(queue) as db:
        await db.execute(BACKDATE[queue.dialect])


async def test_a_key_is_held_for_its_period_through_success(queue: aqueue.Queue) -> None:
    digest, _ = tasks(queue)
    hourly = digest.using(unique_key="digest:7", unique_for="1h")
    first = await hourly.enqueue(1)
    assert await queue.drain() == 1
    assert (await first.refresh()).status == JobStatus.SUCCEEDED
    again = await hourly.enqueue(2)  # succeeded within the hour: still held
    assert again.id == first.id
    assert len(await queue.jobs.list(JobFilter(tasks=("digest",)))) == 1
    await _backdate(queue)  # the hour has passed
    later = await hourly.enqueue(3)
    assert later.id != first.id
    assert await later.status() == JobStatus.QUEUED
    # A plain key knows nothing of the period: it is held only while active.
    assert (await digest.using(unique_key="digest:7").enqueue(4)).id == later.id


async def test_a_failed_holder_frees_its_key(queue: aqueue.Queue) -> None:
    _, fails = tasks(queue)
    keyed = fails.using(unique_key="f", unique_for=3600)
    first = await keyed.enqueue(1)
    await queue.drain()
    assert await first.status() == JobStatus.FAILED
    second = await keyed.enqueue(2)
    assert second.id != first.id
    # Unless failed is one of the states that hold it.
    held = fails.using(unique_key="g", unique_states=["queued", "running", "failed"])
    third = await held.enqueue(3)
    await queue.drain()
    assert (await held.enqueue(4)).id == third.id
    # Deleting the holder frees the key (its row goes with it).
    assert await queue.jobs.delete(third.id) == JobStatus.FAILED
    assert (await held.enqueue(5)).id != third.id


async def test_replace_debounces_a_queued_job(queue: aqueue.Queue) -> None:
    digest, _ = tasks(queue)
    debounced = digest.using(unique_key="reindex:9", on_conflict="replace", tags=["ix"])
    first = await debounced.using(delay=60).enqueue(1)
    before = await first.refresh()
    second = await debounced.using(delay=600, priority=5).enqueue(2)
    assert second.id == first.id
    after = await first.refresh()
    assert after.args == [2] and after.priority == 5
    assert after.scheduled_at > before.scheduled_at
    assert after.tags == ("ix",)
    assert [j.id for j in await queue.jobs.list(JobFilter(tag="ix"))] == [first.id]
    # keep (the default) leaves the holder as it was.
    kept = await digest.using(unique_key="reindex:9", unique_for=60).enqueue(3)
    assert kept.id == first.id and (await first.refresh()).args == [2]


async def test_replace_leaves_a_running_holder_alone(queue: aqueue.Queue) -> None:
    digest, _ = tasks(queue)
    job = await digest.using(unique_key="r", on_conflict="replace").enqueue(1)
    [claimed] = await queue.backend.claim_jobs("w:1:abc", None, 1, 60)
    assert claimed.id == job.id
    again = await digest.using(unique_key="r", on_conflict="replace").enqueue(2)
    assert again.id == job.id and (await job.refresh()).args == [1]


async def test_racing_producers_get_one_job(queue: aqueue.Queue) -> None:
    digest, _ = tasks(queue)
    keyed = digest.using(unique_key="race", unique_for="1h")
    others = [aqueue.Queue(queue.dsn) for _ in range(3)]
    for other in others:
        await other.open()
    try:
        calls = [keyed.enqueue(n) for n in range(10)]
        calls += [
            other.task_named("digest").using(unique_key="race", unique_for="1h").enqueue(n)
            for n, other in enumerate(others)
        ]
        jobs = await asyncio.gather(*calls)
    finally:
        for other in others:
            await other.close()
    assert len({job.id for job in jobs}) == 1
    assert len(await queue.jobs.list(JobFilter(tasks=("digest",)))) == 1


async def test_unique_rules_are_checked_and_cost_plain_jobs_nothing(queue: aqueue.Queue) -> None:
    digest, _ = tasks(queue)
    with pytest.raises(ValueError, match="give one"):
        digest.using(unique_for="1h")
    with pytest.raises(ValueError, match="must include 'queued' and 'running'"):
        digest.using(unique_key="k", unique_states=["succeeded"])
    with pytest.raises(ValueError, match="unknown status"):
        digest.using(unique_key="k", unique_states=["queued", "running", "done"])
    with pytest.raises(ValueError, match="positive duration"):
        digest.using(unique_key="k", unique_for=0)
    with pytest.raises(ValueError, match="on_conflict"):
        digest.using(unique_key="k", on_conflict="merge")  # type: ignore[arg-type]
    parent = await digest.enqueue(0)
    with pytest.raises(ValueError, match="after="):
        await digest.using(unique_key="k", unique_for=60, after=[parent]).enqueue(1)
    with pytest.raises(TypeError):  # a bad argument: nothing of the call is written
        await queue.enqueue_many(
            [
                digest.using(unique_key="a", unique_for=60).prepare(1),
                digest.prepare(2),
                digest.using(unique_key="b", unique_for=60).prepare(object()),
            ]
        )
    assert len(await queue.jobs.list(JobFilter())) == 1
    await digest.using(unique_key="plain").enqueue(1)
    async with raw(queue) as db:
        assert await db.value("SELECT count(*) FROM aqueue_unique_keys") == 0
    mixed = await queue.enqueue_many(
        [
            digest.prepare(1),
            digest.using(unique_key="m", unique_for=60).prepare(2),
            digest.using(unique_key="m", unique_for=60).prepare(3),
        ]
    )
    assert mixed[1].id == mixed[2].id != mixed[0].id
