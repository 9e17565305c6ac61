"""Workflows across real ``aqueue-worker`` processes: a chord's callback runs
once with every result, though a worker is SIGKILLed in the middle."""

from __future__ import annotations

from pathlib import Path

import aqueue
from tests.acceptance.helpers import WorkerProcess, records, run, wait_until
from tests.databases import TestDatabase

MEMBERS = 1000


async def _enqueue_chord(dsn: str) -> str:
    from tests.apps.recording import collect, record

    queue = aqueue.Queue(dsn)
    async with queue:
        flow = await queue.enqueue_workflow(
            aqueue.chord([record.prepare(n, 0.02) for n in range(MEMBERS)], collect.link())
        )
    return flow.id


async def _result(dsn: str, workflow_id: str) -> tuple[object, dict[str, int]]:
    queue = aqueue.Queue(dsn)
    async with queue:
        flow = await queue.workflow(workflow_id)
        return await flow.results(timeout=60), await flow.counts()


def test_a_chord_survives_a_sigkilled_worker(db: TestDatabase, record_file: Path) -> None:
    workflow_id = run(_enqueue_chord(db.dsn))
    args = ("--concurrency", "10", "--lease", "2", "--poll-interval", "0.2")
    workers = [WorkerProcess(db.dsn, record_file, *args) for _ in range(3)]
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) >= MEMBERS // 3,
        60,
        "a third of the members to start",
    )
    workers[0].kill()
    before = records(record_file)
    killed = {j for k, j, _ in before if k == "start"} - {j for k, j, _ in before if k == "done"}
    try:
        wait_until(
            lambda: any(k == "collect" for k, _, _ in records(record_file)), 120, "the callback"
        )
        result, counts = run(_result(db.dsn, workflow_id))
    finally:
        for worker in workers[1:]:
            assert worker.stop() == 0
    assert killed, "the kill should have interrupted running members"
    assert result == {"count": MEMBERS, "in_order": True, "sum": sum(range(MEMBERS))}
    assert counts == {"succeeded": MEMBERS + 1}
    rows = records(record_file)
    assert sum(k == "collect" for k, _, _ in rows) == 1  # the callback ran exactly once
    done = {j for k, j, _ in rows if k == "done"}
    assert len(done) == MEMBERS  # every member finished, the killed ones on a retry
    assert killed <= done
