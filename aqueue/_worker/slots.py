"""A worker's slots: how many jobs it runs, holds ahead, and may claim.

Claiming ahead hides the claim's round trip behind running jobs, which is
what lets short jobs run thousands a second. A job held ahead is not
available to other workers, so by default the worker holds only what it
expects to start within :data:`AHEAD_SECONDS`, judged by how long its jobs
have been taking: many no-op jobs, none when jobs take seconds. A fixed
``prefetch`` says otherwise.

With per-queue slots (``aqueue-worker --queue emails=5 --queue default=20``)
each queue has its own number of slots within the worker's total, and the
worker claims only for slots free now (never ahead), queue by queue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from aqueue import validation
from aqueue._worker.attempts import Attempts
from aqueue._worker.lease_keeper import Key
from aqueue._worker.threads import SyncRunner
from aqueue.records import ClaimedJob

#: By default a worker holds claimed ahead only the jobs it expects to start
#: within this many seconds.
AHEAD_SECONDS = 0.1


#: A worker's slots when neither ``concurrency`` nor ``queue_slots`` says.
DEFAULT_CONCURRENCY = 10


def checked_queue_slots(
    slots: Mapping[str, int] | None, queues: Sequence[str] | None, prefetch: int | None
) -> dict[str, int] | None:
    """Checked per-queue slots (None: the worker's slots are shared by its queues)."""
    if not slots:
        return None
    if queues:
        raise ValueError("give queues or queue_slots, not both (queue_slots names the queues)")
    if prefetch:
        raise ValueError("prefetch does not combine with queue_slots (they claim for free slots)")
    checked = {}
    for name, n in slots.items():
        validation.check_name("queue", name)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"queue {name!r}: slots must be a whole number >= 1, not {n!r}")
        checked[name] = n
    return checked


class Slots:
    """The jobs held ahead of a free slot (leased like running ones), and the
    counting of slots for claims and hand-overs."""

    def __init__(
        self,
        concurrency: int,
        attempts: Attempts,
        sync: SyncRunner,
        backlog: Callable[[], int],
        *,
        claim_batch: int = 100,
        prefetch: int | None = None,
        max_jobs: int | None = None,
        per_queue: Mapping[str, int] | None = None,
    ) -> None:
        self.concurrency = concurrency
        #: Slots of each queue, when the worker divides its slots by queue.
        self.per_queue = dict(per_queue) if per_queue else None
        self.claim_batch = claim_batch
        self.prefetch = prefetch
        self.max_jobs = max_jobs
        self._attempts = attempts
        self._sync = sync
        self._backlog = backlog
        #: Claimed ahead, not started yet.
        self.held: dict[Key, ClaimedJob] = {}
        #: Jobs claimed (or handed over) so far.
        self.claimed = 0

    def describe(self, queues: list[str] | None) -> str:
        """``a,b``, ``a=1,b=2`` with per-queue slots, ``*`` for every queue."""
        if self.per_queue is not None:
            return ",".join(f"{name}={n}" for name, n in self.per_queue.items())
        return ",".join(queues or ["*"])

    def prefetch_target(self) -> int:
        """How many jobs to hold claimed ahead of free slots."""
        if self.per_queue is not None:
            return 0
        if self.prefetch is not None:
            return self.prefetch
        mean = self._attempts.mean_duration
        if mean is None:
            return 0
        starts_per_second = self.concurrency / max(mean, 1e-4)
        return min(self.claim_batch, int(starts_per_second * AHEAD_SECONDS))

    def busy(self) -> int:
        """Slots taken: running jobs, and threads of sync jobs that were stopped
        but cannot be (see :mod:`aqueue._worker.threads`)."""
        return len(self._attempts) + self._sync.abandoned

    def open(self) -> int:
        """Slots no running or held job fills: what a hand-over would start in."""
        return max(0, self.concurrency - self.busy() - len(self.held))

    def free(self) -> int:
        """How many jobs the next claim may take."""
        ahead = self.prefetch_target()
        # Outcomes waiting to be written count too, past one claim's worth: the
        # backlog stays bounded however long the database refuses them.
        backlog = max(0, self._backlog() - self.claim_batch)
        free = self.concurrency + ahead - self.busy() - len(self.held) - backlog
        if ahead and free < max(1, ahead // 2):
            free = 0  # claim ahead in batches, not one job per finished job
        if self.per_queue is not None:
            free = min(free, sum(self.free_by_queue().values()))
        if self.max_jobs is not None:
            free = min(free, self.max_jobs - self.claimed)
        return min(free, self.claim_batch)

    def _taken_by_queue(self) -> Counter[str]:
        taken = Counter(r.job.queue for r in self._attempts.running.values())
        taken.update(job.queue for job in self.held.values())
        return taken

    def free_by_queue(self) -> dict[str, int]:
        """Per-queue slots: the free ones of each queue (all of them > 0)."""
        assert self.per_queue is not None
        taken = self._taken_by_queue()
        free = {name: n - taken[name] for name, n in self.per_queue.items()}
        return {name: n for name, n in free.items() if n > 0}

    def full_queues(self) -> bool:
        """Per-queue slots: whether some queue has no free slot (a job of it
        may be due and waiting for one)."""
        return self.per_queue is not None and len(self.free_by_queue()) < len(self.per_queue)

    def done_claiming(self) -> bool:
        """``max_jobs`` reached."""
        return self.max_jobs is not None and self.claimed >= self.max_jobs

    def dispatch(self) -> None:
        """Start held jobs while slots are free."""
        if self.per_queue is not None:
            running = Counter(r.job.queue for r in self._attempts.running.values())
            free = {name: n - running[name] for name, n in self.per_queue.items()}
            for key, job in list(self.held.items()):
                if self.busy() >= self.concurrency:
                    break
                if free.get(job.queue, 0) > 0:
                    free[job.queue] -= 1
                    self._attempts.start(self.held.pop(key))
            return
        while self.held and self.busy() < self.concurrency:
            self._attempts.start(self.held.pop(next(iter(self.held))))

    def holding(self) -> bool:
        """Whether any job runs or is held ahead."""
        return bool(self._attempts.running or self.held)
