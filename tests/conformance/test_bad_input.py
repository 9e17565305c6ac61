"""Bad input gets a clear error and writes nothing (SPEC §5.5)."""

from __future__ import annotations

import pytest

import aqueue
from tests.counting import pending, totals


async def test_non_json_argument_names_the_argument(queue: aqueue.Queue) -> None:
    @queue.task(name="t")
    async def t(*args: object, **kwargs: object) -> None:
        return None

    with pytest.raises(TypeError, match=r"positional argument 1 of task 't' \(a set\)"):
        await t.enqueue(1, {1, 2})
    with pytest.raises(TypeError, match=r"keyword argument 'when' of task 't' \(a object\)"):
        await t.enqueue(when=object())
    with pytest.raises(TypeError, match="keyword argument 'x'"):
        await t.enqueue(x=float("nan"))
    assert await pending(queue) == 0


async def test_one_bad_job_in_a_batch_writes_nothing(queue: aqueue.Queue) -> None:
    @queue.task(name="t")
    async def t(x: object) -> None:
        return None

    with pytest.raises(TypeError):
        await queue.enqueue_many([t.prepare(1), t.prepare(b"bytes"), t.prepare(3)])
    assert await pending(queue) == 0


async def test_oversized_payload_is_refused(database: object) -> None:
    from tests.databases import TestDatabase

    assert isinstance(database, TestDatabase)
    q = aqueue.Queue(database.dsn, max_payload_bytes=1000)
    async with q:

        @q.task(name="big")
        async def big(data: str) -> None:
            return None

        with pytest.raises(aqueue.PayloadTooLarge, match="over the limit of 1000"):
            await big.enqueue("x" * 1000)
        await big.enqueue("x" * 900)
        assert await pending(q) == 1


@pytest.mark.parametrize(
    "name",
    [
        "q'; DROP TABLE aqueue_jobs; --",
        'quote"s and `ticks` and \\ backslash',
        "файлы ✓ 队列 🚀",
        "semi;colon",
    ],
)
async def test_hostile_names_round_trip(queue: aqueue.Queue, name: str) -> None:
    @queue.task(name=name, queue=name)
    async def odd(x: str) -> str:
        return x

    job = await odd.using(unique_key=name).enqueue(name)
    info = await job.refresh()
    assert (info.task, info.queue, info.args, info.unique_key) == (name, name, [name], name)
    assert await pending(queue, name) == 1
    assert await totals(queue) == {name: {"queued": 1}}
    assert await queue.process(1, queues=[name]) == 1
    assert await job.result(timeout=5) == name


async def test_invalid_options_are_refused(queue: aqueue.Queue) -> None:
    @queue.task
    async def t() -> None:
        return None

    with pytest.raises(ValueError, match="priority must be between -100 and 100"):
        t.using(priority=101)
    with pytest.raises(TypeError, match="priority must be an int"):
        t.using(priority="high")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="queue name must have 1 to 200"):
        t.using(queue="")
    with pytest.raises(ValueError, match="control characters"):
        t.using(queue="a\x00b")
    with pytest.raises(ValueError, match="delay"):
        t.using(delay=-1)
    with pytest.raises(ValueError, match="max_attempts"):
        t.using(max_attempts=0)
    with pytest.raises(ValueError, match="timeout"):
        t.using(timeout=0)
    with pytest.raises(TypeError):
        t.using(colour="red")  # type: ignore[call-arg]
    assert await pending(queue) == 0


def test_malformed_dsns_are_refused_without_the_password() -> None:
    with pytest.raises(aqueue.ConfigurationError) as excinfo:
        aqueue.Queue("redis://user:hunter2@host/0")
    assert "hunter2" not in str(excinfo.value) and "postgresql://" in str(excinfo.value)
    with pytest.raises(aqueue.ConfigurationError) as excinfo:
        aqueue.Queue("postgresql://user:hunter2@host:notaport/db")
    assert "hunter2" not in str(excinfo.value)
    with pytest.raises(aqueue.ConfigurationError):
        aqueue.Queue("just a string")


async def test_system_exit_fails_one_job_not_the_worker(queue: aqueue.Queue) -> None:
    """Regression: SystemExit from a task, or from code a task resolver ran for
    a job's name (the Django worker importing ``venv.__main__``), ended the
    event loop and the worker, leaving the job running."""
    import sys

    @queue.task(name="quits", max_attempts=1)
    async def quits() -> None:
        sys.exit(3)

    @queue.task(name="quits_in_a_thread", max_attempts=1)
    def quits_in_a_thread() -> None:
        raise SystemExit("bye")

    @queue.task(name="fine")
    async def fine() -> int:
        return 1

    def resolver(name: str) -> aqueue.Task[..., object] | None:
        raise SystemExit(f"imported {name}")

    queue.task_resolver = resolver
    jobs = [
        await quits.enqueue(),
        await quits_in_a_thread.enqueue(),
        await queue.enqueue("some.module.task"),
        await fine.enqueue(),
    ]
    assert await queue.drain() == 4
    ended = [await job.refresh() for job in jobs]
    assert [j.status.value for j in ended] == ["failed", "failed", "failed", "succeeded"]
    assert ended[0].error is not None and ended[0].error["type"] == "SystemExit"
    assert ended[2].error is not None and "some.module.task" in ended[2].error["message"]


async def test_errors_are_bounded(queue: aqueue.Queue) -> None:
    """Regression: error messages and tracebacks had no cap (a 5 MB message
    was stored as 10 MB and rendered a 10 MB page). They are cut with a marker,
    keeping a traceback's start and its last lines."""
    from aqueue import serialization

    @queue.task(name="loud", max_attempts=1)
    async def loud() -> None:
        raise ValueError("x" * 5_000_000 + "THE END")

    job = await loud.enqueue()
    await queue.drain()
    with pytest.raises(aqueue.JobFailed) as failed:
        await job.result(timeout=5)
    error = (await job.refresh()).error
    assert error is not None
    assert len(error["message"]) < serialization.MAX_ERROR_MESSAGE + 100
    assert "more characters cut" in error["message"]
    assert len(error["traceback"]) < serialization.MAX_TRACEBACK + 100
    assert "characters cut" in error["traceback"]
    assert error["traceback"].startswith("Traceback") and "THE END" in error["traceback"]
    assert len(failed.value.message) < serialization.MAX_ERROR_MESSAGE + 100
