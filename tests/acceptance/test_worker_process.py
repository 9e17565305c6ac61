"""Real ``aqueue-worker`` processes: crashes, concurrency, signals, wake-up (SPEC §2, §5)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import aqueue
from aqueue import JobStatus
from tests.acceptance.helpers import (
    WorkerProcess,
    done_counts,
    enqueue_records,
    records,
    run,
    statuses,
    wait_until,
)
from tests.databases import TestDatabase


@pytest.mark.parametrize("prefetch", ["default", "0"])
def test_sigkill_mid_job_loses_nothing(db: TestDatabase, record_file: Path, prefetch: str) -> None:
    """(a) SIGKILL a worker while jobs run; a new worker finishes everything and the
    jobs that were killed ran again as attempt 2."""
    ids = run(enqueue_records(db.dsn, 30, sleep=0.5))
    ahead = [] if prefetch == "default" else ["--prefetch", prefetch]
    first = WorkerProcess(
        db.dsn, record_file, "--concurrency", "10", "--lease", "2", "--poll-interval", "0.2", *ahead
    )
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) >= 15, 30, "jobs to start"
    )
    first.kill()
    before = records(record_file)
    started = {j for k, j, _ in before if k == "start"}
    finished = {j for k, j, _ in before if k == "done"}
    killed = started - finished
    assert killed, "the kill should have interrupted running jobs"

    second = WorkerProcess(
        db.dsn, record_file, "--concurrency", "10", "--lease", "2", "--poll-interval", "0.2"
    )
    try:
        wait_until(
            lambda: all(j.status == JobStatus.SUCCEEDED for j in run(statuses(db.dsn)).values()),
            60,
            "every job to succeed",
        )
    finally:
        assert second.stop() == 0
    jobs = run(statuses(db.dsn))
    assert set(jobs) == set(ids)
    for job_id in killed:
        assert jobs[job_id].attempts == 2, (job_id, jobs[job_id])
        assert jobs[job_id].result is not None
    never_started = set(ids) - started
    if prefetch == "0":
        for job_id in never_started:
            assert jobs[job_id].attempts == 1
    else:
        # A job the dead worker held claimed ahead (at most what it expected to
        # start within 0.1 s: here 2) used up that attempt without running.
        assert all(jobs[j].attempts in (1, 2) for j in never_started)
        assert sum(jobs[j].attempts == 2 for j in never_started) <= 2
    assert all(count >= 1 for count in done_counts(record_file).values())
    assert set(done_counts(record_file)) == set(ids)


def test_a_sigkilled_workers_jobs_do_not_wait_for_its_lease(
    db: TestDatabase, record_file: Path
) -> None:
    """A worker of the same node sees the killed worker's pid gone in the registry
    and puts its jobs back long before their 60 s leases run out."""
    ids = run(enqueue_records(db.dsn, 3, sleep=5))
    first = WorkerProcess(
        db.dsn, record_file, "--concurrency", "3", "--lease", "60", "--poll-interval", "0.2"
    )
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) == 3, 30, "jobs to start"
    )
    first.kill()
    killed_at = time.monotonic()
    second = WorkerProcess(
        db.dsn, record_file, "--concurrency", "3", "--lease", "2", "--poll-interval", "0.2"
    )
    try:
        wait_until(
            lambda: sum(k == "start" for k, _, _ in records(record_file)) == 6,
            30,
            "the killed jobs to start again",
        )
        rescued_after = time.monotonic() - killed_at
        wait_until(
            lambda: all(j.status == JobStatus.SUCCEEDED for j in run(statuses(db.dsn)).values()),
            30,
            "every job to succeed",
        )
    finally:
        assert second.stop() == 0
    assert rescued_after < 30, rescued_after  # the leases had 60 s left
    jobs = run(statuses(db.dsn))
    for job_id in ids:
        assert jobs[job_id].attempts == 2
        assert [(a.outcome, a.error) for a in jobs[job_id].history] == [("rescued", "WorkerGone")]
    assert "died or stopped renewing" in second.output()


def test_three_workers_run_each_job_exactly_once(db: TestDatabase, record_file: Path) -> None:
    """(b) Three workers x concurrency 20 on 3,000 jobs, no faults: each runs once."""
    # Jobs of 10 ms: one worker alone would take ~1.5 s, longer than the others
    # take to start even on a loaded machine, so the work is always shared.
    ids = run(enqueue_records(db.dsn, 3000, sleep=0.01))
    workers = [
        WorkerProcess(db.dsn, record_file, "--concurrency", "20", "--burst") for _ in range(3)
    ]
    for worker in workers:
        assert worker.wait(240) == 0, worker.output()
    counts = done_counts(record_file)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1
    starts = [j for k, j, _ in records(record_file) if k == "start"]
    assert len(starts) == 3000
    jobs = run(statuses(db.dsn))
    assert all(j.status == JobStatus.SUCCEEDED and j.attempts == 1 for j in jobs.values())
    # The work was shared: more than one worker claimed jobs.
    assert len({j.worker for j in jobs.values()}) > 1


def test_sigterm_lets_running_jobs_finish(db: TestDatabase, record_file: Path) -> None:
    """(c) SIGTERM: running jobs finish within the shutdown timeout, exit 0, nothing lost."""
    ids = run(enqueue_records(db.dsn, 20, sleep=1.0))
    worker = WorkerProcess(db.dsn, record_file, "--concurrency", "5", "--shutdown-timeout", "20")
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) >= 5, 30, "jobs to start"
    )
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    jobs = run(statuses(db.dsn))
    started = {j for k, j, _ in records(record_file) if k == "start"}
    for job_id in ids:
        expected = JobStatus.SUCCEEDED if job_id in started else JobStatus.QUEUED
        assert jobs[job_id].status == expected
    assert not any(j.status == JobStatus.RUNNING for j in jobs.values())


def test_sigterm_hands_back_jobs_at_the_deadline(db: TestDatabase, record_file: Path) -> None:
    """(c) Jobs still running at the shutdown deadline are handed back, then run again."""
    ids = run(enqueue_records(db.dsn, 4, sleep=3.0))
    worker = WorkerProcess(db.dsn, record_file, "--concurrency", "4", "--shutdown-timeout", "0.5")
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) == 4, 30, "jobs to start"
    )
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    assert "handed back 4 unfinished jobs" in worker.output()
    jobs = run(statuses(db.dsn))
    assert all(j.status == JobStatus.QUEUED and j.attempts == 0 for j in jobs.values())
    again = WorkerProcess(db.dsn, record_file, "--concurrency", "4", "--burst")
    assert again.wait(60) == 0, again.output()
    jobs = run(statuses(db.dsn))
    assert all(jobs[i].status == JobStatus.SUCCEEDED and jobs[i].attempts == 1 for i in ids)


def test_an_idle_worker_wakes_for_a_new_job(db: TestDatabase, record_file: Path) -> None:
    """(d) A worker polling every 30 s starts a new job within a second: woken
    by LISTEN (PostgreSQL), the socket beside the file (SQLite), its probe
    (MariaDB)."""
    worker = WorkerProcess(db.dsn, record_file, "--poll-interval", "30")
    try:
        worker.wait_for_output("started on")
        time.sleep(0.5)  # well into the first 30 s sleep

        async def enqueue_and_wait() -> float:
            queue = aqueue.Queue(db.dsn)
            async with queue:
                began = time.monotonic()
                job = await queue.enqueue("record", 1)
                await job.result(timeout=1.0)
                return time.monotonic() - began

        elapsed = asyncio.run(enqueue_and_wait())
        assert elapsed < 1.0

        async def enqueue_batch_and_wait() -> tuple[float, float]:
            # A batch mixing due and delayed jobs: the worker wakes for the
            # first and sets a timer for the second, never waiting out its poll.
            queue = aqueue.Queue(db.dsn)
            async with queue:
                record = queue.task_named("record")
                began = time.monotonic()
                delayed, due, _ = await queue.enqueue_many(
                    [record.using(delay=0.5).prepare(2), record.prepare(3), record.prepare(4)]
                )
                await due.result(timeout=1.0)
                first = time.monotonic() - began
                await delayed.result(timeout=2.0)
                return first, time.monotonic() - began

        first, both = asyncio.run(enqueue_batch_and_wait())
        assert first < 1.0 and 0.5 <= both < 2.0, (first, both)
    finally:
        assert worker.stop() == 0


def test_a_blocked_lone_worker_never_runs_its_jobs_twice(
    db: TestDatabase, record_file: Path
) -> None:
    """time.sleep() longer than the lease inside async code, no other worker:
    every job runs once and succeeds, and the log names the blocked loop."""
    from tests.apps.recording import blocking

    async def enqueue() -> list[str]:
        queue = aqueue.Queue(db.dsn)
        async with queue:
            jobs = await queue.enqueue_many([blocking.prepare(n, 2.5) for n in range(3)])
        return [job.id for job in jobs]

    ids = run(enqueue())
    worker = WorkerProcess(
        db.dsn,
        record_file,
        "--concurrency",
        "3",
        "--lease",
        "1.5",
        "--poll-interval",
        "0.2",
        "--burst",
    )
    assert worker.wait(60) == 0, worker.output()
    starts = [
        (job_id, attempt) for kind, job_id, attempt in records(record_file) if kind == "start"
    ]
    assert sorted(starts) == sorted((job_id, 1) for job_id in ids), worker.output()
    jobs = run(statuses(db.dsn))
    assert all(jobs[i].status == JobStatus.SUCCEEDED and jobs[i].attempts == 1 for i in ids), jobs
    assert "the event loop was blocked for" in worker.output()


def test_aqueue_workers_lists_live_and_dead_workers(db: TestDatabase, record_file: Path) -> None:
    from tests.acceptance.helpers import ADMIN, ROOT

    def listed() -> list[dict[str, Any]]:
        out = subprocess.run(
            [ADMIN, "workers", "--json", "--dsn", db.dsn],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return list(json.loads(out.stdout))

    ids = run(enqueue_records(db.dsn, 2, sleep=30))
    worker = WorkerProcess(
        db.dsn, record_file, "--concurrency", "2", "--lease", "1", "--poll-interval", "0.2"
    )
    wait_until(
        lambda: sum(k == "start" for k, _, _ in records(record_file)) >= 2, 30, "jobs to start"
    )
    [me] = [w for w in listed() if w["pid"] == worker.proc.pid]
    assert me["status"] == "running" and sorted(me["running_jobs"]) == sorted(ids)
    table = subprocess.run(
        [ADMIN, "workers", "--dsn", db.dsn], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    assert str(me["name"]) in table and ids[0] in table
    worker.kill()
    wait_until(
        lambda: [w["status"] for w in listed() if w["pid"] == worker.proc.pid] == ["dead"],
        10,
        "the killed worker to show as dead",
    )


def test_per_queue_slots_from_the_command_line(db: TestDatabase, record_file: Path) -> None:
    """``--queue a=1 --queue b=2``: replaying the attempts' starts and ends in
    the order they were written, queue a never runs two at once, nor b three."""
    from tests.apps.recording import record

    async def enqueue() -> dict[str, str]:
        queue = aqueue.Queue(db.dsn)
        async with queue:
            names = [q for q in ("a", "b") for _ in range(4)]
            jobs = await queue.enqueue_many(
                [record.using(queue=q).prepare(n, 0.3) for n, q in enumerate(names)]
            )
        return {job.id: name for job, name in zip(jobs, names, strict=True)}

    queue_of = run(enqueue())
    worker = WorkerProcess(db.dsn, record_file, "--queue", "a=1", "--queue", "b=2", "--burst")
    assert worker.wait(60) == 0, worker.output()
    assert "concurrency 3, queues a=1,b=2" in worker.output()
    running: Counter[str] = Counter()
    most: Counter[str] = Counter()
    for kind, job_id, _ in records(record_file):
        running[queue_of[job_id]] += 1 if kind == "start" else -1
        most[queue_of[job_id]] = max(most[queue_of[job_id]], running[queue_of[job_id]])
    assert most == {"a": 1, "b": 2}
    assert done_counts(record_file) == dict.fromkeys(queue_of, 1)


def test_a_bad_queue_slot_is_refused_before_start(db: TestDatabase, record_file: Path) -> None:
    worker = WorkerProcess(db.dsn, record_file, "--queue", "a=0")
    assert worker.wait(30) == 2
    assert "a=0" in worker.output() and "at least 1" in worker.output()


ISOLATED = "tests.apps.isolated:queue"


async def _enqueue_isolated(dsn: str, calls: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
    from tests.apps import isolated

    queue = aqueue.Queue(dsn)
    async with queue:
        requests = [isolated.queue.tasks[name].prepare(*args) for name, args in calls]
        return [job.id for job in await queue.enqueue_many(requests)]


def test_a_process_pool_outlives_children_that_die_or_grow(
    db: TestDatabase, record_file: Path
) -> None:
    """``--processes 2``: an ``os._exit`` and a segfault fail their own jobs
    (WorkerProcessDied, retried), leaking jobs get fresh children past
    ``--max-memory-per-child``, and every other job succeeds in a child,
    keeping what each attempt printed and logged."""
    calls: list[tuple[str, tuple[Any, ...]]] = [("die", (3,)), ("segfault", ())]
    calls += [("leak", (60,))] * 4 + [("pid", ())] * 20
    calls += [("chatty", (True,)), ("last_words", (5,))]
    ids = run(_enqueue_isolated(db.dsn, calls))
    worker = WorkerProcess(
        db.dsn,
        record_file,
        "--processes",
        "2",
        "--max-memory-per-child",
        "100MB",
        "--burst",
        app=ISOLATED,
    )
    assert worker.wait(120) == 0, worker.output()  # the worker itself never died
    jobs = run(statuses(db.dsn))
    for job_id in ids[:2]:
        info = jobs[job_id]
        assert (info.status, info.attempts) == (JobStatus.FAILED, 2)
        assert info.error is not None and info.error["type"] == "aqueue.WorkerProcessDied"
    leak_pids = Counter(jobs[i].result for i in ids[2:6])
    assert all(jobs[i].status == JobStatus.SUCCEEDED for i in ids[2:-1])
    assert max(leak_pids.values()) <= 2  # a child past 100 MB is replaced
    assert worker.proc.pid not in {jobs[i].result for i in ids[2:-2]}
    chatty, last_words = run(_outputs(db.dsn, ids[-2:]))
    assert [(o.attempt, o.text.splitlines()[0]) for o in chatty] == [
        (1, "out of attempt 1"),
        (2, "out of attempt 2"),
    ]
    assert all("WARNING tests.chatty: logged by attempt" in o.text for o in chatty)
    assert [(o.attempt, o.text) for o in last_words] == [(1, "about to die\nno newline yet")]


async def _outputs(dsn: str, ids: list[str]) -> list[list[aqueue.AttemptOutput]]:
    async with aqueue.Queue(dsn) as queue:
        return [await queue.jobs.output(job_id) for job_id in ids]


def test_sigterm_leaves_no_child_process(
    db: TestDatabase, record_file: Path, tmp_path: Path
) -> None:
    flags = [tmp_path / f"started{n}" for n in range(2)]
    run(_enqueue_isolated(db.dsn, [("sleepy", (60, str(f))) for f in flags]))
    worker = WorkerProcess(
        db.dsn, record_file, "--processes", "2", "--shutdown-timeout", "1", app=ISOLATED
    )
    wait_until(lambda: all(f.exists() and f.read_text() for f in flags), 60, "children to start")
    children = [int(f.read_text()) for f in flags]
    began = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    assert time.monotonic() - began < 10
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_snoozed_job_keeps_its_attempts(db: TestDatabase, record_file: Path) -> None:
    """``raise aqueue.Snooze`` in a real worker process: the job runs again
    without spending its one attempt."""
    ids = run(_enqueue_isolated(db.dsn, [("snoozer", (3,)), ("snoozer", (2,))]))
    in_worker = WorkerProcess(db.dsn, record_file, "--burst", app=ISOLATED)
    assert in_worker.wait(60) == 0, in_worker.output()
    jobs = run(statuses(db.dsn))
    for job_id, times in zip(ids, (3, 2), strict=True):
        info = jobs[job_id]
        assert (info.status, info.attempts, info.max_attempts) == (JobStatus.SUCCEEDED, 1, 1)
        assert info.result == {"attempt": 1, "snoozes": times} and info.meta == {"snoozes": times}


def test_a_job_killed_between_steps_does_not_run_its_done_steps_again(
    db: TestDatabase, record_file: Path, tmp_path: Path
) -> None:
    """Durable steps: a worker SIGKILLed after a job's second step; the job
    rescued by another worker runs only its third."""
    steps, flag = tmp_path / "steps", tmp_path / "go"
    [job_id] = run(_enqueue_isolated(db.dsn, [("slow_steps", (str(steps), str(flag)))]))
    first = WorkerProcess(db.dsn, record_file, "--lease", "2", app=ISOLATED)
    # Not the notes in the file: a step's note is written before its result is stored.
    stored = tmp_path / "steps.stored"
    wait_until(stored.exists, 30, "two steps stored")
    first.kill()
    flag.write_text("go")
    second = WorkerProcess(
        db.dsn, record_file, "--lease", "2", "--poll-interval", "0.2", app=ISOLATED
    )
    try:
        wait_until(
            lambda: run(statuses(db.dsn))[job_id].status == JobStatus.SUCCEEDED,
            60,
            "the job to succeed on the second worker",
        )
    finally:
        assert second.stop() == 0
    ran = [line.split()[:2] for line in steps.read_text().splitlines()]
    assert ran == [["one", "1"], ["two", "1"], ["three", "2"]]
    assert run(statuses(db.dsn))[job_id].result == "three"


async def _signal(dsn: str, job_id: str, payload: object) -> bool:
    async with aqueue.Queue(dsn) as queue:
        return await queue.signal(job_id, "approved", payload)


def test_signals_reach_jobs_in_a_real_worker(
    db: TestDatabase, record_file: Path, tmp_path: Path
) -> None:
    """One signal sent before its job started, one to a job the worker had
    parked: both jobs run on to the end with their payloads."""
    early_record, late_record = tmp_path / "early", tmp_path / "late"
    [early] = run(_enqueue_isolated(db.dsn, [("approver", (str(early_record),))]))
    assert run(_signal(db.dsn, early, "before"))
    worker = WorkerProcess(db.dsn, record_file, "--poll-interval", "0.2", app=ISOLATED)
    try:
        [late] = run(_enqueue_isolated(db.dsn, [("approver", (str(late_record),))]))
        wait_until(
            lambda: late_record.exists() and run(statuses(db.dsn))[late].status == JobStatus.QUEUED,
            30,
            "the late job to park",
        )
        assert run(_signal(db.dsn, late, "after"))
        wait_until(
            lambda: run(statuses(db.dsn))[late].status == JobStatus.SUCCEEDED,
            30,
            "the parked job to run on",
        )
    finally:
        assert worker.stop() == 0
    jobs = run(statuses(db.dsn))
    assert (jobs[early].result, jobs[late].result) == ("before", "after")
    assert late_record.read_text().splitlines() == ["asked 1", "done 1"]
