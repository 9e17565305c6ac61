"""The attempts a worker runs: each an asyncio task, its end an outcome.

A worker tracks each attempt by ``(job id, attempt)``: an old attempt it lost
can never be confused with a newer one of the same job. One asyncio task per
job, and the bookkeeping in its done-callback: at thousands of jobs a second
the per-job overhead is the worker's cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from aqueue import serialization
from aqueue._worker.execution import cancelled_outcome, error_record
from aqueue._worker.lease_keeper import Key, LeaseKeeper
from aqueue._worker.output import Captured
from aqueue.errors import DatabaseUnavailable
from aqueue.escape import printable
from aqueue.observer import WorkerObserver
from aqueue.records import ClaimedJob, JobStatus, LeaseState, Outcome
from aqueue.service import Service
from aqueue.signals import Signal

log = logging.getLogger("aqueue.worker")
#: One line per finished attempt (successes at DEBUG unless ``log_jobs``).
job_log = logging.getLogger("aqueue.jobs")


@dataclass
class Running:
    """An attempt in progress, and why it was stopped, if it was."""

    job: ClaimedJob
    started: float
    task: asyncio.Task[Outcome] | None = None
    cancel_requested: bool = False
    lease_lost: bool = False
    handed_back: bool = False
    #: Where its output goes, when its task captures it.
    output: Captured | None = None


def outcome_name(outcome: Outcome) -> str:
    """``succeeded``, ``failed``, ``retried``, ``snoozed`` or ``cancelled``."""
    if outcome.status == JobStatus.QUEUED:
        return "snoozed" if outcome.snoozed else "retried"
    return outcome.status.value


def counts(tally: Counter[str]) -> str:
    return ", ".join(f"{count} {what}" for what, count in sorted(tally.items()))


class Attempts:
    """Starts attempts, stops them (cancel requests, lost leases, shutdown),
    and turns each end into an outcome for ``ended(job, outcome, duration)``.

    ``capture(job)`` gives the buffer an attempt's output is kept in, for
    tasks that capture it (see :mod:`aqueue._worker.output`); the outcome
    carries what the attempt wrote, however it ended."""

    def __init__(
        self,
        worker: str,
        run: Callable[[ClaimedJob, Captured | None], Awaitable[Outcome]],
        keeper: LeaseKeeper,
        ended: Callable[[ClaimedJob, Outcome, float], None],
        freed: Callable[[], None],
        lease_lost: Signal[int],
        *,
        log_jobs: bool = False,
        capture: Callable[[ClaimedJob], Captured | None] | None = None,
    ) -> None:
        self._worker = worker
        self._capture = capture
        self._run = run
        self._keeper = keeper
        self._ended = ended
        self._freed = freed
        self._lease_lost = lease_lost
        #: Log each successful attempt at INFO (else at DEBUG; failures always at WARNING).
        self.log_jobs = log_jobs
        self.observer: WorkerObserver | None = None
        self.running: dict[Key, Running] = {}
        #: Mean duration of recent attempts (for how many to claim ahead).
        self.mean_duration: float | None = None
        self.tally: Counter[str] = Counter()  # since the last summary line
        self.totals: Counter[str] = Counter()  # before that
        # Handed-over attempts whose lease may have ended before this worker
        # heard of them: renewed before they start (see _attempt).
        self._verify_first: set[Key] = set()

    def __len__(self) -> int:
        return len(self.running)

    def start(self, job: ClaimedJob, verify: bool = False) -> None:
        running = Running(job, time.monotonic())
        if self._capture is not None:
            running.output = self._capture(job)
        self.running[job.key] = running
        if verify:
            self._verify_first.add(job.key)
        if self.observer is not None:
            self.observer.job_started(job)
        running.task = asyncio.create_task(self._attempt(running), name=f"aqueue-job-{job.id}")
        running.task.add_done_callback(lambda task: self._finished(running, task))

    async def _attempt(self, running: Running) -> Outcome:
        job = running.job
        verify = job.key in self._verify_first
        self._verify_first.discard(job.key)
        if verify or not self._keeper.up_to_date():
            # This worker was stalled (SIGSTOP, a blocking call, a long pause)
            # past its lease since it claimed the job, or heard of a job handed
            # over late: another worker may have rescued it meanwhile. Ask
            # before running anything; a renewal that finds the job gone
            # cancels this task (see renewed).
            with contextlib.suppress(DatabaseUnavailable):
                await self._keeper.renew()
            await asyncio.sleep(0)  # a cancel the renewal made is delivered here
        return await self._run(job, running.output)

    def _finished(self, running: Running, task: asyncio.Task[Outcome]) -> None:
        job = running.job
        outcome: Outcome | None = None
        duration = time.monotonic() - running.started
        try:
            if task.cancelled():
                # Stopped on purpose: a cancel request is recorded; a lost lease
                # or a hand-back records nothing (the job is someone else's, or
                # queued again); a worker torn down leaves it to lease expiry.
                if running.cancel_requested and not (running.lease_lost or running.handed_back):
                    outcome = cancelled_outcome(job)
            elif (exc := task.exception()) is not None:  # a bug in aqueue, not in the task
                log.error("job %s: internal error", job.id, exc_info=exc)
                outcome = Outcome(job.id, job.attempts, JobStatus.FAILED, error=error_record(exc))
            elif not running.lease_lost:
                outcome = task.result()
            if outcome is not None and running.output is not None:
                outcome = replace(outcome, output=running.output.entry())
            if outcome is not None:
                what = outcome_name(outcome)
                self.tally[what] += 1
                if self.observer is not None:
                    self.observer.job_finished(job, what, duration)
                self._log_outcome(job, outcome, duration)
                self._ended(job, outcome, duration)
            elif running.lease_lost:
                log.warning(
                    "job %s (%s) attempt %d: lease lost, outcome discarded",
                    job.id,
                    printable(job.task),
                    job.attempts,
                )
        finally:
            mean = self.mean_duration
            self.mean_duration = duration if mean is None else 0.9 * mean + 0.1 * duration
            if self.running.get(job.key) is running:
                del self.running[job.key]
            self._freed()

    def _log_outcome(self, job: ClaimedJob, outcome: Outcome, duration: float) -> None:
        # One line per job costs a busy worker a good share of its throughput
        # (docs/observability.md), so successes are DEBUG unless asked for.
        if outcome.status == JobStatus.SUCCEEDED or outcome.snoozed:
            level = logging.INFO if self.log_jobs else logging.DEBUG
        else:
            level = logging.WARNING
        if not job_log.isEnabledFor(level):
            return
        if outcome.snoozed:
            what = f"snoozed in {duration:.3f}s, again in {outcome.retry_delay:.2f}s"
        elif outcome.status == JobStatus.QUEUED:
            what = f"failed in {duration:.3f}s, retrying in {outcome.retry_delay:.2f}s"
        else:
            what = f"{outcome.status.value} in {duration:.3f}s"
        error_type = None
        if outcome.error and outcome.status != JobStatus.SUCCEEDED:
            # The task's own text: escaped, so that no handler prints a
            # terminal's escape sequence or a forged line.
            error = serialization.decode(outcome.error)
            error_type = printable(str(error.get("type")))
            what += f": {error_type}: {printable(str(error.get('message'))[:1000])}"
        job_log.log(
            level,
            "job %s %s attempt %d/%d %s",
            job.id,
            printable(job.task),
            job.attempts,
            job.max_attempts,
            what,
            extra={
                "job_id": job.id,
                "task": job.task,
                "queue": job.queue,
                "attempt": job.attempts,
                "duration": round(duration, 6),
                "status": {"retried": "retrying"}.get(outcome_name(outcome), str(outcome.status)),
                "worker": self._worker,
                "error_type": error_type,
            },
        )

    # -- stopping attempts ---------------------------------------------------------

    def cancel(self, job_id: str) -> None:
        """A cancel was requested for ``job_id``: stop its running attempt."""
        for running in list(self.running.values()):
            if running.job.id == job_id and not running.cancel_requested:
                running.cancel_requested = True
                log.info("job %s: cancel requested; stopping it", job_id)
                if running.task is not None:
                    running.task.cancel()

    def renewed(self, key: Key, state: LeaseState | None) -> None:
        """A renewal's word on a running attempt: gone (rescued elsewhere), or
        to be cancelled."""
        running = self.running.get(key)
        if running is None or running.task is None:
            return  # an outcome being written: the write's fence decides
        if state is None:
            if not running.lease_lost:
                running.lease_lost = True
                self._lease_lost.emit(1)
                log.warning(
                    "job %s attempt %d: lease lost (rescued elsewhere); stopping it", key[0], key[1]
                )
                running.task.cancel()
        elif state.cancel_requested and not running.cancel_requested:
            running.cancel_requested = True
            log.info("job %s: cancel requested; stopping it", key[0])
            running.task.cancel()

    def hand_back_all(self) -> list[Running]:
        """Stop every attempt for a hand-back (shutdown); the ones stopped."""
        leftovers = list(self.running.values())
        for running in leftovers:
            running.handed_back = True
            if running.task is not None:
                running.task.cancel()
        return leftovers

    def tasks(self) -> list[asyncio.Task[Outcome]]:
        return [r.task for r in self.running.values() if r.task is not None]


class Summaries(Service):
    """Every ``interval`` seconds, one INFO line: what finished since the last."""

    duty = "sum up finished attempts"

    def __init__(self, attempts: Attempts, interval: float) -> None:
        super().__init__(interval, jitter=0.0)
        self._attempts = attempts

    async def step(self) -> None:
        tally = self._attempts.tally
        self._attempts.tally = Counter()
        self._attempts.totals.update(tally)
        if tally:
            log.info(
                "%d job attempts finished in the last %gs: %s",
                tally.total(),
                self.interval,
                counts(tally),
            )
