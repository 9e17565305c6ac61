"""Tags on each backend: stored with the job, found by an index lookup,
acted on as a set, checked at enqueue, deleted with their job."""

from __future__ import annotations

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.records import JobFilter
from tests.raw import raw


def echo_task(queue: aqueue.Queue) -> aqueue.Task:  # type: ignore[type-arg]
    @queue.task(name="echo")
    async def echo(n: int) -> int:
        return n

    return echo


async def test_jobs_are_found_by_tag(queue: aqueue.Queue) -> None:
    echo = echo_task(queue)
    vip = await echo.using(tags=["customer:42", "vip"]).enqueue(1)
    other = await echo.using(tags=["customer:7"]).enqueue(2)
    untagged = await echo.enqueue(3)
    batch = await queue.enqueue_many(
        [echo.using(tags=["vip"]).prepare(n) for n in range(3)] + [echo.prepare(9)]
    )
    info = await vip.refresh()
    assert info.tags == ("customer:42", "vip")
    assert (await untagged.refresh()).tags == ()
    found = await queue.jobs.list(JobFilter(tag="vip"))
    assert [j.id for j in found] == [j.id for j in reversed([vip, *batch[:3]])]  # newest first
    assert [j.id for j in await queue.jobs.list(JobFilter(tag="customer:7"))] == [other.id]
    assert await queue.jobs.list(JobFilter(tag="nobody")) == []
    await queue.process_one()  # vip ran: the oldest due job
    assert [j.id for j in await queue.jobs.list(JobFilter(tag="vip", statuses=("succeeded",)))] == [
        vip.id
    ]
    page = await queue.jobs.list(JobFilter(tag="vip", statuses=("queued",), limit=2))
    assert [j.id for j in page] == [batch[2].id, batch[1].id]
    rest = await queue.jobs.list(JobFilter(tag="vip", statuses=("queued",), before=page[-1].id))
    assert [j.id for j in rest] == [batch[0].id]


async def test_a_tag_is_acted_on_as_a_set(queue: aqueue.Queue) -> None:
    echo = echo_task(queue)
    tagged = [await echo.using(tags=["batch:1"]).enqueue(n) for n in range(3)]
    keep = await echo.enqueue(7)
    assert await queue.jobs.cancel_matching(JobFilter(tag="batch:1")) == 3
    for job in tagged:
        assert await job.status() == JobStatus.CANCELLED
    assert await keep.status() == JobStatus.QUEUED
    assert await queue.jobs.retry_matching(JobFilter(tag="batch:1")) == 3
    assert await queue.drain() == 4


async def test_bad_tags_are_refused_with_a_clear_error(queue: aqueue.Queue) -> None:
    echo = echo_task(queue)
    with pytest.raises(TypeError, match="list of str"):
        echo.using(tags="vip")
    with pytest.raises(ValueError, match="1 to 100"):
        echo.using(tags=[""])
    with pytest.raises(ValueError, match="1 to 100"):
        echo.using(tags=["x" * 101])
    with pytest.raises(ValueError, match="at most 20"):
        echo.using(tags=[f"t{n}" for n in range(21)])
    with pytest.raises(ValueError, match="control"):
        echo.using(tags=["a\x00b"])
    with pytest.raises(ValueError, match="aqueue's own"):
        echo.using(tags=["aqueue:group:x"])
    with pytest.raises(ValueError, match="tag to find"):
        await queue.jobs.list(JobFilter(tag=""))
    # Repeats are kept once; the values reach SQL as parameters.
    hostile = "x'); DROP TABLE aqueue_jobs; --"
    job = await echo.using(tags=["a", "a", hostile, "ünïcode ✓"]).enqueue(1)
    assert (await job.refresh()).tags == ("a", hostile, "ünïcode ✓")
    assert [j.id for j in await queue.jobs.list(JobFilter(tag=hostile))] == [job.id]


async def test_tags_go_with_their_job(queue: aqueue.Queue) -> None:
    echo = echo_task(queue)
    job = await echo.using(tags=["gone"]).enqueue(1)
    same = await echo.using(tags=["other"], unique_key="k").enqueue(1)
    taken = await echo.using(tags=["late"], unique_key="k").enqueue(2)  # the key is taken
    assert taken.id == same.id
    assert await queue.jobs.list(JobFilter(tag="late")) == []
    assert await queue.backend.tag_counts("gone") == {"queued": 1}  # type: ignore[attr-defined]
    assert await queue.jobs.delete(job.id) == JobStatus.QUEUED
    assert await queue.backend.tag_counts("gone") == {}  # type: ignore[attr-defined]
    assert await queue.jobs.list(JobFilter(tag="gone")) == []
    async with raw(queue) as db:  # the rows themselves, not only the join, are gone
        assert await db.value("SELECT count(*) FROM aqueue_job_tags") == 1  # "other"
