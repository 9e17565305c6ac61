"""Tasks and inputs real applications produce: U+0000, lone surrogates, odd
retry delays, rows the worker cannot decode. Each one fails alone, clearly,
and never stalls the worker (SPEC §1, §5.5)."""

from __future__ import annotations

import asyncio
import math
import os

import pytest

import aqueue
from aqueue import JobStatus
from aqueue._worker.completer import Completer
from aqueue.records import Outcome
from tests.counting import pending
from tests.raw import set_column

NUL = "a\x00b"
SURROGATE = os.fsdecode(b"report-\xff.csv")  # a file name as os.listdir returns it


async def test_nul_round_trips_everywhere(queue: aqueue.Queue) -> None:
    @queue.task(name="echo", takes_context=True)
    async def echo(ctx: aqueue.JobContext, value: str, *, key: str) -> dict[str, str]:
        await ctx.set_progress({"seen": value})
        return {key: value}

    @queue.task(name="fail", max_attempts=1)
    async def fail(value: str) -> None:
        raise ValueError(value)

    job = await echo.enqueue(NUL, key=NUL)
    failing = await fail.enqueue(NUL)
    info = await job.refresh()
    assert (info.args, info.kwargs) == ([NUL], {"key": NUL})
    assert await queue.process(2) == 2
    assert await job.result(timeout=5) == {NUL: NUL}
    assert (await job.refresh()).progress == {"seen": NUL}
    with pytest.raises(aqueue.JobFailed) as excinfo:
        await failing.result(timeout=5)
    assert excinfo.value.message == NUL


async def test_lone_surrogate_argument_is_refused_and_nothing_written(
    queue: aqueue.Queue,
) -> None:
    @queue.task(name="t")
    async def t(*args: object, **kwargs: object) -> None:
        return None

    with pytest.raises(TypeError, match=r"positional argument 1 of task 't'.*lone surrogate"):
        await t.enqueue("fine", SURROGATE)
    with pytest.raises(TypeError, match=r"keyword argument 'name'.*lone surrogate"):
        await queue.enqueue_many([t.prepare(1), t.prepare(name=[SURROGATE])])
    with pytest.raises(ValueError, match="unique_key"):
        t.using(unique_key=NUL)
    assert await pending(queue) == 0


async def test_unwritable_results_and_errors_fail_alone(queue: aqueue.Queue) -> None:
    """A lone surrogate in an error message is stored escaped; in a result it
    fails the attempt with a clear error; every other job goes on."""

    @queue.task(name="bad_error", max_attempts=1)
    async def bad_error() -> None:
        raise FileNotFoundError(SURROGATE)

    @queue.task(name="bad_result", max_attempts=1)
    async def bad_result() -> str:
        return SURROGATE

    @queue.task(name="fine")
    async def fine(n: int) -> int:
        return n

    first = await bad_error.enqueue()
    second = await bad_result.enqueue()
    others = await queue.enqueue_many([fine.prepare(n) for n in range(20)])
    assert await queue.process(30) == 22
    with pytest.raises(aqueue.JobFailed) as excinfo:
        await first.result(timeout=5)
    assert excinfo.value.message == "report-\\udcff.csv"
    with pytest.raises(aqueue.JobFailed, match="lone surrogate") as excinfo:
        await second.result(timeout=5)
    assert excinfo.value.error_type == "TypeError"
    assert [await j.result(timeout=5) for j in others] == list(range(20))


@pytest.mark.parametrize("delay", [math.inf, -1.0, math.nan, 1e12])
async def test_retry_delay_must_be_finite_and_capped(queue: aqueue.Queue, delay: float) -> None:
    with pytest.raises(ValueError, match="Retry delay must be a finite number"):
        aqueue.Retry(delay=delay)

    @queue.task(name="retry_forever", max_attempts=2, backoff=aqueue.Backoff(base=0, jitter=0))
    async def retry_forever() -> None:
        raise aqueue.Retry(delay=delay)

    job = await retry_forever.enqueue()
    assert await queue.process(1) == 1
    info = await job.refresh()
    # The bad Retry() itself failed the attempt, with a clear stored error.
    assert info.status == JobStatus.QUEUED and info.error is not None
    assert info.error["type"] == "ValueError" and "Retry delay" in info.error["message"]
    assert await queue.process(1) == 1
    assert (await job.refresh()).status == JobStatus.FAILED


async def test_a_refused_outcome_never_blocks_the_batch(queue: aqueue.Queue) -> None:
    """The database refuses one outcome of a batch: it is stored as a plain
    failure; every other outcome of the batch, and the ones after, are written."""

    @queue.task(name="fine")
    async def fine() -> None:
        return None

    jobs = await queue.enqueue_many([fine.prepare() for _ in range(41)])
    claimed = await queue.backend.claim_jobs("w", None, 41, 30)
    written: list[str] = []
    completer = Completer(queue.backend, "w", written.extend)
    running = asyncio.create_task(completer.run())
    for n, job in enumerate(claimed):
        # Outcome 17 holds text no driver can send (it bypassed aqueue's checks).
        result = '"\udc80"' if n == 17 else str(n)
        completer.add(Outcome(job.id, job.attempts, JobStatus.SUCCEEDED, result=result))
    completer.close()
    await asyncio.wait_for(running, 30)
    assert len(completer) == 0 and completer.given_up == []
    poisoned = claimed[17].id
    infos = {j.id: await j.refresh() for j in jobs}
    assert infos[poisoned].status == JobStatus.FAILED
    assert infos[poisoned].error is not None
    assert (infos[poisoned].error or {}).get("type") == "UnstorableOutcome"
    assert all(i.status == JobStatus.SUCCEEDED for k, i in infos.items() if k != poisoned)
    assert set(written) == {j.id for j in jobs}


async def test_undecodable_arguments_fail_that_job_alone(queue: aqueue.Queue) -> None:
    ran: list[int] = []

    @queue.task(name="mate", max_attempts=3)
    async def mate(n: int) -> int:
        ran.append(n)
        return n

    jobs = await queue.enqueue_many([mate.prepare(n) for n in range(6)])
    # Valid JSON of the wrong shape everywhere; text that is not JSON where the
    # column is plain text.
    await set_column(queue, jobs[2].id, "args", '{"not": "a list"}')
    if queue.dialect != "postgresql":
        await set_column(queue, jobs[4].id, "kwargs", "not json at all")
    assert await queue.process(10) == 6
    bad = {2} if queue.dialect == "postgresql" else {2, 4}
    assert sorted(ran) == [n for n in range(6) if n not in bad]
    for n in bad:
        info = await jobs[n].refresh()
        assert info.status == JobStatus.FAILED and info.attempts == 1
        assert info.error is not None and info.error["type"].endswith("UndecodableArguments")
    # Listing such a row (aqueue jobs) says what is wrong instead of crashing.
    listed = {info.id: info for info in await queue.jobs.list()}
    if queue.dialect != "postgresql":
        assert listed[jobs[4].id].decode_error is not None
        assert "kwargs" in (listed[jobs[4].id].decode_error or "")
