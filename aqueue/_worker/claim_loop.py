"""The claim loop: claims jobs for a worker's free slots until it stops.

Each turn claims limited jobs for the slots free now (:mod:`aqueue.limits`),
then the rest — through a hand-over offer's claim where there is one
(:mod:`aqueue.offers`) — and starts what it claimed. With nothing more to
claim it waits: for a slot, a limit's window, or, idle, for a wake-up
(:mod:`aqueue._worker.wakeups`). Burst runs end when nothing is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from aqueue._worker.completer import Completer
from aqueue._worker.shutdown import Stopping
from aqueue._worker.slots import Slots
from aqueue._worker.wakeups import Wakeups
from aqueue.backends.base import Backend
from aqueue.errors import DatabaseUnavailable
from aqueue.limits import REST_SECONDS, LimitedClaimer, Waiting
from aqueue.observer import WorkerObserver
from aqueue.offers import Offers
from aqueue.records import ClaimedJob
from aqueue.signals import WorkerSignals

log = logging.getLogger("aqueue.worker")


class ClaimLoop:
    """A worker's claiming, from its first claim to the last."""

    def __init__(
        self,
        backend: Backend,
        worker: str,
        queues: list[str] | None,
        *,
        slots: Slots,
        wakeups: Wakeups,
        stopping: Stopping,
        slot_freed: asyncio.Event,
        completer: Completer,
        signals: WorkerSignals,
        limited: LimitedClaimer | None,
        offers: Offers | None,
        observer: Callable[[], WorkerObserver | None],
        lease: float,
        poll_interval: float,
        probe_interval: float,
        burst: bool,
        limited_by_queue: Mapping[str, LimitedClaimer] | None = None,
    ) -> None:
        self._backend = backend
        self._worker = worker
        self._queues = queues
        self._slots = slots
        self._wakeups = wakeups
        self._stopping = stopping
        self._slot_freed = slot_freed
        self._completer = completer
        self._signals = signals
        self._limited = limited
        self._offers = offers
        self._observer = observer
        self._lease = lease
        self._poll_interval = poll_interval
        self._probe_interval = probe_interval
        self._burst = burst
        self._limited_by_queue = dict(limited_by_queue or {})
        #: Per-queue slots: whether the last claim left a queue that may have
        #: due jobs (it had no free slot, or the claim filled them all) — they
        #: wait for a slot of that queue, so a freed slot claims again.
        self.blocked = False
        #: Whether a listener tells the worker of new jobs (then it never probes).
        self.notified = False

    def dispatch(self) -> None:
        """Start held jobs while slots are free (none once stopping)."""
        if not self._stopping.requested:
            self._slots.dispatch()

    async def run_until_stopped(self) -> None:
        """Claim until the loop ends (burst, --max-jobs) or a stop; a database
        call it has in flight then gets until the shutdown deadline (nothing
        more after a second stop request) — in an outage nothing answers."""
        claiming = asyncio.create_task(self._loop(), name="aqueue-claim-loop")
        stopped = asyncio.create_task(self._stopping.event.wait())
        try:
            await asyncio.wait([claiming, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not claiming.done():
            await self._stopping.within(
                self._stopping.begin(),
                claiming,
                "the claim in flight",
                hurried=0.0,
                log_failure=False,
            )
        if claiming.done() and not claiming.cancelled() and claiming.exception() is not None:
            raise claiming.exception()  # type: ignore[misc]

    async def _claim(self, free: int) -> tuple[list[ClaimedJob], Waiting]:
        """One claim turn: limited jobs for the slots free now, then the rest."""
        if self._slots.per_queue is not None:
            return await self._claim_by_queue(free)
        jobs: list[ClaimedJob] = []
        waiting: Waiting = None
        slots, offers = self._slots, self._offers
        if self._limited is not None:
            room = min(free, slots.concurrency - slots.busy() - len(slots.held))
            at = offers.withdraw_at() if offers is not None else None
            jobs, waiting = await self._limited.claim(room, at)
            if offers is not None:
                offers.claimed(len(jobs))
        if len(jobs) < free:
            if offers is not None:
                open_slots = max(0, slots.open() - len(jobs))
                jobs += await offers.claim(free - len(jobs), self._lease, open_slots)
            else:
                jobs += await self._backend.claim_jobs(
                    self._worker, self._queues, free - len(jobs), self._lease
                )
        return jobs, waiting

    async def _claim_by_queue(self, free: int) -> tuple[list[ClaimedJob], Waiting]:
        """Per-queue slots: a claim for each queue with free slots, its limited
        jobs first (each queue has a limited claimer of its own)."""
        jobs: list[ClaimedJob] = []
        waiting: Waiting = None
        rooms = self._slots.free_by_queue()
        self.blocked = len(rooms) < len(self._slots.per_queue or ())
        for name, room in rooms.items():
            room = min(room, free - len(jobs))
            if room <= 0:
                self.blocked = True
                break
            got: list[ClaimedJob] = []
            limited = self._limited_by_queue.get(name)
            if limited is not None:
                got, held_back = await limited.claim(room)
                waiting = _sooner(waiting, held_back)
            if len(got) < room:
                got += await self._backend.claim_jobs(
                    self._worker, [name], room - len(got), self._lease
                )
            if len(got) == room:
                self.blocked = True
            jobs += got
        return jobs, waiting

    def _due_queues(self) -> list[str] | None:
        """The queues an idle worker looks into: with per-queue slots, those
        with a free slot."""
        if self._slots.per_queue is None:
            return self._queues
        return list(self._slots.free_by_queue())

    async def _wait_for_a_slot(self, timeout: float | None = None) -> None:
        self._slot_freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._slot_freed.wait(), timeout)

    async def _loop(self) -> None:
        failures = 0
        slots = self._slots
        while not self._stopping.requested:
            if slots.done_claiming():
                # Done claiming: let every job run to its end (a signal still
                # interrupts this wait and starts the timed shutdown).
                while slots.holding() and not self._stopping.requested:
                    await self._wait_for_a_slot()
                return
            free = slots.free()
            if free <= 0:
                await self._wait_for_a_slot()
                continue
            self._wakeups.event.clear()
            began = time.perf_counter()
            # Outcomes written while the claim is in flight may have queued
            # retries it could not see: a burst run does not end on its answer.
            written = self._signals.written.count
            try:
                jobs, waiting = await self._claim(free)
            except Exception as exc:
                failures += 1
                pause = min(30.0, 0.2 * 2 ** min(failures, 8))
                if isinstance(exc, DatabaseUnavailable):
                    log.warning("cannot claim jobs (%s); retrying in %.1fs", exc, pause)
                else:
                    log.exception("unexpected error claiming jobs; retrying in %.1fs", pause)
                await self._wakeups.sleep(pause)
                continue
            failures = 0
            observer = self._observer()
            if observer is not None:
                observer.claimed(len(jobs), time.perf_counter() - began)
            slots.claimed += len(jobs)
            self._signals.claimed.emit(len(jobs), len(jobs))
            for job in jobs:
                slots.held[job.key] = job
            self.dispatch()
            if len(jobs) == free:
                continue
            busy = slots.holding()
            if waiting == "slot":
                # Limited jobs are due, and are only claimed for a free slot.
                if busy:
                    await self._wait_for_a_slot(self._poll_interval)
                continue
            if waiting == "limit":
                # Held back by their limits: look again soon (a place frees, a
                # rate window moves on) or when woken.
                await self._wakeups.sleep(min(self._poll_interval, REST_SECONDS))
                continue
            if self._burst:
                if busy:
                    await self._wait_for_a_slot()
                elif len(self._completer):
                    # Outcomes not yet written may queue retries that are due now.
                    await self._completer.flushed()
                elif not jobs and self._signals.written.count == written:
                    return
                continue
            await self._idle(self._poll_interval)

    async def _idle(self, seconds: float) -> None:
        """Wait ``seconds`` for a wake-up; a worker no notification reaches
        probes meanwhile. An idle worker with hand-over stands its offer first."""
        if self._offers is not None:
            try:
                await self._offers.stand()
            except DatabaseUnavailable:
                pass  # the next claim reports it, and backs off
            except Exception:
                # An optimisation must not stop the worker: it claims from now on.
                log.exception("standing this worker's offer failed; it claims every job now")
                self._offers.enabled = False
        self._signals.idle.emit(None)
        await self._wakeups.idle(
            seconds,
            0.0 if self.notified else self._probe_interval,
            self._has_due,
            lambda: self._stopping.requested,
        )

    async def _has_due(self) -> bool:
        queues = self._due_queues()
        return queues != [] and await self._backend.has_due(queues)


def _sooner(first: Waiting, second: Waiting) -> Waiting:
    """Of two reasons to wait, the one to act on: a slot before a limit."""
    if "slot" in (first, second):
        return "slot"
    if "limit" in (first, second):
        return "limit"
    return None
