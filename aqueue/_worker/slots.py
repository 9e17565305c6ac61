"""A worker's slots: how many jobs it runs, holds ahead, and may claim.

Claiming ahead hides the claim's round trip behind running jobs, which is
what lets short jobs run thousands a second. A job held ahead is not
available to other workers, so by default the worker holds only what it
expects to start within :data:`AHEAD_SECONDS`, judged by how long its jobs
have been taking: many no-op jobs, none when jobs take seconds. A fixed
``prefetch`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from aqueue._worker.attempts import Attempts
from aqueue._worker.lease_keeper import Key
from aqueue._worker.threads import SyncRunner
from aqueue.records import ClaimedJob

#: By default a worker holds claimed ahead only the jobs it expects to start
#: within this many seconds.
AHEAD_SECONDS = 0.1


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
    ) -> None:
        self.concurrency = concurrency
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

    def prefetch_target(self) -> int:
        """How many jobs to hold claimed ahead of free slots."""
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
        if self.max_jobs is not None:
            free = min(free, self.max_jobs - self.claimed)
        return min(free, self.claim_batch)

    def done_claiming(self) -> bool:
        """``max_jobs`` reached."""
        return self.max_jobs is not None and self.claimed >= self.max_jobs

    def dispatch(self) -> None:
        """Start held jobs while slots are free."""
        while self.held and self.busy() < self.concurrency:
            self._attempts.start(self.held.pop(next(iter(self.held))))

    def holding(self) -> bool:
        """Whether any job runs or is held ahead."""
        return bool(self._attempts.running or self.held)
