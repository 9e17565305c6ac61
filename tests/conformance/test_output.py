"""Captured output: what each attempt printed and logged, kept with its job
on every backend — in child processes by default, in the worker on request."""

from __future__ import annotations

import aqueue
from aqueue import JobStatus
from aqueue.records import Outcome
from tests.conformance.isolated import burst, error_of, every_task
from tests.raw import raw


async def texts(queue: aqueue.Queue, job: aqueue.Job[object]) -> list[tuple[int, str]]:
    return [(o.attempt, o.text) for o in await queue.jobs.output(job.id)]


async def stored_rows(queue: aqueue.Queue) -> int:
    async with raw(queue) as db:
        return int(await db.value("SELECT count(*) FROM aqueue_job_output"))


async def test_a_process_task_keeps_each_attempts_output_by_default(app: aqueue.Queue) -> None:
    job = await app.enqueue("chatty", fail_first=True)
    await burst(app, every_task())
    assert await job.result(timeout=5) == "done"
    outputs = await app.jobs.output(job.id)
    assert [o.attempt for o in outputs] == [1, 2]
    for o in outputs:
        lines = o.text.splitlines()
        assert lines[:2] == [f"out of attempt {o.attempt}", f"err of attempt {o.attempt}"]
        assert lines[2].endswith(f"WARNING tests.chatty: logged by attempt {o.attempt}")
        assert o.cut == 0 and o.created_at is not None
    assert outputs[0].created_at <= outputs[1].created_at  # type: ignore[operator]


async def test_in_process_capture_keeps_each_jobs_own_lines(app: aqueue.Queue) -> None:
    """Jobs running side by side in one worker, async and in threads, each
    keep only their own lines; a task that does not capture keeps none."""
    tags = ["a", "b", "c"]
    interleaved = [await app.enqueue("achatty", tag, 20) for tag in tags]
    threaded = await app.enqueue("schatty", "s")
    plain = await app.enqueue("quiet_print")
    worker = aqueue.Worker(app, burst=True, concurrency=5)
    await worker.run()
    for tag, job in zip(tags, interleaved, strict=True):
        expected = "".join(f"{tag} {n}\n" for n in range(20))
        assert await texts(app, job) == [(1, expected)]
    [(_, text)] = await texts(app, threaded)
    assert text.startswith("s from a thread\n") and "WARNING tests.chatty: s logged" in text
    assert await texts(app, plain) == []
    assert (await app.get_job(plain.id)).status == JobStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_a_child_that_dies_keeps_what_it_wrote(app: aqueue.Queue) -> None:
    job = await app.enqueue("last_words", 3)
    await burst(app, every_task())
    info = await app.get_job(job.id)
    assert info is not None and error_of(info)["type"] == "aqueue.WorkerProcessDied"
    assert await texts(app, job) == [(1, "about to die\nno newline yet")]


async def test_a_timed_out_child_keeps_its_output(app: aqueue.Queue) -> None:
    job = await app.enqueue("talk_then_spin")
    await burst(app, every_task(size=1))
    info = await app.get_job(job.id)
    assert info is not None and "JobTimeout" in error_of(info)["type"]
    assert await texts(app, job) == [(1, "spinning now\n")]


async def test_output_is_bounded_first_and_last_part_kept_with_a_marker(
    app: aqueue.Queue,
) -> None:
    job = await app.enqueue("loud", 5000)  # about 300 KB
    await burst(app, every_task(size=1), output_limit=4096)
    [output] = await app.jobs.output(job.id)
    text = output.text
    assert text.startswith("line 000000 ") and text.endswith("line 004999 " + "x" * 50 + "\n")
    assert f"[... {output.cut} bytes of output cut here ...]" in text
    kept = len(text.encode()) - len(f"\n[... {output.cut} bytes of output cut here ...]\n")
    assert kept == 4096 and kept + output.cut == 5000 * 63


async def test_output_goes_with_its_job_and_repeats_its_attempt_after_a_retry_by_hand(
    app: aqueue.Queue,
) -> None:
    job = await app.enqueue("last_words", 4)
    await burst(app, every_task(size=1))
    assert await app.jobs.retry(job.id)
    await burst(app, every_task(size=1))
    outputs = await app.jobs.output(job.id)
    assert [o.attempt for o in outputs] == [1, 1]  # the second run starts at 1 again
    assert len({o.id for o in outputs}) == 2
    purged = await app.enqueue("chatty")
    await burst(app, every_task(size=1))
    assert await stored_rows(app) == 3
    assert await app.jobs.delete(job.id) == JobStatus.FAILED
    assert await app.jobs.output(job.id) == [] and await stored_rows(app) == 1
    assert await app.jobs.purge(0.0) == 1  # retention's and purge's deletes alike
    assert await app.jobs.output(purged.id) == [] and await stored_rows(app) == 0


async def test_an_output_sent_twice_is_stored_once_and_one_whose_job_is_gone_is_dropped(
    app: aqueue.Queue,
) -> None:
    """The completer sends a batch again after a reply it lost: the attempt's
    output stays one row. An outcome for a job deleted meanwhile is fenced,
    and its output dropped without failing the batch."""
    backend = app.backend
    job = await app.enqueue("chatty")
    [claimed] = await backend.claim_jobs("w", None, 1, 30.0)
    said = aqueue.AttemptOutput("0b6f7a52-0c55-4d5e-9d1c-3a8f3b1e2d4c", job.id, 1, "hello\n")
    gone_id = "0193a1b2-0000-7000-8000-000000000000"
    late = aqueue.AttemptOutput("5f0e3c1a-8d2b-4e6f-a7c9-1b3d5e7f9a0b", gone_id, 1, "late\n")
    outcomes = [
        Outcome(claimed.id, claimed.attempts, JobStatus.SUCCEEDED, result="1", output=said),
        Outcome(gone_id, 1, JobStatus.SUCCEEDED, result="1", output=late),
    ]
    assert await backend.complete_jobs("w", outcomes) == [gone_id]
    assert await backend.complete_jobs("w", outcomes) == [claimed.id, gone_id]
    assert await texts(app, job) == [(1, "hello\n")] and await stored_rows(app) == 1


async def test_text_no_database_stores_as_it_is_is_kept_escaped(app: aqueue.Queue) -> None:
    job = await app.enqueue("odd_text")
    await burst(app, None)
    assert await texts(app, job) == [
        (1, "nul \\x00, lone \\udcff, emoji \U0001f389, bidi \u202e\n")
    ]
