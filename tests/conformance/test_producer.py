"""Producer API: enqueue, batches, options, snapshots, statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import aqueue
from aqueue import JobStatus
from tests.counting import pending, totals


async def test_enqueue_returns_durable_job_with_snapshot(queue: aqueue.Queue) -> None:
    @queue.task
    async def add(a: int, b: int) -> int:
        return a + b

    job = await add.enqueue(1, b=2)
    info = await queue.get_job(job.id)
    assert info is not None
    assert info.id == job.id and isinstance(job.id, str)
    qualname = "test_enqueue_returns_durable_job_with_snapshot.<locals>.add"
    assert info.task == add.name == f"{__name__}.{qualname}"
    assert info.status == JobStatus.QUEUED
    assert info.status == "queued"  # type: ignore[comparison-overlap]  # a StrEnum
    assert info.args == [1] and info.kwargs == {"b": 2}
    assert info.queue == "default" and info.priority == 0
    assert info.attempts == 0 and info.max_attempts == 3
    assert info.result is None and info.error is None
    assert info.created_at.tzinfo is not None and info.created_at.utcoffset() == timedelta(0)
    assert abs((info.created_at - datetime.now(UTC)).total_seconds()) < 5
    assert info.scheduled_at >= info.created_at - timedelta(milliseconds=1)
    assert info.started_at is None and info.finished_at is None and info.worker is None
    assert (await job.refresh()) == info


async def test_get_job_returns_none_for_unknown_ids(queue: aqueue.Queue) -> None:
    assert await queue.get_job("01a20000-0000-7000-8000-000000000000") is None
    assert await queue.get_job("not-an-id'; DROP TABLE aqueue_jobs; --") is None
    with pytest.raises(aqueue.JobNotFound):
        await queue.job("01a20000-0000-7000-8000-000000000000").refresh()


async def test_enqueue_by_name_without_the_function(queue: aqueue.Queue) -> None:
    job = await queue.enqueue("emails.send", "a@example.com", subject="hi")
    info = await job.refresh()
    assert info.task == "emails.send" and info.args == ["a@example.com"]
    assert info.kwargs == {"subject": "hi"}


async def test_using_sets_job_options_without_touching_kwargs(queue: aqueue.Queue) -> None:
    @queue.task(name="opts", queue="fast", priority=3, max_attempts=7, timeout=9)
    async def opts(priority: int, queue: str) -> None:
        return None

    job = await opts.enqueue(priority=1, queue="kwarg")
    info = await job.refresh()
    assert (info.queue, info.priority, info.max_attempts) == ("fast", 3, 7)
    assert info.kwargs == {"priority": 1, "queue": "kwarg"}
    job = await opts.using(priority=-5, queue="slow", max_attempts=1).enqueue(1, "x")
    info = await job.refresh()
    assert (info.queue, info.priority, info.max_attempts) == ("slow", -5, 1)
    assert opts.options.priority == 3  # using() returned a copy


async def test_delay_and_run_after_use_the_database_clock(queue: aqueue.Queue) -> None:
    @queue.task
    async def later() -> None:
        return None

    delayed = await (await later.using(delay=timedelta(seconds=60)).enqueue()).refresh()
    gap = (delayed.scheduled_at - delayed.created_at).total_seconds()
    assert 59.9 < gap < 60.1
    when = datetime.now(UTC) + timedelta(hours=2)
    at = await (await later.using(run_after=when).enqueue()).refresh()
    assert abs((at.scheduled_at - when).total_seconds()) < 0.001
    with pytest.raises(ValueError, match="timezone-aware"):
        later.using(run_after=datetime.now())
    with pytest.raises(ValueError, match="either delay or run_after"):
        later.using(delay=1, run_after=when)


async def test_batch_enqueue_writes_all_in_one_call(queue: aqueue.Queue) -> None:
    @queue.task
    async def item(n: int) -> int:
        return n

    jobs = await queue.enqueue_many(
        [item.prepare(n) for n in range(500)] + [item.using(queue="other", priority=9).prepare(-1)]
    )
    assert len(jobs) == 501 and len({j.id for j in jobs}) == 501
    assert await pending(queue) == 501
    assert await pending(queue, "other") == 1
    assert await pending(queue, ["default", "other"]) == 501
    info = await jobs[-1].refresh()
    assert (info.queue, info.priority, info.args) == ("other", 9, [-1])
    assert (await jobs[123].refresh()).args == [123]
    assert await queue.enqueue_many([]) == []


async def test_large_batch_is_written_in_parts_all_or_nothing(queue: aqueue.Queue) -> None:
    """Over 2,000 jobs a batch is encoded and inserted in parts, in one transaction."""

    @queue.task
    async def item(n: object) -> None:
        return None

    held = await item.using(unique_key="held").enqueue(-1)
    requests = [item.prepare(n) for n in range(4500)]
    requests[3000] = item.using(unique_key="held").prepare(-2)
    requests.append(item.using(queue="late", priority=5).prepare(4500))
    jobs = await queue.enqueue_many(requests)
    assert len(jobs) == 4501 and jobs[3000].id == held.id
    others = [j.id for j in jobs if j.id != held.id]
    assert len(set(others)) == 4500
    # Ids sort in the order the jobs were given, across parts.
    assert others == sorted(others)
    assert await pending(queue) == 4501
    assert (await jobs[4500].refresh()).queue == "late"
    assert (await jobs[2999].refresh()).args == [2999]

    # A bad argument in the last part: nothing of the batch is written.
    bad = [item.prepare(n) for n in range(4500)] + [item.prepare({1, 2})]
    with pytest.raises(TypeError, match="positional argument 0"):
        await queue.enqueue_many(bad)
    assert await pending(queue) == 4501


async def test_unique_key_returns_the_active_job(queue: aqueue.Queue) -> None:
    @queue.task
    async def once(n: int) -> int:
        return n

    first = await once.using(unique_key="k1").enqueue(1)
    again = await once.using(unique_key="k1").enqueue(2)
    other = await once.using(unique_key="k2").enqueue(3)
    assert again.id == first.id and other.id != first.id
    batch = await queue.enqueue_many(
        [
            once.using(unique_key="k1").prepare(4),
            once.using(unique_key="k3").prepare(5),
            once.using(unique_key="k3").prepare(6),
        ]
    )
    assert batch[0].id == first.id and batch[1].id == batch[2].id
    assert await pending(queue) == 3
    # Once the holder has finished, the key is free again.
    assert await queue.process(10) == 3
    fresh = await once.using(unique_key="k1").enqueue(7)
    assert fresh.id != first.id


async def test_stats_counts_per_queue_and_status(queue: aqueue.Queue) -> None:
    @queue.task
    async def ok() -> None:
        return None

    await ok.enqueue()
    await ok.using(queue="b").enqueue()
    await ok.using(queue="b").enqueue()
    job = await ok.using(queue="b").enqueue()
    assert await job.cancel() == "cancelled"
    assert await totals(queue) == {"default": {"queued": 1}, "b": {"queued": 2, "cancelled": 1}}


async def test_cancel_queued_job_and_result_raises(queue: aqueue.Queue) -> None:
    @queue.task
    async def never() -> None:
        raise AssertionError("a cancelled job must not run")

    job = await never.enqueue()
    assert await job.cancel() == JobStatus.CANCELLED
    with pytest.raises(aqueue.JobCancelled):
        await job.result(timeout=2)
    assert await queue.process(5) == 0
    assert (await job.refresh()).finished_at is not None
    assert await job.cancel() == JobStatus.CANCELLED  # idempotent


async def test_result_times_out(queue: aqueue.Queue) -> None:
    @queue.task
    async def slow() -> None:
        return None

    job = await slow.enqueue()
    with pytest.raises(TimeoutError):
        await job.result(timeout=0.2)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_unique_job_that_finishes_before_the_look_up_is_not_inserted_twice(
    queue: aqueue.Queue,
) -> None:
    """Found by the soak in CI: a worker finished a job between its insert and
    the look-up of its key; the key was free again, and the same row was
    inserted a second time (a primary-key violation)."""
    from typing import Any

    from aqueue.backends.common import insert_resolving_unique_keys
    from aqueue.records import Outcome
    from aqueue.task import new_jobs

    @queue.task(name="quick")
    async def quick() -> None:
        return None

    backend: Any = queue.backend
    rows = new_jobs([quick.using(unique_key="k").prepare()], queue.max_payload_bytes)

    async def insert_then_a_quick_worker(batch: Any) -> None:
        # The race needs a worker between the insert and the holders' read:
        # the backend's own two steps, which no public API separates.
        await backend._insert(batch)
        claimed = await backend.claim_jobs("quick", None, 10, 30)
        await backend.complete_jobs(
            "quick",
            [Outcome(c.id, c.attempts, JobStatus.SUCCEEDED, result="null") for c in claimed],
        )

    # (The holders' read, as the backend's insert calls it.)
    ids = await insert_resolving_unique_keys(rows, insert_then_a_quick_worker, backend._holders)
    assert ids == [rows[0].id]
    assert await totals(queue) == {"default": {"succeeded": 1}}
