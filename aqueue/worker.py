"""The worker: claims due jobs, runs them under a concurrency limit, records outcomes.

This module composes a worker from its parts, each a room of its own in
:mod:`aqueue._worker`: the claim loop (claims for free slots, waits when idle),
the attempts (running one job each), the slots (what runs, what is held ahead),
the completer (outcomes written in batches) and the bounded shutdown; and
beside the claim loop its services, each on :class:`~aqueue.service.Service`:
the lease keeper (renews leases, learns of lost jobs and cancel requests), the
rescuer (puts back jobs of dead workers), the heartbeat (the workers registry),
the periodic scheduler, retention, the loop monitor, and — where nothing tells
the worker of cancel requests — the cancel watch. Limited claims are
:mod:`aqueue.limits`'s, hand-overs :mod:`aqueue.offers`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aqueue._version import __version__
from aqueue._worker.attempts import Attempts, Summaries, counts
from aqueue._worker.cancel_watch import CancelWatch
from aqueue._worker.claim_loop import ClaimLoop
from aqueue._worker.completer import Completer
from aqueue._worker.execution import Runner, cancelled_outcome
from aqueue._worker.heartbeat import Heartbeat
from aqueue._worker.isolation import Isolated, Processes
from aqueue._worker.lease_keeper import Key, LeaseKeeper
from aqueue._worker.loop_monitor import LoopMonitor
from aqueue._worker.output import DEFAULT_LIMIT, Capture
from aqueue._worker.rescuer import Rescuer
from aqueue._worker.shutdown import Stopping, hand_back, shut_down
from aqueue._worker.slots import DEFAULT_CONCURRENCY, Slots, checked_queue_slots
from aqueue._worker.threads import SyncRunner
from aqueue._worker.wakeups import Wakeups
from aqueue.backends.base import Dependencies, Handover, Listener, Notifications, Registry
from aqueue.errors import DatabaseUnavailable
from aqueue.flow import FlowRecorder
from aqueue.limits import claimers
from aqueue.node import node_id
from aqueue.observer import Observers, WorkerObserver
from aqueue.offers import Offers
from aqueue.periodic import Scheduler
from aqueue.records import ClaimedJob, JobStatus, LeaseState, Outcome, WorkerRegistration
from aqueue.retention import Retention
from aqueue.service import Service
from aqueue.signals import WorkerSignals

if TYPE_CHECKING:
    from aqueue.queue import Queue

log = logging.getLogger("aqueue.worker")


def worker_name() -> str:
    """``host:pid:random`` — unique per process, so a restarted worker reusing
    a host and pid never inherits another's jobs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """Runs jobs from ``queue`` until stopped (or, with ``burst``, until none is due).

    ``concurrency`` jobs at once (default 10); ``queue_slots`` (``{"emails": 5,
    "default": 20}``) serves those queues, each with slots of its own, and
    ``concurrency`` then defaults to their sum. ``processes`` runs tasks in
    child processes (:class:`aqueue.Processes`). ``output_limit``: bytes of
    captured output kept per attempt (see ``@queue.task(capture_output=...)``).
    """

    def __init__(
        self,
        queue: Queue,
        *,
        concurrency: int | None = None,
        queues: Sequence[str] | None = None,
        queue_slots: Mapping[str, int] | None = None,
        processes: Processes | None = None,
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
        output_limit: int = DEFAULT_LIMIT,
    ) -> None:
        per_queue = checked_queue_slots(queue_slots, queues, prefetch)
        if concurrency is None:
            concurrency = sum(per_queue.values()) if per_queue else DEFAULT_CONCURRENCY
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if per_queue:
            queues = list(per_queue)
        if prefetch is not None and prefetch < 0:
            raise ValueError("prefetch must be >= 0")
        if lease <= 0 or poll_interval <= 0 or shutdown_timeout < 0:
            raise ValueError("lease and poll_interval must be > 0, shutdown_timeout >= 0")
        if probe_interval is not None and probe_interval < 0:
            raise ValueError("probe_interval must be >= 0 (0: no probes)")
        self.queue = queue
        self.concurrency = concurrency
        self.queues = list(queues) if queues else None
        #: Each queue's own slots within ``concurrency`` (``--queue NAME=N``).
        self.queue_slots = per_queue
        self.burst = burst
        self.max_jobs = max_jobs
        self.shutdown_timeout = shutdown_timeout
        self.lease = lease
        self.poll_interval = poll_interval
        #: Seconds between an idle worker's "is anything due" reads when the
        #: database cannot notify it (None: the backend's default; 0: none).
        self.probe_interval = probe_interval
        self.claim_batch = claim_batch
        self.prefetch = prefetch
        self.name = name or worker_name()
        #: Whether this worker keeps the queue's periodic schedules (burst runs never do).
        self.periodic = periodic
        #: Whether, idle on PostgreSQL, it offers to take jobs straight from
        #: producers (aqueue/offers.py); burst runs and --max-jobs never do.
        self.handover = handover
        #: Seconds between the INFO lines that sum up the attempts finished (0: none).
        self.summary_interval = summary_interval
        #: More services to run beside the claim loop for the worker's life
        #: (the metrics' queue-depth sampler is one); stopped at shutdown.
        self.services: list[Service] = []
        #: What the worker has done so far, to wait on (see :mod:`aqueue.signals`).
        self.signals = WorkerSignals()
        #: Attempts finished with an outcome recorded (or being recorded).
        self.processed_count = 0
        #: The ids of the most recent of those (bounded: a worker runs for months).
        self.processed: deque[str] = deque(maxlen=1000)
        backend = queue.backend
        self._stopping = Stopping(shutdown_timeout)
        self.wakeups = Wakeups(self.queues)
        self._slot_freed = asyncio.Event()
        # Hand-backs of jobs handed over with no free slot, under way.
        self._giving_back: set[asyncio.Future[None]] = set()
        self._sync = SyncRunner(concurrency, on_thread_freed=self._slot_freed.set)
        #: The child processes tasks run in, if this worker has them.
        self.processes = Isolated(processes) if processes is not None else None
        self.completer = Completer(backend, self.name, self._on_written)
        self.keeper = LeaseKeeper(backend, self.name, lease, self._held, self._on_renewed)
        self.attempts = Attempts(
            self.name,
            Runner(queue, self.name, self._sync.run, self.processes),
            self.keeper,
            self._ended,
            self._freed,
            self.signals.lease_lost,
            log_jobs=log_jobs,
            capture=Capture(queue, self.processes, output_limit).start,
        )
        self.slots = Slots(
            concurrency,
            self.attempts,
            self._sync,
            lambda: len(self.completer),
            claim_batch=claim_batch,
            prefetch=prefetch,
            max_jobs=max_jobs,
            per_queue=per_queue,
        )
        limits = {name: t.limit for name, t in queue.tasks.items() if t.limit is not None}
        #: The claimers of limited jobs: one, or with per-queue slots one per
        #: queue (each claims for its queue's free slots).
        self.limited_by_queue = claimers(backend, self.name, self.queues, per_queue, lease, limits)
        self.limited = self.limited_by_queue.get(None)
        #: This worker's offer to take jobs straight from producers while idle
        #: (aqueue/offers.py: PostgreSQL, with LISTEN, not in burst runs).
        self.offers = (
            Offers(
                backend,
                backend,
                self.name,
                self.queues,
                lease,
                start=self._handed_over,
                give_back=self._give_back,
                open_slots=self.slots.open,
                held=self._held,
            )
            # Per-queue slots never stand an offer: a hand-over names no queue's
            # free slot, so a job could be started past its queue's slots.
            if isinstance(backend, Handover) and not per_queue
            else None
        )
        node = node_id() if register else None
        registry = backend if isinstance(backend, Registry) else None
        release = backend.release_ended if isinstance(backend, Dependencies) else None
        self.rescuer = Rescuer(
            backend,
            self.keeper,
            self._on_rescued,
            release=release or _nothing,
            neighbours=registry.workers_on_node if registry is not None else None,
            node=node,
            name=self.name,
        )
        self.loop_monitor = LoopMonitor()
        self.heartbeat: Heartbeat | None = None
        if register and registry is not None:
            self.heartbeat = Heartbeat(
                registry,
                WorkerRegistration(
                    name=self.name,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    queues=self.queues,
                    concurrency=concurrency,
                    version=__version__,
                    node=node,
                ),
                ttl=lease,
            )
        #: Deletes finished jobs past their age (burst runs never do); ``retention``
        #: overrides the queue's policy.
        self.retention = Retention.of(queue, self.name, retention, retention_interval)
        probe = backend.idle_probe_interval if probe_interval is None else probe_interval
        self.claim_loop = ClaimLoop(
            backend,
            self.name,
            self.queues,
            slots=self.slots,
            wakeups=self.wakeups,
            stopping=self._stopping,
            slot_freed=self._slot_freed,
            completer=self.completer,
            signals=self.signals,
            limited=self.limited,
            offers=self.offers,
            observer=lambda: self.observer,
            lease=lease,
            poll_interval=poll_interval,
            probe_interval=probe,
            burst=burst,
            limited_by_queue={k: v for k, v in self.limited_by_queue.items() if k is not None},
        )
        #: Counts the attempts it ends for the dashboard's charts (aqueue/flow.py).
        self.flow = FlowRecorder.of(queue, self.name)
        for watcher in (self.flow.counter if self.flow else None, observer):
            if watcher is not None:
                self.observe(watcher)

    def observe(self, observer: WorkerObserver) -> None:
        """Report each job, claim, outcome write and signal to ``observer`` as
        well (see :mod:`aqueue.observer`; :mod:`aqueue.metrics` is one)."""
        both = observer if self.observer is None else Observers(self.observer, observer)
        self.attempts.observer = both
        self.signals.listen(both.event)
        self.completer.on_write_time = both.outcomes_written

    @property
    def observer(self) -> WorkerObserver | None:
        return self.attempts.observer

    @property
    def running_count(self) -> int:
        """Attempts running now."""
        return len(self.attempts)

    @property
    def held_ahead(self) -> int:
        """Jobs claimed ahead of a free slot, not started yet."""
        return len(self.slots.held)

    @property
    def outcome_backlog(self) -> int:
        """Finished attempts whose outcome is not written yet."""
        return len(self.completer)

    # -- control -------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming and finish within ``shutdown_timeout``; a second call
        hurries the shutdown (over within a second)."""
        self._stopping.request()
        self.wakeups.now()
        self._slot_freed.set()

    def time_left(self) -> float:
        """Seconds left to close connections in, once stopping (the rest of the
        shutdown's time, at least a moment); before that, a few seconds."""
        return self._stopping.time_left()

    def _on_written(self, job_ids: list[str]) -> None:
        if any([c.written(job_ids) for c in self.limited_by_queue.values()]):
            self.wakeups.now()  # a limited job held back may start now
        self.queue.results.notify_done(job_ids)
        self._slot_freed.set()  # a smaller backlog may free claims
        self.signals.written.emit(len(job_ids), len(job_ids))

    def _on_rescued(self, count: int) -> None:
        self.wakeups.now()
        self.signals.rescued.emit(count, count)

    def _on_notify(self, payload: str) -> None:
        if self.wakeups.notified(payload) and self.offers is not None:
            self.offers.reconnected()  # what was handed over meanwhile is read back

    def _on_cancel(self, job_id: str) -> None:
        """A cancel was requested for a job this worker may hold."""
        for key, job in list(self.slots.held.items()):
            if key[0] == job_id:
                del self.slots.held[key]
                log.info("job %s: cancelled before it started", job_id)
                self.completer.add(cancelled_outcome(job))
        self.attempts.cancel(job_id)

    # -- main loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Run until stopped; returns after the graceful shutdown."""
        await self.queue.open()
        await self.queue.check_schema()
        self.queue.enqueue_hooks.append(self.wakeups.on_enqueue)
        listener = await self._listen()
        self.claim_loop.notified = listener is not None
        if self.heartbeat is not None:
            await self.heartbeat.register()
        log.info(
            "worker %s started on %s (concurrency %d, queues %s)",
            self.name,
            self.queue.dsn,
            self.concurrency,
            self.slots.describe(self.queues),
        )
        services = self._services(listener is None)
        completing = asyncio.create_task(self.completer.run(), name="aqueue-completer")
        for service in services:
            service.start()
        self.signals.started.emit(None)
        try:
            await self.claim_loop.run_until_stopped()
            await self._shut_down()
        finally:
            stopping = [asyncio.ensure_future(s.stop()) for s in services]
            completing.cancel()
            await asyncio.wait([*stopping, completing], timeout=self.time_left())
            self.wakeups.close()
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close(self.time_left())
            self._sync.close()
            if self.processes is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.processes.close(), max(self.time_left(), 2.0))
            self.queue.enqueue_hooks.remove(self.wakeups.on_enqueue)
            totals = self.attempts.totals + self.attempts.tally
            log.info(
                "worker %s stopped after %d job attempts%s",
                self.name,
                self.processed_count,
                f" ({counts(totals)})" if totals else "",
            )
            self._stopping.over()

    def _services(self, unnotified: bool) -> list[Service]:
        services: list[Service] = [self.keeper, self.rescuer, self.loop_monitor]
        if self.heartbeat is not None:
            services.append(self.heartbeat)
        if self.retention is not None and not self.burst:
            services.append(self.retention)
        if self.summary_interval > 0:
            services.append(Summaries(self.attempts, self.summary_interval))
        if self.flow is not None:
            services.append(self.flow)
        if self.periodic and self.queue.schedules and not self.burst:
            services.append(Scheduler.of(self.queue))
        if unnotified:  # nothing tells this worker of cancel requests: it asks
            services.append(
                CancelWatch(self.queue.backend, self.name, self._held_ids, self._on_cancel)
            )
        return [*services, *self.services]

    async def _listen(self) -> Listener | None:
        backend = self.queue.backend
        if not isinstance(backend, Notifications):
            return None
        # A worker that stops when idle (--burst) or after --max-jobs never offers.
        offers = (
            self.offers if (self.handover and not self.burst and self.max_jobs is None) else None
        )
        try:
            listener = await backend.listen(
                self._on_notify,
                self.queue.results.notify_done,
                self._on_cancel,
                offers.heard if offers is not None else None,
            )
        except DatabaseUnavailable as exc:
            log.warning("LISTEN failed, relying on polling: %s", exc)
            return None
        if offers is not None:
            offers.enabled = listener is not None
        return listener

    def _handed_over(self, job: ClaimedJob, verify: bool) -> None:
        """A producer handed this worker a job (aqueue/offers.py): it starts as a
        claimed job does; with ``verify``, once its lease is renewed."""
        self.slots.claimed += 1
        self.signals.claimed.emit(1)
        self.signals.handed_over.emit(1)
        self.attempts.start(job, verify)
        self.wakeups.now()  # claim again, and offer again when idle

    def _give_back(self, job: ClaimedJob) -> None:
        giving_back = asyncio.ensure_future(
            hand_back(self.queue.backend, self.name, [job.key], self.signals.handed_back)
        )
        self._giving_back.add(giving_back)
        giving_back.add_done_callback(self._giving_back.discard)

    # -- running one job ---------------------------------------------------------------

    def _ended(self, job: ClaimedJob, outcome: Outcome, duration: float) -> None:
        self.completer.add(outcome)
        claimer = self.limited or self.limited_by_queue.get(job.queue)
        if claimer is not None:
            claimer.finished(job)
        self.processed_count += 1
        self.processed.append(job.id)
        if outcome.status == JobStatus.QUEUED:
            self.wakeups.after(outcome.retry_delay)

    def _freed(self) -> None:
        self.claim_loop.dispatch()
        self._slot_freed.set()
        if self.claim_loop.blocked:
            self.wakeups.now()  # a queue that was full may have due jobs

    # -- leases ---------------------------------------------------------------------------

    def _held_ids(self) -> list[str]:
        """The jobs running or held ahead (what a cancel request can stop)."""
        return [key[0] for key in (*self.attempts.running, *self.slots.held)]

    def _held(self) -> list[Key]:
        """Every attempt whose lease this worker must keep: running, held ahead, or
        finished with its outcome not written yet."""
        return [*self.attempts.running, *self.slots.held, *self.completer.pending_keys()]

    def _on_renewed(self, asked: list[Key], held: dict[Key, LeaseState]) -> None:
        self.signals.renewed.emit(len(asked))
        for key in asked:
            state = held.get(key)
            job = self.slots.held.get(key)
            if job is None:
                self.attempts.renewed(key, state)
            elif state is None:
                del self.slots.held[key]
                self.signals.lease_lost.emit(1)
                log.warning("job %s: lease lost (rescued elsewhere) before it started", key[0])
            elif state.cancel_requested:
                del self.slots.held[key]
                log.info("job %s: cancelled before it started", key[0])
                self.completer.add(cancelled_outcome(job))

    # -- shutdown ---------------------------------------------------------------------------

    async def _shut_down(self) -> None:
        """Finish within ``shutdown_timeout``, even while the database is away."""
        backend, name, signal = self.queue.backend, self.name, self.signals.handed_back
        await shut_down(
            self._stopping,
            offers=self.offers,
            slots=self.slots,
            attempts=self.attempts,
            completer=self.completer,
            sync=self._sync,
            heartbeat=self.heartbeat,
            giving_back=self._giving_back,
            hand_back=lambda keys: hand_back(backend, name, keys, signal),
        )


async def _nothing() -> None:
    """A backend without dependencies has no children to release."""
