"""Chains, groups and chords on each backend: results passed along, read from
storage; a whole graph enqueued at once or not at all; failures cancel the
rest or are passed along; a handle counts, cancels and waits."""

from __future__ import annotations

from typing import Any

import pytest

import aqueue
from aqueue.records import JobFilter
from tests.conformance.isolated import burst, every_task


def arithmetic(queue: aqueue.Queue, ran: list[Any]) -> dict[str, aqueue.Task]:  # type: ignore[type-arg]
    @queue.task(name="add")
    async def add(a: int, b: int = 0) -> int:
        ran.append(("add", a, b))
        return a + b

    @queue.task(name="total")
    def total(values: list[Any], extra: int = 0) -> int:  # a sync link too
        ran.append(("total", values))
        return sum(v if isinstance(v, int) else total(v) for v in values) + extra

    @queue.task(name="boom", max_attempts=1)
    async def boom(*args: Any) -> None:
        ran.append(("boom", args))
        raise RuntimeError("boom broke")

    @queue.task(name="seen")
    async def seen(value: Any) -> str:
        ran.append(("seen", value))
        return repr(value)

    return {"add": add, "total": total, "boom": boom, "seen": seen}


async def test_a_chain_passes_each_result_to_the_next_link(queue: aqueue.Queue) -> None:
    ran: list[Any] = []
    t = arithmetic(queue, ran)
    flow = await queue.enqueue_workflow(
        aqueue.chain(t["add"].prepare(1, 2), t["add"].link(10), t["add"].link(b=100))
    )
    assert await flow.counts() == {"queued": 3}
    await queue.drain()
    assert ran == [("add", 1, 2), ("add", 3, 10), ("add", 13, 100)]
    assert await flow.results(timeout=5) == 113
    assert [job.id for job in flow.jobs] == [flow.jobs[0].id]  # the last link's
    assert await flow.counts() == {"succeeded": 3}


async def test_a_group_gives_its_results_in_order_and_a_chord_passes_them(
    queue: aqueue.Queue,
) -> None:
    ran: list[Any] = []
    t = arithmetic(queue, ran)
    members = [t["add"].prepare(n, n) for n in range(20)]
    group = await queue.enqueue_workflow(aqueue.group(members[:10]))
    chord = await queue.enqueue_workflow(
        aqueue.chord(members[10:], t["total"].using(priority=5).link(extra=1))
    )
    await queue.drain()
    assert await group.results(timeout=5) == [2 * n for n in range(10)]
    assert len(group.jobs) == 10 and await group.counts() == {"succeeded": 10}
    assert await chord.results(timeout=5) == sum(2 * n for n in range(10, 20)) + 1
    # The callback got the list in the members' order, and ran once, last.
    assert ran[-1] == ("total", [2 * n for n in range(10, 20)])
    assert sum(1 for r in ran if r[0] == "total") == 1


async def test_workflows_nest(queue: aqueue.Queue) -> None:
    ran: list[Any] = []
    t = arithmetic(queue, ran)
    add, total = t["add"], t["total"]
    flow = await queue.enqueue_workflow(
        aqueue.chain(
            add.prepare(1, 1),  # 2
            aqueue.group(
                [
                    aqueue.chain(add.link(3), add.link(10)),  # 2+3=5, 15
                    add.link(100),  # 102
                    aqueue.group([add.link(1000), add.link(2000)]),  # 1002, 2002
                ]
            ),
            total.link(),  # 15 + 102 + 1002 + 2002
        )
    )
    inner = await queue.enqueue_workflow(
        aqueue.group([aqueue.chain(add.prepare(1), add.prepare(1)), aqueue.group([add.prepare(5)])])
    )
    await queue.drain()
    assert ("total", [15, 102, [1002, 2002]]) in ran
    assert await flow.results(timeout=5) == 15 + 102 + 1002 + 2002
    assert await inner.results(timeout=5) == [2, [5]]
    assert await flow.counts() == {"succeeded": 7}


async def test_a_handle_is_found_again_by_id(queue: aqueue.Queue) -> None:
    ran: list[Any] = []
    t = arithmetic(queue, ran)
    add = t["add"]
    flows = [
        await queue.enqueue_workflow(
            aqueue.group([aqueue.chain(add.prepare(1), add.prepare(1)), add.prepare(7)])
        ),
        await queue.enqueue_workflow(aqueue.chain(add.prepare(1), add.prepare(2))),
        await queue.enqueue_workflow(
            aqueue.group([add.prepare(1), aqueue.group([add.prepare(2), add.prepare(3)])])
        ),
    ]
    await queue.drain()
    for flow in flows:
        found = await queue.workflow(flow.id)
        assert found.id == flow.id
        assert [j.id for j in found.jobs] == [j.id for j in flow.jobs]
        assert await found.results(timeout=5) == await flow.results(timeout=5)
    with pytest.raises(aqueue.JobNotFound):
        await queue.workflow(flows[0].jobs[0].id)  # a job's id is not a workflow's
    with pytest.raises(ValueError, match="workflow id"):
        await queue.workflow("not an id")


async def test_a_graph_is_enqueued_whole_or_not_at_all(queue: aqueue.Queue) -> None:
    ran: list[Any] = []
    t = arithmetic(queue, ran)
    add = t["add"]
    with pytest.raises(TypeError):
        await queue.enqueue_workflow(
            aqueue.chain(add.prepare(1), aqueue.group([add.prepare(2), add.prepare(object())]))
        )
    with pytest.raises(ValueError, match="unique key"):
        await queue.enqueue_workflow(
            aqueue.group([add.prepare(1), add.using(unique_key="k").prepare(2)])
        )
    with pytest.raises(ValueError, match="delay"):
        await queue.enqueue_workflow(aqueue.chain(add.prepare(1), add.using(delay=5).prepare()))
    with pytest.raises(ValueError, match="at least one"):
        aqueue.group([])
    with pytest.raises(TypeError, match="prepared jobs"):
        aqueue.chain(add.prepare(1), add)  # type: ignore[arg-type]
    same = add.prepare(1)
    add.using(after=[same]).prepare()  # gives it its id
    with pytest.raises(ValueError, match="twice"):
        await queue.enqueue_workflow(aqueue.group([same, same]))
    assert await queue.jobs.list(JobFilter()) == []


async def test_a_failed_link_cancels_the_rest_by_default(queue: aqueue.Queue) -> None:
    ran: list[Any] = []
    t = arithmetic(queue, ran)
    flow = await queue.enqueue_workflow(
        aqueue.chain(t["add"].prepare(1), t["boom"].prepare(), t["add"].link(), t["seen"].link())
    )
    await queue.drain()
    assert [r[0] for r in ran] == ["add", "boom"]
    assert await flow.counts() == {"succeeded": 1, "failed": 1, "cancelled": 2}
    with pytest.raises(aqueue.JobCancelled):
        await flow.results(timeout=5)
    last = await flow.jobs[0].refresh()
    assert last.error is not None and last.error["type"] == "ParentFailed"


async def test_a_link_that_runs_on_failure_gets_the_failure_passed_along(
    queue: aqueue.Queue,
) -> None:
    ran: list[Any] = []
    t = arithmetic(queue, ran)
    flow = await queue.enqueue_workflow(
        aqueue.chord(
            [t["add"].prepare(1), t["boom"].prepare(), t["add"].prepare(2)],
            t["seen"].using(on_parent_failure="run").link(),
        )
    )
    await queue.drain()
    [(_, values)] = [r for r in ran if r[0] == "seen"]
    assert values[0] == 1 and values[2] == 2
    failure = values[1]
    assert isinstance(failure, aqueue.Failure) and failure.status == "failed"
    assert failure.error is not None and failure.error["type"] == "RuntimeError"
    assert failure.job_id == (await queue.jobs.list(JobFilter(tasks=("boom",))))[0].id
    assert "Failure(" in await flow.results(timeout=5)


async def test_cancelling_a_workflow_cancels_its_queued_jobs(queue: aqueue.Queue) -> None:
    ran: list[Any] = []
    t = arithmetic(queue, ran)
    flow = await queue.enqueue_workflow(
        aqueue.chord([t["add"].prepare(n) for n in range(5)], t["total"].link())
    )
    other = await t["add"].enqueue(99)
    assert await flow.cancel() == 6
    assert await flow.counts() == {"cancelled": 6}
    await queue.drain()
    assert ran == [("add", 99, 0)] and await other.result(timeout=5) == 99


async def test_a_link_in_a_child_process_receives_results(app: aqueue.Queue) -> None:
    flow = await app.enqueue_workflow(
        aqueue.chord(
            [app.task_named("double").prepare(n) for n in range(4)],
            app.task_named("summed").link(),
        )
    )
    for _ in range(2):  # members, then the callback they release
        await burst(app, every_task())
    assert await flow.results(timeout=5) == {"sum": 12, "in_child": True}
