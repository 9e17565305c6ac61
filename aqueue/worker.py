"""The worker: claims due jobs, runs them under a concurrency limit, records outcomes.

The claim loop (below) runs beside small services, each with one duty, under
one task group: the :class:`~aqueue.completer.Completer` (writes outcomes),
the :class:`~aqueue.lease_keeper.LeaseKeeper` (renews leases, learns of lost
jobs and cancel requests), the :class:`~aqueue.rescuer.Rescuer` (puts back
jobs of dead workers), the :class:`~aqueue.loop_monitor.LoopMonitor` (logs a
blocked event loop) and, on PostgreSQL, the listener (wakes the claim loop,
brings cancel requests at once).

A worker tracks each attempt by ``(job id, attempt)``: an old attempt it lost
can never be confused with a newer one of the same job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aqueue._version import __version__
from aqueue.backends.base import Listener
from aqueue.cancel_watch import CancelWatch
from aqueue.completer import Completer
from aqueue.errors import DatabaseUnavailable, UnknownTask
from aqueue.escape import printable
from aqueue.execution import cancelled_outcome, error_record, run_job
from aqueue.heartbeat import Heartbeat
from aqueue.lease_keeper import Key, LeaseKeeper
from aqueue.limits import LimitedClaim, TaskLimit
from aqueue.loop_monitor import LoopMonitor
from aqueue.node import node_id
from aqueue.observer import WorkerObserver
from aqueue.offers import Offers
from aqueue.periodic import Scheduler
from aqueue.records import ClaimedJob, JobStatus, LeaseState, Outcome, WorkerRegistration
from aqueue.rescuer import Rescuer
from aqueue.retention import Retention
from aqueue.signals import Signals
from aqueue.threads import SyncRunner

if TYPE_CHECKING:
    from aqueue.queue import Queue

log = logging.getLogger("aqueue.worker")
#: One line per finished attempt (successes at DEBUG unless ``log_jobs``).
job_log = logging.getLogger("aqueue.jobs")

#: By default a worker holds claimed ahead only the jobs it expects to start
#: within this many seconds (see Worker._prefetch_target).
AHEAD_SECONDS = 0.1
#: How often a worker without limited tasks looks for jobs with a limit key.
LIMITED_PROBE_SECONDS = 2.0
#: How long a worker waits to claim limited jobs again after finding none it
#: could take (sooner when one of its limited jobs' outcomes is written).
LIMITED_REST_SECONDS = 0.05


@dataclass
class _Running:
    job: ClaimedJob
    started: float
    task: asyncio.Task[Outcome] | None = None
    cancel_requested: bool = False
    lease_lost: bool = False
    handed_back: bool = False


def _counts(tally: Counter[str]) -> str:
    return ", ".join(f"{count} {what}" for what, count in sorted(tally.items()))


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
        probe_interval: float | None = None,
        claim_batch: int = 100,
        prefetch: int | None = None,
        name: str | None = None,
        register: bool = True,
        periodic: bool = True,
        handover: bool = True,
        retention: Mapping[str, float] | None = None,
        retention_interval: float = 60.0,
        observer: WorkerObserver | None = None,
        log_jobs: bool = False,
        summary_interval: float = 60.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if prefetch is not None and prefetch < 0:
            raise ValueError("prefetch must be >= 0")
        if lease <= 0 or poll_interval <= 0 or shutdown_timeout < 0:
            raise ValueError("lease and poll_interval must be > 0, shutdown_timeout >= 0")
        if probe_interval is not None and probe_interval < 0:
            raise ValueError("probe_interval must be >= 0 (0: no probes)")
        self.queue = queue
        self.concurrency = concurrency
        self.queues = list(queues) if queues else None
        self.burst = burst
        self.max_jobs = max_jobs
        self.shutdown_timeout = shutdown_timeout
        self.lease = lease
        self.poll_interval = poll_interval
        #: Seconds between an idle worker's "is anything due" reads when the
        #: database cannot notify it (None: the backend's default; 0: none).
        self.probe_interval = probe_interval
        self._notified = False  # a listener tells this worker of new jobs
        self.claim_batch = claim_batch
        self.prefetch = prefetch
        self.name = name or worker_name()
        #: Told of each job, claim and outcome write (see :meth:`observe`).
        self.observer: WorkerObserver | None = None
        #: Log each successful attempt at INFO (else at DEBUG; failures always at WARNING).
        self.log_jobs = log_jobs
        #: Seconds between the INFO lines that sum up the attempts finished (0: none).
        self.summary_interval = summary_interval
        self._tally: Counter[str] = Counter()  # since the last summary line
        self._totals: Counter[str] = Counter()  # before that
        #: More coroutines to run beside the claim loop for the worker's life
        #: (the metrics' queue-depth sampler is one); cancelled at shutdown.
        self.services: list[Callable[[], Coroutine[Any, Any, None]]] = []
        #: Whether this worker keeps the queue's periodic schedules (burst runs never do).
        self.periodic = periodic
        #: Whether, idle on PostgreSQL, it offers to take jobs straight from
        #: producers (aqueue/offers.py); burst runs and --max-jobs never do.
        self.handover = handover
        #: Deletes finished jobs past their age (burst runs never do); ``retention``
        #: overrides the queue's policy.
        self.retention = Retention(queue, retention, retention_interval)
        #: Attempts finished with an outcome recorded (or being recorded).
        self.processed_count = 0
        #: The ids of the most recent of those (bounded: a worker runs for months).
        self.processed: deque[str] = deque(maxlen=1000)
        self._running: dict[Key, _Running] = {}
        # Claimed ahead, not started yet (see _prefetch_target); leased like running jobs.
        self._ready: dict[Key, ClaimedJob] = {}
        self._mean_duration: float | None = None
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._stopping = False
        self._stopped = asyncio.Event()
        self._hurry = asyncio.Event()
        # time.monotonic() of the shutdown deadline (the first stop request
        # plus shutdown_timeout) and of the second stop request.
        self._deadline: float | None = None
        self._hurried_at: float | None = None
        # When everything, connections included, must be over.
        self._end_by: float | None = None
        self._claimed = 0
        # Where the next limited claim starts (keys are served in turn), and
        # when a worker without limited tasks last looked for limited jobs.
        self._limit_cursor: tuple[str, str] | None = None
        self._limited_probed = -math.inf
        # After a limited claim that took nothing, the next waits this long
        # (LIMITED_REST_SECONDS) unless a limited job's outcome is written here
        # first: a key at its limit is not locked and counted on every claim.
        self._limited_rest_until = -math.inf
        self._limited_held = False
        self._limited_pending = False
        self._limited_unwritten: set[str] = set()
        self._limits: dict[str, TaskLimit] = {}
        # One timer for the earliest known due time, however many are notified.
        self._timer: asyncio.TimerHandle | None = None
        self._recovering: asyncio.Task[None] | None = None
        # Handed-over attempts whose lease may have ended before this worker
        # heard of them: renewed before they start (see _attempt).
        self._verify_first: set[Key] = set()
        # Hand-backs of jobs handed over with no free slot, under way.
        self._giving_back: set[asyncio.Future[None]] = set()
        self._sync = SyncRunner(concurrency, on_thread_freed=self._slot_freed.set)
        self._completer = Completer(queue.backend, self.name, self._on_written)
        self.keeper = LeaseKeeper(queue.backend, self.name, lease, self._held,
                                  self._on_renewed)
        #: This worker's offer to take jobs straight from producers while idle
        #: (aqueue/offers.py: PostgreSQL, with LISTEN, not in burst runs).
        self.offers = Offers(queue.backend, self.name, self.queues, lease, self._handed_over,
                             self._held)
        node = node_id() if register else None
        self.rescuer = Rescuer(queue.backend, self.keeper, self._on_rescued, node=node,
                               name=self.name)
        self.loop_monitor = LoopMonitor()
        self.heartbeat: Heartbeat | None = None
        if register:
            self.heartbeat = Heartbeat(queue.backend, WorkerRegistration(
                name=self.name, host=socket.gethostname(), pid=os.getpid(), queues=self.queues,
                concurrency=concurrency, version=__version__, node=node), ttl=lease)
        #: What the worker has done so far, to wait on (see :class:`Signals`).
        self.signals = Signals()
        if observer is not None:
            self.observe(observer)

    def observe(self, observer: WorkerObserver) -> None:
        """Report each job, claim, outcome write and signal to ``observer``
        (see :mod:`aqueue.observer`; :mod:`aqueue.metrics` is one)."""
        self.observer = observer
        self.signals.listener = observer.event
        self._completer.on_write_time = observer.outcomes_written

    @property
    def running_count(self) -> int:
        """Attempts running now."""
        return len(self._running)

    @property
    def held_ahead(self) -> int:
        """Jobs claimed ahead of a free slot, not started yet."""
        return len(self._ready)

    @property
    def outcome_backlog(self) -> int:
        """Finished attempts whose outcome is not written yet."""
        return len(self._completer)

    # -- control -------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming and finish within ``shutdown_timeout``; a second call
        hurries the shutdown (over within a second)."""
        now = time.monotonic()
        if self._stopping:
            if self._hurried_at is None:
                log.warning("second stop request: handing back running jobs now")
                self._hurried_at = now
            self._hurry.set()
        else:
            self._deadline = now + self.shutdown_timeout
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        self._slot_freed.set()

    def time_left(self) -> float:
        """Seconds left to close connections in, once stopping (the rest of the
        shutdown's time, at least a moment); before that, a few seconds."""
        if self._end_by is None:
            return 3.0
        end = self._end_by
        if self._hurried_at is not None:
            end = min(end, self._hurried_at + 1.0)
        return max(0.05, end - time.monotonic())

    def _on_written(self, job_ids: list[str]) -> None:
        if self._limited_unwritten:
            before = len(self._limited_unwritten)
            self._limited_unwritten.difference_update(job_ids)
            if len(self._limited_unwritten) < before:
                self._limited_rest_until = -math.inf  # a limited place may be free
                if self._limited_held:
                    self._wake.set()
        self.queue.notify_done(job_ids)
        self._slot_freed.set()  # a smaller backlog may free claims
        self.signals.emit("written", len(job_ids))

    def _on_rescued(self, count: int) -> None:
        self._wake.set()
        self.signals.emit("rescued", count)

    def _on_enqueue(self, queue_name: str) -> None:
        if self.queues is None or queue_name in self.queues:
            self._wake.set()

    def _wake_in(self, delay: float) -> None:
        """Wake the claim loop after ``delay`` seconds (at once when due)."""
        if delay <= 0.001:
            self._wake.set()
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        timer = self._timer
        if timer is not None and not timer.cancelled() and loop.time() < timer.when() <= when:
            return  # an earlier wake-up is set already; the claim then sets the next
        if timer is not None:
            timer.cancel()
        self._timer = loop.call_at(when, self._wake.set)

    def _on_notify(self, payload: str) -> None:
        # Payload: "<queue> <seconds until due>" (the queue may contain spaces),
        # or "*" after a reconnect, when anything may have been missed.
        if payload == "*":
            self._wake.set()
            if self.offers.enabled:
                self._recovering = asyncio.create_task(self.offers.recover(),
                                                       name="aqueue-offer-recovery")
            return
        queue_name, _, due_in = payload.rpartition(" ")
        if self.queues is not None and queue_name not in self.queues:
            return
        try:
            delay = float(due_in)
        except ValueError:
            delay = 0.0
        self._wake_in(delay)

    def _on_cancel(self, job_id: str) -> None:
        """A cancel was requested for a running job (PostgreSQL tells at once)."""
        for key, job in list(self._ready.items()):
            if key[0] == job_id:
                del self._ready[key]
                log.info("job %s: cancelled before it started", job_id)
                self._completer.add(cancelled_outcome(job))
        for running in list(self._running.values()):
            if running.job.id == job_id and not running.cancel_requested:
                running.cancel_requested = True
                log.info("job %s: cancel requested; stopping it", job_id)
                if running.task is not None:
                    running.task.cancel()

    # -- main loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Run until stopped; returns after the graceful shutdown."""
        await self.queue.open()
        await self.queue.check_schema()
        self.queue.enqueue_hooks.append(self._on_enqueue)
        listener: Listener | None = None
        if self.queue.backend.supports_notify:
            listener = await self._listen()
        self._notified = listener is not None
        if self.heartbeat is not None:
            await self.heartbeat.register()
        log.info("worker %s started on %s (concurrency %d, queues %s)", self.name,
                 self.queue.dsn, self.concurrency, ",".join(self.queues or ["*"]))
        try:
            async with asyncio.TaskGroup() as services:
                started = [
                    services.create_task(self._completer.run(), name="aqueue-completer"),
                    services.create_task(self.keeper.run(), name="aqueue-lease-keeper"),
                    services.create_task(self.rescuer.run(), name="aqueue-rescuer"),
                    services.create_task(self.loop_monitor.run(), name="aqueue-loop-monitor"),
                ]
                if self.heartbeat is not None:
                    started.append(services.create_task(self.heartbeat.run(),
                                                        name="aqueue-heartbeat"))
                if self.retention.wanted() and not self.burst:
                    started.append(services.create_task(self.retention.run(),
                                                        name="aqueue-retention"))
                if self.summary_interval > 0:
                    started.append(services.create_task(self._summaries(),
                                                        name="aqueue-summary"))
                if listener is None:
                    # Nothing tells this worker of cancel requests: it asks.
                    watch = CancelWatch(self.queue.backend, self.name, self._held_ids,
                                        self._on_cancel)
                    started.append(services.create_task(watch.run(), name="aqueue-cancels"))
                for extra in self.services:
                    started.append(services.create_task(extra(), name="aqueue-service"))
                if self.periodic and self.queue.schedules and not self.burst:
                    scheduler = Scheduler(self.queue, self.queue.schedules)
                    started.append(services.create_task(scheduler.run(),
                                                        name="aqueue-periodic"))
                try:
                    await self._claim_until_stopped()
                    await self._shut_down()
                finally:
                    for service in started:
                        service.cancel()
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if self._recovering is not None:
                self._recovering.cancel()
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close(self.time_left())
            self._sync.close()
            self.queue.enqueue_hooks.remove(self._on_enqueue)
            totals = self._totals + self._tally
            log.info("worker %s stopped after %d job attempts%s", self.name, self.processed_count,
                     f" ({_counts(totals)})" if totals else "")

    async def _claim_until_stopped(self) -> None:
        """Run the claim loop until it ends (burst, --max-jobs) or a stop; a
        database call it has in flight then gets until the shutdown deadline
        (nothing more after a second stop request) — in an outage nothing answers."""
        claiming = asyncio.create_task(self._claim_loop(), name="aqueue-claim-loop")
        stopped = asyncio.create_task(self._stopped.wait())
        try:
            await asyncio.wait([claiming, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not claiming.done():
            assert self._deadline is not None
            await self._within(self._deadline, claiming, "the claim in flight", hurried=0.0,
                               log_failure=False)
        if claiming.done() and not claiming.cancelled() and claiming.exception() is not None:
            raise claiming.exception()  # type: ignore[misc]

    async def _listen(self) -> Listener | None:
        backend = self.queue.backend
        # A worker that stops when idle (--burst) or after --max-jobs never offers.
        offering = (self.handover and backend.supports_handover and not self.burst
                    and self.max_jobs is None)
        try:
            listener = await backend.listen(self._on_notify, self.queue.notify_done,
                                            self._on_cancel,
                                            self.offers.heard if offering else None)
        except DatabaseUnavailable as exc:
            log.warning("LISTEN failed, relying on polling: %s", exc)
            return None
        self.offers.enabled = offering and listener is not None
        return listener

    def _handed_over(self, job: ClaimedJob, verify: bool) -> None:
        """A producer handed this idle worker a job (aqueue/offers.py): it starts
        as a claimed job does; with ``verify``, once its lease is renewed. One
        that arrives when no slot is free (a producer took the offer just as a
        claim filled the slots) is handed back at once, for another worker."""
        if self._open_slots() <= 0 or self._stopping:
            log.info("job %s handed over with no free slot: handing it back", job.id)
            giving_back = asyncio.ensure_future(self._hand_back([job.key]))
            self._giving_back.add(giving_back)
            giving_back.add_done_callback(self._giving_back.discard)
            return
        if verify:
            self._verify_first.add(job.key)
        self._claimed += 1
        self.signals.emit("claimed", 1)
        self.signals.emit("handed_over", 1)
        self._ready[job.key] = job
        self._dispatch()
        self._wake.set()  # claim again, and offer again when idle

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

    def _busy(self) -> int:
        """Slots taken: running jobs, and threads of sync jobs that were stopped
        but cannot be (see :mod:`aqueue.threads`)."""
        return len(self._running) + self._sync.abandoned

    def _free_slots(self) -> int:
        ahead = self._prefetch_target()
        # Outcomes waiting to be written count too, past one claim's worth: the
        # backlog stays bounded however long the database refuses them.
        backlog = max(0, len(self._completer) - self.claim_batch)
        free = self.concurrency + ahead - self._busy() - len(self._ready) - backlog
        if ahead and free < max(1, ahead // 2):
            free = 0  # claim ahead in batches, not one job per finished job
        if self.max_jobs is not None:
            free = min(free, self.max_jobs - self._claimed)
        return min(free, self.claim_batch)

    def _open_slots(self) -> int:
        """Slots no running or held job fills: what a hand-over would start in."""
        return max(0, self.concurrency - self._busy() - len(self._ready))

    async def _claim(self, limit: int, claimed: int) -> list[ClaimedJob]:
        """Claim up to ``limit`` jobs (``claimed`` already taken by this turn's
        limited claim). While this worker's offer stands, a claim that fills
        its slots withdraws it in the same statement (aqueue/offers.py)."""
        backend = self.queue.backend
        if not self.offers.standing:
            return await backend.claim_jobs(self.name, self.queues, limit, self.lease)
        slots = max(0, self._open_slots() - claimed)
        jobs = await backend.claim_jobs_withdrawing(self.name, self.queues, limit, self.lease,
                                                    slots)
        if len(jobs) >= slots:
            self.offers.withdrawn_by_claim()
        return jobs

    def _dispatch(self) -> None:
        """Start held jobs while slots are free."""
        while self._ready and self._busy() < self.concurrency and not self._stopping:
            self._start(self._ready.pop(next(iter(self._ready))))

    async def _claim_limited(
        self, limits: dict[str, TaskLimit], free: int
    ) -> tuple[list[ClaimedJob], str | None]:
        """Claim jobs that carry a limit key (see :mod:`aqueue.limits`).

        Only for slots free now, never ahead: a job held ahead would count as
        started, for its rate, before it starts. A worker without limited
        tasks still looks now and then, for jobs whose producer gave them limits
        this worker does not know (it runs them unlimited rather than never).

        Also says what the claim loop should wait for when the claim comes up
        short: ``"slot"`` (limited jobs are due, no slot is free now),
        ``"limit"`` (due jobs are held back by their limits), or None.
        """
        room = min(free, self.concurrency - self._busy() - len(self._ready))
        now = time.monotonic()
        if room <= 0:
            return [], "slot" if self._limited_pending else None
        if now < self._limited_rest_until:
            return [], "limit" if self._limited_held else None
        if not limits:
            if now - self._limited_probed < LIMITED_PROBE_SECONDS:
                return [], None
            self._limited_probed = now
        slots = self._open_slots() if self.offers.standing else None
        result = await self.queue.backend.claim_limited(
            self.name, self.queues, room, self.lease,
            LimitedClaim(limits, self._limit_cursor, withdraw_offer_at=slots))
        if slots is not None and len(result.jobs) >= slots:
            self.offers.withdrawn_by_claim()
        self._limit_cursor = result.cursor
        self._limited_held = result.held_back
        # It took all it could: more may be due for the next free slot.
        self._limited_pending = result.held_back or len(result.jobs) == room
        if not result.jobs:
            self._limited_rest_until = now + LIMITED_REST_SECONDS
        if result.held_back and not result.jobs:
            return [], "limit"
        return result.jobs, "slot" if self._limited_pending else None

    async def _claim_loop(self) -> None:
        limits = {name: t.limit for name, t in self.queue.tasks.items() if t.limit is not None}
        self._limits = limits
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
            began = time.perf_counter()
            try:
                jobs, waiting = await self._claim_limited(limits, free)
                if len(jobs) < free:
                    jobs += await self._claim(free - len(jobs), len(jobs))
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
            if self.observer is not None:
                self.observer.claimed(len(jobs), time.perf_counter() - began)
            self._claimed += len(jobs)
            self.signals.emit("claimed", len(jobs))
            for job in jobs:
                self._ready[job.key] = job
            self._dispatch()
            if len(jobs) == free:
                continue
            if waiting == "slot":
                # Limited jobs are due, and are only claimed for a free slot.
                if self._running or self._ready:
                    self._slot_freed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._slot_freed.wait(), self.poll_interval)
                continue
            if waiting == "limit":
                # Held back by their limits: look again soon (a place frees, a
                # rate window moves on) or when woken.
                await self._sleep_unless_woken(min(self.poll_interval, LIMITED_REST_SECONDS))
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
            await self._idle(self.poll_interval)

    async def _idle(self, seconds: float) -> None:
        """Wait ``seconds`` for a wake-up; a worker no notification reaches
        asks the database meanwhile whether a job is due — one cheap read
        instead of a claim's locking transaction."""
        try:
            await self.offers.stand()
        except DatabaseUnavailable:
            pass  # the next claim reports it, and backs off
        except Exception:
            # An optimisation must not stop the worker: it claims from now on.
            log.exception("standing this worker's offer failed; it claims every job now")
            self.offers.enabled = False
        probe = self.probe_interval
        if probe is None:
            probe = self.queue.backend.idle_probe_interval
        if self._notified or probe <= 0 or probe >= seconds:
            await self._sleep_unless_woken(seconds)
            return
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            await self._sleep_unless_woken(min(probe, left))
            if self._wake.is_set() or self._stopping:
                return
            try:
                if await self.queue.backend.has_due(self.queues):
                    return
            except Exception:  # the claim that follows reports it, and backs off
                return

    async def _sleep_unless_woken(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    # -- running one job ---------------------------------------------------------------

    def _start(self, job: ClaimedJob) -> None:
        # One asyncio task per job, and the bookkeeping in its done-callback:
        # at thousands of jobs a second the per-job overhead is the worker's cost.
        running = _Running(job, time.monotonic())
        self._running[job.key] = running
        if self.observer is not None:
            self.observer.job_started(job)
        running.task = asyncio.create_task(self._attempt(job), name=f"aqueue-job-{job.id}")
        running.task.add_done_callback(lambda task: self._finished(running, task))

    async def _attempt(self, job: ClaimedJob) -> Outcome:
        verify = job.key in self._verify_first
        self._verify_first.discard(job.key)
        if verify or not self.keeper.up_to_date():
            # This worker was stalled (SIGSTOP, a blocking call, a long pause)
            # past its lease since it claimed the job, or heard of a job handed
            # over late: another worker may have rescued it meanwhile. Ask
            # before running anything; a renewal that finds the job gone
            # cancels this task (see _on_renewed).
            with contextlib.suppress(DatabaseUnavailable):
                await self.keeper.renew()
            await asyncio.sleep(0)  # a cancel the renewal made is delivered here
        try:
            task = self.queue.find_task(job.task)
        except UnknownTask as exc:  # the resolver failed on this job's name alone
            return Outcome(job.id, job.attempts, JobStatus.FAILED, error=error_record(exc, False))
        return await run_job(task, job, self.name, self.queue.backend, self._sync.run,
                             self.queue.max_payload_bytes, self.queue.middleware)

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
                outcome = Outcome(job.id, job.attempts, JobStatus.FAILED,
                                  error=error_record(exc))
            elif not running.lease_lost:
                outcome = task.result()
            if outcome is not None:
                duration = time.monotonic() - running.started
                what = "retried" if outcome.status == JobStatus.QUEUED else outcome.status.value
                self._tally[what] += 1
                if self.observer is not None:
                    self.observer.job_finished(job, what, duration)
                self._log_outcome(job, outcome, duration)
                self._completer.add(outcome)
                if job.task in self._limits:
                    self._limited_unwritten.add(job.id)
                self.processed_count += 1
                self.processed.append(job.id)
                if outcome.status == JobStatus.QUEUED:
                    self._wake_in(outcome.retry_delay)
            elif running.lease_lost:
                log.warning("job %s (%s) attempt %d: lease lost, outcome discarded", job.id,
                            job.task, job.attempts)
        finally:
            duration = time.monotonic() - running.started
            mean = self._mean_duration
            self._mean_duration = duration if mean is None else 0.9 * mean + 0.1 * duration
            if self._running.get(job.key) is running:
                del self._running[job.key]
            self._dispatch()
            self._slot_freed.set()

    async def _summaries(self) -> None:
        """Every ``summary_interval`` seconds, one INFO line: what finished since the last."""
        while True:
            await asyncio.sleep(self.summary_interval)
            tally, self._tally = self._tally, Counter()
            self._totals.update(tally)
            if tally:
                log.info("%d job attempts finished in the last %gs: %s", tally.total(),
                         self.summary_interval, _counts(tally))

    def _log_outcome(self, job: ClaimedJob, outcome: Outcome, duration: float) -> None:
        # One line per job costs a busy worker a good share of its throughput
        # (docs/observability.md), so successes are DEBUG unless asked for.
        if outcome.status == JobStatus.SUCCEEDED:
            level = logging.INFO if self.log_jobs else logging.DEBUG
        else:
            level = logging.WARNING
        if not job_log.isEnabledFor(level):
            return
        what = f"{'failed' if outcome.status == JobStatus.QUEUED else outcome.status.value}"
        what += f" in {duration:.3f}s"
        if outcome.status == JobStatus.QUEUED:
            what += f", retrying in {outcome.retry_delay:.2f}s"
        error_type = None
        if outcome.error and outcome.status != JobStatus.SUCCEEDED:
            from aqueue import serialization

            # The task's own text: escaped, so that no handler prints a
            # terminal's escape sequence or a forged line.
            error = serialization.decode(outcome.error)
            error_type = printable(str(error.get("type")))
            what += f": {error_type}: {printable(str(error.get('message'))[:1000])}"
        job_log.log(level, "job %s %s attempt %d/%d %s", job.id, printable(job.task), job.attempts,
                    job.max_attempts, what,
                    extra={"job_id": job.id, "task": job.task, "queue": job.queue,
                           "attempt": job.attempts, "duration": round(duration, 6),
                           "status": "retrying" if outcome.status == JobStatus.QUEUED
                           else str(outcome.status),
                           "worker": self.name, "error_type": error_type})

    # -- leases ---------------------------------------------------------------------------

    def _held_ids(self) -> list[str]:
        """The jobs running or held ahead (what a cancel request can stop)."""
        return [key[0] for key in (*self._running, *self._ready)]

    def _held(self) -> list[Key]:
        """Every attempt whose lease this worker must keep: running, held ahead, or
        finished with its outcome not written yet."""
        return [*self._running, *self._ready, *self._completer.pending_keys()]

    def _on_renewed(self, asked: list[Key], held: dict[Key, LeaseState]) -> None:
        self.signals.emit("renewed")
        for key in asked:
            state = held.get(key)
            job = self._ready.get(key)
            if job is not None:
                if state is None:
                    del self._ready[key]
                    self._verify_first.discard(key)
                    self.signals.emit("lease_lost")
                    log.warning("job %s: lease lost (rescued elsewhere) before it started",
                                key[0])
                elif state.cancel_requested:
                    del self._ready[key]
                    log.info("job %s: cancelled before it started", key[0])
                    self._completer.add(cancelled_outcome(job))
                continue
            running = self._running.get(key)
            if running is None or running.task is None:
                continue  # an outcome being written: the write's fence decides
            if state is None:
                if not running.lease_lost:
                    running.lease_lost = True
                    self.signals.emit("lease_lost")
                    log.warning("job %s attempt %d: lease lost (rescued elsewhere); stopping it",
                                key[0], key[1])
                    running.task.cancel()
            elif state.cancel_requested and not running.cancel_requested:
                running.cancel_requested = True
                log.info("job %s: cancel requested; stopping it", key[0])
                running.task.cancel()

    # -- shutdown ---------------------------------------------------------------------------

    async def _hand_back(self, keys: list[Key]) -> None:
        """Give back attempts that did not run to their end; retries while the
        database is away (the caller bounds how long)."""
        pause = 0.1
        while True:
            try:
                count = await self.queue.backend.hand_back(self.name, keys)
                self.signals.emit("handed_back", count)
                log.warning("handed back %d unfinished jobs", count)
                return
            except DatabaseUnavailable as exc:
                log.warning("cannot hand back jobs (%s); retrying in %.1fs", exc, pause)
                await asyncio.sleep(pause)
                pause = min(2.0, pause * 2)

    async def _within(self, deadline: float, awaitable: Awaitable[Any], what: str,
                      hurried: float = 1.0, log_failure: bool = True) -> bool:
        """Await until done, the deadline (``time.monotonic()``) or a hurry;
        False if cut short.

        After a second stop request it gets at most ``hurried`` seconds from
        that request (one moment for every step, not one each).
        """
        task = asyncio.ensure_future(awaitable)
        hurry = asyncio.ensure_future(self._hurry.wait())
        try:
            while not task.done():
                end = deadline
                if self._hurried_at is not None:
                    end = min(end, self._hurried_at + hurried)
                left = end - time.monotonic()
                if left <= 0:
                    break
                waiting: list[asyncio.Future[Any]] = [task]
                if not hurry.done():
                    waiting.append(hurry)
                await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurry.cancel()
        if task.done():
            if log_failure and not task.cancelled() and task.exception() is not None:
                log.error("%s failed", what, exc_info=task.exception())
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        log.warning("gave up %s at the shutdown deadline", what)
        return False

    async def _withdrawn(self, deadline: float) -> list[ClaimedJob]:
        """Withdraw the offer (by the deadline); the jobs handed over unheard."""
        if self._recovering is not None:
            self._recovering.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._recovering

        async def withdraw() -> list[ClaimedJob]:
            try:
                return await self.offers.withdraw()
            except DatabaseUnavailable as exc:
                log.warning("cannot withdraw this worker's offer (%s): a job handed over "
                            "just now comes back when its lease ends", exc)
                return []

        withdrawing = asyncio.ensure_future(withdraw())
        if not await self._within(deadline, withdrawing, "withdrawing the offer"):
            return []
        return withdrawing.result()

    async def _shut_down(self) -> None:
        """Finish within ``shutdown_timeout``, even while the database is away."""
        if self._deadline is None:  # a burst run or --max-jobs ended by itself
            self._deadline = time.monotonic() + self.shutdown_timeout
        deadline = self._deadline
        if self.offers.enabled:
            # No more hand-overs: withdraw the offer, and give back a job a
            # producer handed over just before (its notification ignored now).
            self.offers.enabled = False
            for job in await self._withdrawn(deadline):
                self._ready[job.key] = job
        # Jobs claimed ahead never started: back to the queue at once, for
        # other workers, rather than after the running jobs' grace period.
        never_started = list(self._ready)
        self._ready.clear()
        giving_back = asyncio.ensure_future(self._hand_back(never_started)) if never_started \
            else None
        if self._running:
            left = max(0.0, deadline - time.monotonic())
            log.info("waiting up to %gs for %d running jobs", round(left, 1), len(self._running))
            tasks = [r.task for r in self._running.values() if r.task is not None]
            await self._within(deadline, asyncio.wait(tasks), "waiting for running jobs",
                               hurried=0.0)
        leftovers = list(self._running.values())
        for running in leftovers:
            running.handed_back = True
            if running.task is not None:
                running.task.cancel()
        tasks = [r.task for r in leftovers if r.task is not None]
        if tasks:
            # Let them unwind. One that swallows the cancel and returns has
            # finished: its outcome is written below, it is not handed back.
            await asyncio.wait(tasks, timeout=max(0.05, min(2.0, deadline - time.monotonic())))
        unfinished = [r.job.key for r in leftovers
                      if r.task is None or not r.task.done() or r.task.cancelled()]
        # Never less than a moment for the hand-back: it is what spares the
        # jobs a wait for their leases to expire. Everything after it,
        # connections included, is over by then too.
        hand_back_by = self._end_by = max(deadline, time.monotonic() + 1.0)
        if unfinished:
            await self._within(hand_back_by, self._hand_back(unfinished), "handing back jobs")
        if giving_back is not None:
            await self._within(hand_back_by, giving_back, "handing back held jobs")
        if self._giving_back:
            await self._within(hand_back_by, asyncio.gather(*self._giving_back),
                               "handing back jobs handed over with no free slot")
        self._completer.close()
        await self._within(hand_back_by, self._completer.flushed(), "writing outcomes")
        if len(self._completer):
            log.warning("%d outcomes could not be written before the shutdown deadline; their "
                        "jobs run again once their leases expire", len(self._completer))
        if self._sync.abandoned:
            log.warning("%d sync tasks' threads are still running; they end with the process",
                        self._sync.abandoned)
        if self.heartbeat is not None:
            await self._within(hand_back_by, self.heartbeat.deregister(),
                               "leaving the workers registry")
