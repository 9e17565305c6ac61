"""Export, import and copy on each backend: every field of every job survives
a round trip through another backend (SQLite), both ways, and again is a no-op."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

import aqueue
from aqueue.portable import job_to_dict
from aqueue.records import JobFilter, JobInfo
from aqueue.transfer import RunningJobs, WaitingJobs, copy, import_lines, read_jobs
from tests.databases import TestDatabase

MS = timedelta(milliseconds=1)


async def _jobs_of_every_kind(queue: aqueue.Queue) -> None:
    @queue.task(name="ok")
    async def ok(value: object) -> object:
        return {"echo": value}

    @queue.task(name="flaky", max_attempts=2, backoff=aqueue.Backoff(base=0, jitter=0))
    async def flaky() -> None:
        raise ValueError("no \u00e9\u0000 luck")

    @queue.task(name="progress", takes_context=True)
    async def progress(ctx: aqueue.JobContext) -> None:
        await ctx.set_progress({"done": 3})

    await ok.enqueue(["ü", 1.5, None])
    await flaky.enqueue()
    await progress.enqueue()
    assert await queue.process(10) == 4  # flaky: an attempt, a retry
    await ok.using(delay=3600, unique_key="k-1", priority=7, timeout=12.5, queue="later").enqueue(
        "waits"
    )
    cancelled = await ok.using(delay=3600).enqueue("never")
    await queue.jobs.cancel(cancelled.id)


async def _all(queue: aqueue.Queue) -> dict[str, JobInfo]:
    return {j.id: j for j in await queue.jobs.list(JobFilter(limit=1000))}


def _same(a: JobInfo, b: JobInfo) -> None:
    left, right = job_to_dict(a), job_to_dict(b)
    for name in ("created_at", "scheduled_at", "started_at", "finished_at"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None) and (x is None or abs(x - y) < MS), name
        left.pop(name), right.pop(name)
    for entry in (*left["history"], *right["history"]):
        entry.pop("started_at"), entry.pop("ended_at")
    assert [(p.started_at is None, p.ended_at is None) for p in a.history] == [
        (p.started_at is None, p.ended_at is None) for p in b.history
    ]
    assert left == right


async def test_a_round_trip_through_sqlite_keeps_every_field(
    queue: aqueue.Queue,
    database: TestDatabase,
    tmp_path: Path,
    fresh_dsn: Callable[[str, Path], str],
) -> None:
    await _jobs_of_every_kind(queue)
    original = await _all(queue)
    assert len(original) == 5 and any(j.history for j in original.values())
    other = aqueue.Queue(f"sqlite:///{tmp_path / 'other.db'}")
    async with other:
        out = await copy(queue, other, batch_size=2)
        assert (out.read, out.written, out.existing) == (5, 5, 0)
        copied = await _all(other)
        assert copied.keys() == original.keys()
        for job_id, job in original.items():
            _same(job, copied[job_id])
        again = await copy(queue, other)
        assert (again.written, again.existing) == (0, 5)
        # And back, into a fresh database of the backend under test.
        target = aqueue.Queue(fresh_dsn(database.backend, tmp_path))
        async with target:
            back = await copy(other, target)
            assert back.written == 5
            returned = await _all(target)
            for job_id, job in original.items():
                _same(job, returned[job_id])
            # A copied queued job is claimable and keeps its unique key.
            later = next(j for j in returned.values() if j.queue == "later")
            assert later.unique_key == "k-1" and later.timeout == 12.5
            dup = await target.task_named("ok").using(unique_key="k-1").enqueue("dup")
            assert dup.id == later.id


async def test_running_jobs_are_refused_unless_copied_as_queued(
    queue: aqueue.Queue, tmp_path: Path
) -> None:
    job = await queue.enqueue("ok", 1)
    [claimed] = await queue.backend.claim_jobs("w:1:abc", None, 1, 60)
    other = aqueue.Queue(f"sqlite:///{tmp_path / 'other.db'}")
    async with other:
        with pytest.raises(RunningJobs, match="is running"):
            await copy(queue, other)
        done = await copy(queue, other, running_as_queued=True)
        assert done.written == 1
        info = await other.get_job(job.id)
        assert info is not None and info.status == "queued" and info.worker is None
        assert info.attempts == claimed.attempts == 1  # the interrupted attempt counts


async def test_jobs_waiting_for_parents_are_refused(queue: aqueue.Queue, tmp_path: Path) -> None:
    """The edges between jobs are not moved: a waiting job would wait forever."""
    parent = await queue.enqueue("ok", 1)
    child = await queue.task_named("ok").using(after=[parent]).enqueue(2)
    other = aqueue.Queue(f"sqlite:///{tmp_path / 'other.db'}")
    async with other:
        with pytest.raises(WaitingJobs, match=f"job {child.id} waits for other jobs"):
            await copy(queue, other)
        await queue.process(2)  # once the graph has run, it moves
        done = await copy(queue, other)
        assert done.written == 2


async def test_import_refuses_bad_lines_alone(queue: aqueue.Queue, tmp_path: Path) -> None:
    await queue.enqueue("ok", 1)
    lines = [json.dumps(j) for batch in [b async for b in read_jobs(queue)] for j in batch]
    good = json.loads(lines[0])
    bad = [
        "{not json",
        json.dumps([1, 2]),
        json.dumps({**good, "id": "nope"}),
        json.dumps({**good, "id": "01a20a3e-414a-7001-aa29-fb8a18fc85ff", "args": {"a": 1}}),
        json.dumps({**good, "id": "01a20a3e-414a-7001-aa29-fb8a18fc85fe", "priority": 10**6}),
        json.dumps(
            {**good, "id": "01a20a3e-414a-7001-aa29-fb8a18fc85fd", "created_at": "yesterday"}
        ),
        json.dumps({**good, "id": "01a20a3e-414a-7001-aa29-fb8a18fc85fc", "status": "running"}),
    ]
    fine = json.dumps({**good, "id": "01a20a3e-414a-7001-aa29-fb8a18fc85fb"})
    other = aqueue.Queue(f"sqlite:///{tmp_path / 'other.db'}")
    async with other:
        tally = await import_lines(other, [*lines, *bad, "", fine])
        assert tally.written == 2 and len(tally.bad_lines) == len(bad)
        reasons = "\n".join(tally.bad_lines)
        for expected in (
            "line 2:",
            "a job must be a JSON object",
            "id is not a UUID",
            "args must be a list",
            "priority",
            "created_at is not an ISO 8601",
            "running jobs cannot be imported",
        ):
            assert expected in reasons, (expected, reasons)
        assert len(await _all(other)) == 2


async def test_an_import_keeps_every_good_line_around_bad_ones(queue: aqueue.Queue) -> None:
    """Regression: one bad line — nested too deeply, a worker name longer than
    MariaDB's column, U+0000 in history (PostgreSQL's jsonb refuses it) —
    aborted the whole import, losing the valid lines before it. Each line is
    now checked first and the database's refusal is narrowed to its line."""
    good = {
        "id": "01a20a3e-414a-7001-aa29-fb8a18fc8500",
        "task": "t",
        "queue": "q",
        "status": "failed",
        "priority": 0,
        "attempts": 2,
        "max_attempts": 2,
        "args": [1],
        "kwargs": {},
        "created_at": "2026-01-01T00:00:00+00:00",
        "scheduled_at": "2026-01-01T00:00:00+00:00",
        "error": {"type": "E", "message": "m", "traceback": None},
        "history": [
            {
                "attempt": 1,
                "started_at": "2026-01-01T00:00:01+00:00",
                "ended_at": "2026-01-01T00:00:02+00:00",
                "outcome": "retried",
                "error": "E",
                "message": "nul\u0000inside",
            }
        ],
    }

    def job(n: int, **changes: object) -> str:
        return json.dumps({**good, "id": f"01a20a3e-414a-7001-aa29-fb8a18fc85{n:02d}", **changes})

    lines: list[str | bytes] = [
        job(1),
        "[" * 100_000 + "]" * 100_000,  # line 2: nested too deeply
        job(3, worker="w" * 300),  # line 3: too long for MariaDB's column
        job(4),  # U+0000 in history: stored as U+FFFD
        b"\xff\xfe not utf-8",  # line 5
        job(6, args=[{"deep": [[[[[[[[1]]]]]]]]}]),
    ]
    tally = await import_lines(queue, lines, batch_size=2)
    assert sorted(int(line.split(":")[0][5:]) for line in tally.bad_lines) == [2, 3, 5], (
        tally.bad_lines
    )
    assert tally.written == 3
    info = await queue.get_job("01a20a3e-414a-7001-aa29-fb8a18fc8504")
    # PostgreSQL's jsonb holds no U+0000: its history has U+FFFD, as ever.
    kept = "nul\ufffdinside" if queue.dialect == "postgresql" else "nul\x00inside"
    assert info is not None and info.history[0].message == kept
    # --strict: nothing goes in unless every line is good.
    strict = await import_lines(queue, [job(7), job(8, worker="w" * 300)], strict=True)
    assert strict.written == 0 and len(strict.bad_lines) == 1
    assert await queue.get_job("01a20a3e-414a-7001-aa29-fb8a18fc8507") is None


async def test_tags_and_finished_workflows_move_with_their_jobs(
    queue: aqueue.Queue,
    database: TestDatabase,
    tmp_path: Path,
    fresh_dsn: Callable[[str, Path], str],
) -> None:
    """The tag rows are rebuilt from each job's meta: a moved job is found by
    tag, and a moved workflow by its id, in both directions."""

    @queue.task(name="ok")
    async def ok(value: object) -> object:
        return {"echo": value}

    tagged = await ok.using(tags=["customer:42"]).enqueue(1)
    flow = await queue.enqueue_workflow(aqueue.group([ok.prepare(2), ok.prepare(3)]))
    await queue.drain()
    other = aqueue.Queue(f"sqlite:///{tmp_path / 'other.db'}")
    async with other:
        assert (await copy(queue, other)).written == 3
        target = aqueue.Queue(fresh_dsn(database.backend, tmp_path))
        async with target:
            assert (await copy(other, target)).written == 3
            for where in (other, target):
                found = await where.jobs.list(JobFilter(tag="customer:42"))
                assert [j.id for j in found] == [tagged.id]
                moved = await where.workflow(flow.id)
                assert await moved.results(timeout=5) == [{"echo": 2}, {"echo": 3}]
                assert await moved.counts() == {"succeeded": 2}
