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


async def _batches(dsn: str, count: int, members: list[aqueue.JobRequest]) -> list[str]:
    """``count`` batches sharing ``members`` evenly, each added in three calls, then closed."""
    from tests.apps.recording import batch_done

    queue = aqueue.Queue(dsn)
    per = len(members) // count
    step = max(1, per // 3)
    ids = []
    async with queue:
        for first in range(0, per * count, per):
            batch = await queue.open_batch(
                on_success=batch_done.link("success"), on_complete=batch_done.link("complete")
            )
            for part in range(first, first + per, step):
                await batch.add(members[part : min(part + step, first + per)])
            await batch.close()
            ids.append(batch.id)
    return ids


async def _batch_results(dsn: str, ids: list[str]) -> list[tuple[object, object]]:
    queue = aqueue.Queue(dsn)
    async with queue:
        found = []
        for batch_id in ids:
            callbacks = await queue.batch(batch_id).callbacks()
            found.append(
                (
                    await callbacks["success"].result(timeout=60),
                    await callbacks["complete"].result(timeout=60),
                )
            )
        return found


def test_batch_callbacks_run_once_when_members_end_together(
    db: TestDatabase, record_file: Path, tmp_path: Path
) -> None:
    """Five batches of six jobs, all running at once on three workers and let
    go by one file: their last jobs end in the same instant on different
    workers, and each batch's callbacks run once."""
    from tests.apps.recording import gated

    gate = tmp_path / "gate"
    ids = run(_batches(db.dsn, 5, [gated.prepare(str(gate)) for _ in range(30)]))
    # 11 slots each and nothing claimed ahead: every job starts, on all three.
    args = ("--concurrency", "11", "--prefetch", "0", "--poll-interval", "0.2")
    workers = [WorkerProcess(db.dsn, record_file, *args) for _ in range(3)]
    try:
        wait_until(
            lambda: sum(k == "start" for k, _, _ in records(record_file)) == 30, 60, "every start"
        )
        pids = {line.split()[3] for line in record_file.read_text().splitlines()}
        assert len(pids) == 3, "the jobs should run on all three workers"
        gate.touch()
        wait_until(
            lambda: sum(k in ("success", "complete") for k, _, _ in records(record_file)) == 10,
            60,
            "the callbacks",
        )
        results = run(_batch_results(db.dsn, ids))
    finally:
        for worker in workers:
            assert worker.stop() == 0
    for batch_id, (success, complete) in zip(ids, results, strict=True):
        expected = {"batch": batch_id, "total": 6, "succeeded": 6, "failed": 0, "cancelled": 0}
        assert success == complete == expected
    rows = records(record_file)
    assert sum(k == "success" for k, _, _ in rows) == 5
    assert sum(k == "complete" for k, _, _ in rows) == 5


def test_a_batch_survives_a_sigkilled_worker(db: TestDatabase, record_file: Path) -> None:
    from tests.apps.recording import record

    [batch_id] = run(_batches(db.dsn, 1, [record.prepare(n, 0.02) for n in range(300)]))
    args = ("--concurrency", "10", "--lease", "2", "--poll-interval", "0.2")
    workers = [WorkerProcess(db.dsn, record_file, *args) for _ in range(3)]
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) >= 100, 60, "a third to start"
    )
    workers[0].kill()
    try:
        wait_until(
            lambda: sum(k in ("success", "complete") for k, _, _ in records(record_file)) == 2,
            120,
            "the callbacks",
        )
        [(success, complete)] = run(_batch_results(db.dsn, [batch_id]))
    finally:
        for worker in workers[1:]:
            assert worker.stop() == 0
    expected = {"batch": batch_id, "total": 300, "succeeded": 300, "failed": 0, "cancelled": 0}
    assert success == complete == expected
    rows = records(record_file)
    assert sum(k == "success" for k, _, _ in rows) == 1
    assert sum(k == "complete" for k, _, _ in rows) == 1
    assert len({j for k, j, _ in rows if k == "done"}) == 300
