"""Synchronous enqueue for Django views, Flask and scripts: no event loop in
sight, same checks, same durability, same unique keys (SPEC §7)."""

from __future__ import annotations

import asyncio
import threading

import pytest

import aqueue
from aqueue import JobStatus
from tests.counting import pending
from tests.databases import TestDatabase


def _app(dsn: str) -> tuple[aqueue.Queue, aqueue.Task[[int, int], int]]:
    queue = aqueue.Queue(dsn)

    @queue.task(name="sync.add")
    async def add(a: int, b: int) -> int:
        return a + b

    return queue, add


def _work(dsn: str, tasks: aqueue.Queue, count: int) -> None:
    async def run() -> None:
        worker_queue = aqueue.Queue(dsn)
        worker_queue.tasks = tasks.tasks
        async with worker_queue:
            assert await worker_queue.process(count) == count

    asyncio.run(run())


def test_enqueue_sync_and_read_back(database: TestDatabase) -> None:
    queue, add = _app(database.dsn)
    try:
        job = add.enqueue_sync(1, 2)
        info = queue.get_job_sync(job.id)
        assert info is not None and info.status == JobStatus.QUEUED and info.args == [1, 2]
        by_name = queue.enqueue_sync("sync.add", 3, b=4)
        delayed = add.using(priority=5, delay=60, queue="later").enqueue_sync(5, 6)
        later = queue.get_job_sync(delayed.id)
        assert later is not None and (later.queue, later.priority) == ("later", 5)
        _work(database.dsn, queue, 2)
        assert job.result_sync(timeout=10) == 3
        assert by_name.result_sync(timeout=10) == 7
        with pytest.raises(TimeoutError):
            delayed.result_sync(timeout=0.2)
    finally:
        queue.close_sync()


def test_sync_checks_and_unique_keys_are_the_async_ones(database: TestDatabase) -> None:
    queue, add = _app(database.dsn)
    try:
        with pytest.raises(TypeError, match=r"positional argument 0 of task 'sync\.add'"):
            add.enqueue_sync({1}, 2)  # type: ignore[arg-type]
        first = add.using(unique_key="k").enqueue_sync(1, 1)
        again = add.using(unique_key="k").enqueue_sync(1, 1)
        assert first == again
        with pytest.raises(ValueError, match="cannot write on a caller's connection"):
            add.using(connection=object()).enqueue_sync(1, 1)
    finally:
        queue.close_sync()
    assert asyncio.run(_count(database.dsn)) == 1


async def _count(dsn: str) -> int:
    async with aqueue.Queue(dsn) as queue:
        return await pending(queue)


def test_many_threads_share_one_bridge(database: TestDatabase) -> None:
    queue, add = _app(database.dsn)
    ids: list[str] = []
    lock = threading.Lock()

    def produce(n: int) -> None:
        for k in range(20):
            job = add.enqueue_sync(n, k)
            with lock:
                ids.append(job.id)

    try:
        threads = [threading.Thread(target=produce, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(set(ids)) == 160
    finally:
        queue.close_sync()
    assert asyncio.run(_count(database.dsn)) == 160


async def test_sync_calls_inside_an_event_loop_are_refused(database: TestDatabase) -> None:
    queue, add = _app(database.dsn)
    with pytest.raises(RuntimeError, match=r"inside a running event loop.*await task.enqueue"):
        add.enqueue_sync(1, 2)
    with pytest.raises(RuntimeError, match=r"await queue\.get_job"):
        queue.get_job_sync("x")
    with pytest.raises(RuntimeError, match=r"await job\.result"):
        queue.job("x").result_sync()
