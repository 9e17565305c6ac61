"""Jobs enqueued after other jobs, on each backend: released by their parents'
ends in the same transaction, cancelled (with their own children) when a parent
fails for good or is cancelled, unless they run on failure."""

from __future__ import annotations

import pytest

import aqueue
from aqueue import JobStatus
from aqueue.records import WAITING_UNTIL, JobFilter
from tests.counting import pending

NO_RETRY = aqueue.Backoff(base=0, jitter=0)


def tasks(queue: aqueue.Queue, ran: list[str]) -> tuple[aqueue.Task, aqueue.Task]:  # type: ignore[type-arg]
    @queue.task(name="step")
    async def step(name: str) -> str:
        ran.append(name)
        return name

    @queue.task(name="boom", max_attempts=1)
    async def boom(name: str) -> None:
        ran.append(name)
        raise RuntimeError(f"{name} broke")

    return step, boom


async def status(queue: aqueue.Queue, job: aqueue.Job) -> JobStatus:  # type: ignore[type-arg]
    info = await job.refresh()
    return info.status


async def test_a_child_waits_for_its_parents_then_runs(queue: aqueue.Queue) -> None:
    ran: list[str] = []
    step, _ = tasks(queue, ran)
    a = await step.enqueue("a")
    b = await step.enqueue("b")
    c = await step.using(after=[a, b.id]).enqueue("c")
    info = await queue.get_job(c.id)
    assert info is not None
    assert (info.status, info.waiting, info.scheduled_at) == (JobStatus.QUEUED, 2, WAITING_UNTIL)
    assert set(info.depends_on) == {a.id, b.id} and set(info.waiting_for) == {a.id, b.id}
    assert await pending(queue) == 3
    await queue.process(10)
    assert ran[:2] == ["a", "b"] and ran[2:] == ["c"]
    info = await queue.get_job(c.id)
    assert info is not None and info.status == JobStatus.SUCCEEDED
    assert (info.waiting, info.waiting_for) == (0, ())


async def test_a_batch_names_its_own_earlier_jobs(queue: aqueue.Queue) -> None:
    ran: list[str] = []
    step, _ = tasks(queue, ran)
    first = step.prepare("first")
    second = step.using(after=[first]).prepare("second")
    third = step.using(after=[first, second]).prepare("third")
    jobs = await queue.enqueue_many([first, second, third])
    info = await queue.get_job(jobs[2].id)
    assert info is not None and set(info.depends_on) == {jobs[0].id, jobs[1].id}
    await queue.process(10)
    assert ran == ["first", "second", "third"]


async def test_a_parent_request_may_be_written_in_another_batch_or_after_its_child(
    queue: aqueue.Queue,
) -> None:
    ran: list[str] = []
    step, _ = tasks(queue, ran)
    parent = step.prepare("parent")
    child = step.using(after=[parent]).prepare("child")
    other_child = step.using(after=[parent]).prepare("other")
    [child_job, parent_job] = await queue.enqueue_many([child, parent])  # child first
    await queue.enqueue_many([other_child])
    assert parent_job.id == parent.job_id
    await queue.process(10)
    assert ran[0] == "parent" and sorted(ran[1:]) == ["child", "other"]
    assert (await child_job.refresh()).status == JobStatus.SUCCEEDED


async def test_dependencies_survive_enqueue_middleware_that_copies_requests(
    queue: aqueue.Queue,
) -> None:
    """Regression: tracing's enqueue middleware copied each request, and the
    copy lost the id a child held for it."""
    from aqueue.tracing import instrument

    instrument(queue)
    ran: list[str] = []
    step, _ = tasks(queue, ran)
    first = step.prepare("first")
    await queue.enqueue_many([first, step.using(after=[first]).prepare("second")])
    await queue.process(10)
    assert ran == ["first", "second"]


async def test_a_failed_parent_cancels_the_children_and_theirs(queue: aqueue.Queue) -> None:
    ran: list[str] = []
    step, boom = tasks(queue, ran)
    parent = await boom.enqueue("parent")
    child = await step.using(after=[parent]).enqueue("child")
    grandchild = await step.using(after=[child]).enqueue("grandchild")
    runs_anyway = await step.using(after=[parent], on_parent_failure="run").enqueue("anyway")
    await queue.process(10)
    assert ran == ["parent", "anyway"]
    for job, named in ((child, parent), (grandchild, child)):
        info = await job.refresh()
        assert info.status == JobStatus.CANCELLED
        assert info.error is not None and info.error["type"] == "ParentFailed"
        assert named.id in info.error["message"]
    assert await status(queue, runs_anyway) == JobStatus.SUCCEEDED
    with pytest.raises(aqueue.JobCancelled):
        await grandchild.result(timeout=5)


async def test_a_failed_parent_cancels_hundreds_of_children(queue: aqueue.Queue) -> None:
    """Regression: on PostgreSQL the children a failure cancelled were announced
    in one notification; past ~215 ids it passed 8,000 bytes and failed the
    parent's outcome write (and every retry of it), so nothing moved."""
    ran: list[str] = []
    step, boom = tasks(queue, ran)
    parent = await boom.enqueue("parent")
    children = await queue.enqueue_many(
        [step.using(after=[parent]).prepare(f"child {n}") for n in range(300)]
    )
    assert await queue.process(10) == 1
    assert ran == ["parent"]
    assert await status(queue, parent) == JobStatus.FAILED
    for child in (children[0], children[-1]):
        assert await status(queue, child) == JobStatus.CANCELLED


async def test_cancelling_a_parent_by_hand_cancels_its_children(queue: aqueue.Queue) -> None:
    ran: list[str] = []
    step, _ = tasks(queue, ran)
    parent = await step.enqueue("parent")
    child = await step.using(after=[parent]).enqueue("child")
    assert await queue.jobs.cancel(parent.id) == JobStatus.CANCELLED
    assert await status(queue, child) == JobStatus.CANCELLED
    assert await queue.process(10) == 0


async def test_parents_that_ended_before_the_child_apply_at_once(queue: aqueue.Queue) -> None:
    ran: list[str] = []
    step, boom = tasks(queue, ran)
    done = await step.enqueue("done")
    broke = await boom.enqueue("broke")
    await queue.process(2)
    due = await step.using(after=[done]).enqueue("due")
    info = await due.refresh()
    assert info.status == JobStatus.QUEUED and info.waiting == 0
    assert info.scheduled_at < WAITING_UNTIL
    doomed = await step.using(after=[done, broke]).enqueue("doomed")
    assert await status(queue, doomed) == JobStatus.CANCELLED
    await queue.process(10)
    assert ran[2:] == ["due"]


async def test_bad_parents_are_refused_and_nothing_is_written(queue: aqueue.Queue) -> None:
    ran: list[str] = []
    step, _ = tasks(queue, ran)
    with pytest.raises(ValueError, match="does not exist"):
        await step.using(after=["01a20b2c-d5d9-7348-97cf-d682ba264d54"]).enqueue("x")
    with pytest.raises(ValueError, match="does not exist"):
        await step.using(after=["not-a-job-id"]).enqueue("x")
    never = step.prepare("never enqueued")
    with pytest.raises(ValueError, match="does not exist"):
        await queue.enqueue_many([step.using(after=[never]).prepare("orphan")])
    with pytest.raises(ValueError, match="delay and run_after"):
        step.using(after=["x"], delay=5)
    with pytest.raises(ValueError, match="on_parent_failure"):
        step.using(after=["x"], on_parent_failure="ignore")  # type: ignore[arg-type]
    assert await queue.jobs.list(JobFilter(limit=10)) == []
