"""Offers: an idle worker's standing offer to take a job at once (PostgreSQL).

Without them, an idle worker hears of a new job (NOTIFY), then claims it: a
round trip and a durable commit between the enqueue and the start. With them,
a worker that found nothing to claim offers itself (a row in
``aqueue_offers``: its name, queues and lease, valid :data:`OFFER_SECONDS`,
renewed while it idles). A producer enqueueing one job that is due now takes
the oldest offer for the job's queue in the same INSERT, writes the job as that
worker's running first attempt and hands it over on the ``aqueue_handover``
channel; the worker starts it as it starts a claimed job. A job that cannot be
handed over (delayed, a unique or limit key, parents, written on the caller's
connection, a batch, a paused queue) is queued as before.

Why this holds under faults:

- An offer serves once (the producer deletes it) and lapses: a worker that
  died can be handed at most one job, which comes back when its lease ends,
  like any job of a worker that died.
- The job comes back with the worker's own clock reading from when it last
  renewed the offer, which the producer's write follows: the attempt's lease
  runs at least a lease from then. A worker that hears of the job later than
  half a lease after that reading (it was stalled, its loop blocked) renews
  the lease before starting, so a job rescued meanwhile does not run twice —
  without trusting the database's clock and the worker's to agree.
- A worker whose listening connection dropped, or that shuts down, withdraws
  its offer; if a producer took it and no job arrived, the job is read back
  (``handed_over_since``) and run, or handed back at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aqueue.backends.base import Backend, Handover
from aqueue.backends.common import claimed_jobs
from aqueue.errors import DatabaseUnavailable
from aqueue.records import ClaimedJob

log = logging.getLogger("aqueue.worker")

#: How long an offer stands unless renewed (an idle worker renews it at half);
#: at most half the worker's lease.
OFFER_SECONDS = 10.0


def read_handover(payload: str, worker: str) -> tuple[float, tuple[Any, ...] | str] | None:
    """An ``aqueue_handover`` notification: ``None`` when it is for another worker
    (or unreadable), else the offer's token and the job: its id alone when the
    producer sent only that, or a claimed row (see
    :func:`aqueue.backends.common.claimed_jobs`)."""
    try:
        values = json.loads(payload)
    except ValueError:
        return None
    if (
        not isinstance(values, list)
        or len(values) not in (3, 13)
        or values[0] != worker
        or not isinstance(values[1], int | float)
    ):
        return None
    token = float(values[1])
    if len(values) == 3:
        return token, str(values[2])
    return token, tuple(values[2:])


class Offers:
    """A worker's side of hand-over: it stands (and renews) its offer while
    idle, withdraws it in the claim that fills its slots, turns hand-over
    notifications into jobs to start (or, with no slot free, to hand back),
    and reads back jobs handed over whose notification it may have missed."""

    def __init__(
        self,
        backend: Handover,
        claims: Backend,
        worker: str,
        queues: Sequence[str] | None,
        lease: float,
        *,
        start: Callable[[ClaimedJob, bool], None],
        give_back: Callable[[ClaimedJob], None],
        open_slots: Callable[[], int],
        held: Callable[[], Sequence[tuple[str, int]]],
    ) -> None:
        self._backend = backend
        self._claims = claims
        self._worker = worker
        self._queues = list(queues) if queues else None
        self._lease = lease
        self._ttl = min(OFFER_SECONDS, lease / 2)
        #: ``start(job, verify)``: start the job; renew its lease first if ``verify``.
        self._start = start
        self._give_back = give_back
        self._open_slots = open_slots
        self._held = held
        #: Set by the worker once its listener hears hand-overs; cleared at shutdown.
        self.enabled = False
        self._offered_at: float | None = None  # time.monotonic() of the last offer made
        # The database's time of the first offer since the last withdrawal:
        # every job handed over to this worker since then was written after it.
        self._since: datetime | None = None
        # Jobs read back (see withdraw): their notification may still come.
        self._read_back: deque[str] = deque(maxlen=1000)
        self._reading: set[asyncio.Task[None]] = set()
        self.recovering: asyncio.Task[None] | None = None

    @property
    def standing(self) -> bool:
        """Whether this worker's offer may stand now (made, and neither taken
        nor withdrawn since)."""
        return self.enabled and self._offered_at is not None

    async def stand(self) -> None:
        """Offer, or renew the offer once half its life is gone (the worker is idle)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self._offered_at is not None and now - self._offered_at < self._ttl / 2:
            return
        since = await self._backend.offer(self._worker, self._queues, self._lease, self._ttl, now)
        if self._since is None:
            self._since = since
        self._offered_at = now

    # -- claims -------------------------------------------------------------------

    async def claim(self, limit: int, lease: float, slots: int) -> list[ClaimedJob]:
        """Claim up to ``limit`` jobs; while the offer stands, a claim of
        ``slots`` jobs or more fills the worker and withdraws the offer in the
        same statement, so that no producer hands it a job it cannot start."""
        if not self.standing:
            return await self._claims.claim_jobs(self._worker, self._queues, limit, lease)
        jobs = await self._backend.claim_jobs_withdrawing(
            self._worker, self._queues, limit, lease, slots
        )
        if len(jobs) >= slots:
            self._offered_at = None  # withdrawn: offer again when idle
        return jobs

    def withdraw_at(self) -> int | None:
        """For a limited claim (:mod:`aqueue.limits`): how many jobs fill the
        worker's slots, when the offer stands and must go with such a claim."""
        return self._open_slots() if self.standing else None

    def claimed(self, count: int) -> None:
        """A limited claim took ``count`` jobs (see :meth:`withdraw_at`)."""
        if self.standing and count >= self._open_slots():
            self._offered_at = None

    # -- hand-overs -------------------------------------------------------------------

    def heard(self, payload: str) -> None:
        """An ``aqueue_handover`` notification (the listener's callback)."""
        if not self.enabled:
            return  # shutting down: withdraw() reads back what was handed over
        got = read_handover(payload, self._worker)
        if got is None:
            return
        self._offered_at = None  # taken: offer again when idle
        token, job = got
        if isinstance(job, str):
            reading = asyncio.create_task(self._read(job, token), name="aqueue-handover")
            self._reading.add(reading)
            reading.add_done_callback(self._reading.discard)
            return
        self._deliver(claimed_jobs([job]), token)

    async def _read(self, job_id: str, token: float) -> None:
        try:
            job = await self._backend.handed_over(self._worker, job_id)
        except DatabaseUnavailable as exc:
            # Not lost: the attempt's lease ends and the job is rescued.
            log.warning("cannot read job %s handed over to this worker: %s", job_id, exc)
            return
        if job is not None:
            self._deliver([job], token)

    def _deliver(self, jobs: list[ClaimedJob], token: float) -> None:
        if not self.enabled:
            return  # shutting down: withdraw() reads back what was handed over
        # The attempt's lease runs a lease from at least the token: heard
        # later than half of that, its lease may have ended (see above).
        verify = time.monotonic() - token >= self._lease / 2
        held = {job_id for job_id, _ in self._held()}
        for job in jobs:
            if job.id not in held and job.id not in self._read_back:
                self.arrived(job, verify)

    def arrived(self, job: ClaimedJob, verify: bool) -> None:
        """A job handed over to this worker: started — or, when it came with no
        slot free (a producer took the offer just as a claim filled the slots),
        handed back at once for another worker."""
        if self._open_slots() <= 0 or not self.enabled:
            log.info("job %s handed over with no free slot: handing it back", job.id)
            self._give_back(job)
            return
        self._start(job, verify)

    # -- withdrawing ---------------------------------------------------------------------

    async def withdraw(self) -> list[ClaimedJob]:
        """Withdraw the offer; the jobs handed over to this worker since it
        first offered that it does not hold (their notification was lost with
        the listening connection, or comes too late at shutdown). Raises
        :class:`DatabaseUnavailable` when the database is away."""
        # An offer the worker stands meanwhile starts a new stretch: the
        # look-up below covers everything before it.
        since, self._since, self._offered_at = self._since, None, None
        try:
            await self._backend.withdraw_offer(self._worker)
            if since is None:
                return []
            held = sorted({job_id for job_id, _ in self._held()})
            jobs = await self._backend.handed_over_since(self._worker, since, held)
        except BaseException:
            if since is not None and (self._since is None or since < self._since):
                self._since = since  # cut short: the next withdrawal looks from then
            raise
        # A notification heard while the query ran has been taken already.
        now_held = {job_id for job_id, _ in self._held()}
        jobs = [job for job in jobs if job.id not in now_held]
        self._read_back.extend(job.id for job in jobs)
        return jobs

    def reconnected(self) -> None:
        """The listening connection came back: look for what was handed over
        meanwhile (the next idle moment offers again)."""
        if self.enabled:
            self.recovering = asyncio.create_task(self._recover(), name="aqueue-offer-recovery")

    async def _recover(self) -> None:
        try:
            jobs = await self.withdraw()
        except DatabaseUnavailable as exc:
            log.warning("cannot look for jobs handed over while not listening: %s", exc)
            return
        if jobs:
            log.info("%d jobs were handed over while the LISTEN connection was down", len(jobs))
        for job in jobs:
            self.arrived(job, True)  # however long ago it was handed over

    async def stop(self) -> list[ClaimedJob]:
        """No more hand-overs (shutdown): withdraw the offer; the jobs handed
        over unheard, to give back. Logs and returns none when the database is away."""
        self.enabled = False
        if self.recovering is not None:
            self.recovering.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.recovering
        try:
            return await self.withdraw()
        except DatabaseUnavailable as exc:
            log.warning(
                "cannot withdraw this worker's offer (%s): a job handed over "
                "just now comes back when its lease ends",
                exc,
            )
            return []
