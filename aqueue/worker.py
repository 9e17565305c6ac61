"""The worker: claims due jobs, runs them under a concurrency limit, records outcomes.

Its duties are small pieces that run side by side: the claim loop (below),
the :class:`~aqueue.completer.Completer`, the lease keeper (renews leases,
notices cancel requests and lost jobs, rescues expired leases) and, on
PostgreSQL, the listener that wakes the claim loop on NOTIFY.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from anyio import CapacityLimiter

from aqueue.backends.base import Listener
from aqueue.completer import Completer
from aqueue.errors import DatabaseUnavailable
from aqueue.execution import cancelled_outcome, run_job
from aqueue.records import ClaimedJob, JobStatus, Outcome

if TYPE_CHECKING:
    from aqueue.queue import Queue

log = logging.getLogger("aqueue.worker")

#: By default a worker holds claimed ahead only the jobs it expects to start
#: within this many seconds (see Worker._prefetch_target).
AHEAD_SECONDS = 0.1


@dataclass
class _Running:
    job: ClaimedJob
    started: float
    task: asyncio.Task[Outcome] | None = None
    cancel_requested: bool = False
    lease_lost: bool = False
    handed_back: bool = False


def worker_name() -> str:
    """``host:pid:random`` — unique per process, so a restarted worker reusing
    a host and pid never inherits another's jobs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """Runs jobs from ``queue`` until stopped (or, with ``burst``, until none is due)."""

    def __init__(
        self,
        queue: Queue,
        *,
        concurrency: int = 10,
        queues: Sequence[str] | None = None,
        burst: bool = False,
        max_jobs: int | None = None,
        shutdown_timeout: float = 30.0,
        lease: float = 30.0,
        poll_interval: float = 1.0,
        claim_batch: int = 100,
        prefetch: int | None = None,
        name: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if prefetch is not None and prefetch < 0:
            raise ValueError("prefetch must be >= 0")
        if lease <= 0 or poll_interval <= 0 or shutdown_timeout < 0:
            raise ValueError("lease and poll_interval must be > 0, shutdown_timeout >= 0")
        self.queue = queue
        self.concurrency = concurrency
        self.queues = list(queues) if queues else None
        self.burst = burst
        self.max_jobs = max_jobs
        self.shutdown_timeout = shutdown_timeout
        self.lease = lease
        self.poll_interval = poll_interval
        self.claim_batch = claim_batch
        self.prefetch = prefetch
        self.name = name or worker_name()
        #: Attempts finished with an outcome recorded (or being recorded).
        self.processed_count = 0
        #: The ids of the most recent of those (bounded: a worker runs for months).
        self.processed: deque[str] = deque(maxlen=1000)
        self._running: dict[str, _Running] = {}
        # Claimed ahead, not started yet (see _prefetch_target); leased like running jobs.
        self._ready: dict[str, ClaimedJob] = {}
        self._mean_duration: float | None = None
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._stopping = False
        self._hurry = asyncio.Event()
        self._claimed = 0

    # -- control -------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming and finish gracefully; a second call hurries the shutdown."""
        if self._stopping:
            log.warning("second stop request: handing back running jobs now")
            self._hurry.set()
        self._stopping = True
        self._wake.set()
        self._slot_freed.set()

    def _on_enqueue(self, queue_name: str) -> None:
        if self.queues is None or queue_name in self.queues:
            self._wake.set()

    def _on_notify(self, payload: str) -> None:
        # Payload: "<queue> <seconds until due>" (the queue may contain spaces),
        # or "*" after a reconnect, when anything may have been missed.
        if payload == "*":
            self._wake.set()
            return
        queue_name, _, due_in = payload.rpartition(" ")
        if self.queues is not None and queue_name not in self.queues:
            return
        try:
            delay = float(due_in)
        except ValueError:
            delay = 0.0
        if delay <= 0.001:
            self._wake.set()
        else:
            asyncio.get_running_loop().call_later(delay, self._wake.set)

    # -- main loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Run until stopped; returns after the graceful shutdown."""
        await self.queue.open()
        await self.queue.check_schema()
        backend = self.queue.backend
        # Sync tasks share a thread pool no larger than the concurrency.
        self._limiter = CapacityLimiter(self.concurrency)
        self.queue.enqueue_hooks.append(self._on_enqueue)
        completer = Completer(backend, self.name, self.queue.notify_done)
        self._completer = completer
        completer_task = asyncio.create_task(completer.run(), name="aqueue-completer")
        keeper_task = asyncio.create_task(self._keep_leases(), name="aqueue-lease-keeper")
        listener: Listener | None = None
        if backend.supports_notify:
            listener = await self._listen()
        log.info("worker %s started on %s (concurrency %d, queues %s)", self.name,
                 self.queue.dsn, self.concurrency, ",".join(self.queues or ["*"]))
        try:
            await self._claim_loop()
            await self._shut_down()
        finally:
            completer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(completer_task, max(5.0, self.shutdown_timeout))
            keeper_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await keeper_task
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()
            self.queue.enqueue_hooks.remove(self._on_enqueue)
            log.info("worker %s stopped after %d job attempts", self.name, self.processed_count)

    async def _listen(self) -> Listener | None:
        try:
            return await self.queue.backend.listen(self._on_notify, self.queue.notify_done)
        except DatabaseUnavailable as exc:
            log.warning("LISTEN failed, relying on polling: %s", exc)
            return None

    def _prefetch_target(self) -> int:
        """How many jobs to hold claimed ahead of free slots.

        Claiming ahead hides the claim's round trip behind running jobs, which
        is what lets short jobs run thousands a second. A job held ahead is not
        available to other workers, so by default the worker holds only what it
        expects to start within ``AHEAD_SECONDS``, judged by how long its jobs
        have been taking: many no-op jobs, none when jobs take seconds.
        ``prefetch`` fixes the number instead.
        """
        if self.prefetch is not None:
            return self.prefetch
        if self._mean_duration is None:
            return 0
        starts_per_second = self.concurrency / max(self._mean_duration, 1e-4)
        return min(self.claim_batch, int(starts_per_second * AHEAD_SECONDS))

    def _free_slots(self) -> int:
        ahead = self._prefetch_target()
        free = self.concurrency + ahead - len(self._running) - len(self._ready)
        if ahead and free < max(1, ahead // 2):
            free = 0  # claim ahead in batches, not one job per finished job
        if self.max_jobs is not None:
            free = min(free, self.max_jobs - self._claimed)
        return min(free, self.claim_batch)

    def _dispatch(self) -> None:
        """Start held jobs while slots are free."""
        while self._ready and len(self._running) < self.concurrency and not self._stopping:
            job_id = next(iter(self._ready))
            self._start(self._ready.pop(job_id))

    async def _claim_loop(self) -> None:
        backend = self.queue.backend
        failures = 0
        while not self._stopping:
            if self.max_jobs is not None and self._claimed >= self.max_jobs:
                # Done claiming: let every job run to its end (a signal still
                # interrupts this wait and starts the timed shutdown).
                while (self._running or self._ready) and not self._stopping:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                return
            free = self._free_slots()
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._wake.clear()
            try:
                jobs = await backend.claim_jobs(self.name, self.queues, free, self.lease)
            except Exception as exc:
                failures += 1
                pause = min(30.0, 0.2 * 2 ** min(failures, 8))
                if isinstance(exc, DatabaseUnavailable):
                    log.warning("cannot claim jobs (%s); retrying in %.1fs", exc, pause)
                else:
                    log.exception("unexpected error claiming jobs; retrying in %.1fs", pause)
                await self._sleep_unless_woken(pause)
                continue
            failures = 0
            self._claimed += len(jobs)
            for job in jobs:
                self._ready[job.id] = job
            self._dispatch()
            if len(jobs) == free:
                continue
            if self.burst:
                if self._running or self._ready:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                elif len(self._completer):
                    # Outcomes not yet written may queue retries that are due now.
                    await self._completer.flushed()
                elif not jobs:
                    return
                continue
            await self._sleep_unless_woken(self.poll_interval)

    async def _sleep_unless_woken(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    # -- running one job ---------------------------------------------------------------

    def _start(self, job: ClaimedJob) -> None:
        # One asyncio task per job, and the bookkeeping in its done-callback:
        # at thousands of jobs a second the per-job overhead is the worker's cost.
        running = _Running(job, time.monotonic())
        self._running[job.id] = running
        running.task = asyncio.create_task(
            run_job(self.queue.tasks.get(job.task), job, self.name, self.queue.backend,
                    self._limiter, self.queue.max_payload_bytes),
            name=f"aqueue-job-{job.id}")
        running.task.add_done_callback(lambda task: self._finished(running, task))

    def _finished(self, running: _Running, task: asyncio.Task[Outcome]) -> None:
        job = running.job
        outcome: Outcome | None = None
        try:
            if task.cancelled():
                # Stopped on purpose: a cancel request is recorded; a lost lease
                # or a hand-back records nothing (the job is someone else's, or
                # queued again); a worker torn down leaves it to lease expiry.
                if running.cancel_requested and not (running.lease_lost or running.handed_back):
                    outcome = cancelled_outcome(job)
            elif (exc := task.exception()) is not None:  # a bug in aqueue, not in the task
                log.error("job %s: internal error", job.id, exc_info=exc)
                from aqueue.execution import error_record

                outcome = Outcome(job.id, job.attempts, JobStatus.FAILED,
                                  error=error_record(exc))
            elif not running.lease_lost:
                outcome = task.result()
            if outcome is not None:
                self._log_outcome(job, outcome, time.monotonic() - running.started)
                self._completer.add(outcome)
                self.processed_count += 1
                self.processed.append(job.id)
                if outcome.status == JobStatus.QUEUED:
                    asyncio.get_running_loop().call_later(outcome.retry_delay, self._wake.set)
            elif running.lease_lost:
                log.warning("job %s (%s) attempt %d: lease lost, outcome discarded", job.id,
                            job.task, job.attempts)
        finally:
            duration = time.monotonic() - running.started
            mean = self._mean_duration
            self._mean_duration = duration if mean is None else 0.9 * mean + 0.1 * duration
            self._running.pop(job.id, None)
            self._dispatch()
            self._slot_freed.set()

    def _log_outcome(self, job: ClaimedJob, outcome: Outcome, duration: float) -> None:
        level = logging.INFO if outcome.status == JobStatus.SUCCEEDED else logging.WARNING
        if not log.isEnabledFor(level):
            return
        what = f"{'failed' if outcome.status == JobStatus.QUEUED else outcome.status.value}"
        what += f" in {duration:.3f}s"
        if outcome.status == JobStatus.QUEUED:
            what += f", retrying in {outcome.retry_delay:.2f}s"
        if outcome.error and outcome.status != JobStatus.SUCCEEDED:
            from aqueue import serialization

            error = serialization.decode(outcome.error)
            what += f": {error.get('type')}: {error.get('message')}"
        log.log(level, "job %s %s attempt %d/%d %s", job.id, job.task, job.attempts,
                job.max_attempts, what,
                extra={"job_id": job.id, "task": job.task, "attempt": job.attempts,
                       "duration": duration, "status": str(outcome.status)})

    # -- leases ---------------------------------------------------------------------------

    async def _keep_leases(self) -> None:
        backend = self.queue.backend
        renew_every = max(0.05, self.lease / 3)
        rescue_every = max(0.5, self.lease / 2)
        next_rescue = 0.0
        while True:
            try:
                if time.monotonic() >= next_rescue:
                    next_rescue = time.monotonic() + rescue_every
                    rescued = await backend.rescue_expired_leases()
                    if rescued:
                        log.warning("rescued %d jobs whose worker stopped renewing its lease",
                                    rescued)
                        self._wake.set()
                await self._renew(backend)
            except DatabaseUnavailable as exc:
                log.warning("cannot renew leases: %s", exc)
            except Exception:
                log.exception("unexpected error renewing leases")
            await asyncio.sleep(renew_every)

    async def _renew(self, backend: Any) -> None:
        before = dict(self._running)
        ready = dict(self._ready)
        job_ids = [*before, *ready, *self._completer.pending_ids()]
        if not job_ids:
            return
        states = await backend.renew_leases(self.name, job_ids, self.lease)
        held = {(s.id, s.attempts): s for s in states}
        for job_id, job in ready.items():
            if self._ready.get(job_id) is not job:
                continue  # started meanwhile: checked as a running job next time
            state = held.get((job_id, job.attempts))
            if state is None:
                del self._ready[job_id]
                log.warning("job %s: lease lost (rescued elsewhere) before it started", job_id)
            elif state.cancel_requested:
                del self._ready[job_id]
                log.info("job %s: cancelled before it started", job_id)
                self._completer.add(cancelled_outcome(job))
        for job_id, running in before.items():
            if self._running.get(job_id) is not running or running.task is None:
                continue
            state = held.get((job_id, running.job.attempts))
            if state is None:
                if not running.lease_lost:
                    running.lease_lost = True
                    log.warning("job %s: lease lost (rescued elsewhere); stopping it", job_id)
                    running.task.cancel()
            elif state.cancel_requested and not running.cancel_requested:
                running.cancel_requested = True
                log.info("job %s: cancel requested; stopping it", job_id)
                running.task.cancel()

    # -- shutdown ---------------------------------------------------------------------------

    async def _hand_back(self, pairs: list[tuple[str, int]]) -> None:
        for attempt in range(5):
            try:
                count = await self.queue.backend.hand_back(pairs)
                log.warning("handed back %d unfinished jobs", count)
                return
            except DatabaseUnavailable as exc:
                log.warning("cannot hand back jobs (%s); their leases will expire", exc)
                await asyncio.sleep(0.2 * 2**attempt)

    async def _shut_down(self) -> None:
        # Jobs claimed ahead never started: back to the queue at once, for
        # other workers, rather than after the running jobs' grace period.
        never_started = [(job.id, job.attempts) for job in self._ready.values()]
        self._ready.clear()
        if never_started:
            await self._hand_back(never_started)
        if self._running:
            log.info("waiting up to %.0fs for %d running jobs", self.shutdown_timeout,
                     len(self._running))
            hurry = asyncio.create_task(self._hurry.wait())
            deadline = time.monotonic() + self.shutdown_timeout
            while self._running and not self._hurry.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                pending = [r.task for r in self._running.values() if r.task is not None]
                await asyncio.wait([*pending, hurry], timeout=left,
                                   return_when=asyncio.FIRST_COMPLETED)
            hurry.cancel()
        leftovers = list(self._running.values())
        if leftovers:
            for running in leftovers:
                running.handed_back = True
                if running.task is not None:
                    running.task.cancel()
            tasks = [r.task for r in leftovers if r.task is not None]
            if tasks:
                await asyncio.wait(tasks, timeout=5.0)
            await self._hand_back([(r.job.id, r.job.attempts) for r in leftovers])
        self._completer.close()
        await self._completer.flushed()
