"""The one interface between aqueue's job logic and a database.

The queue and the worker only ever talk to a :class:`Backend`; each driver
package (``postgres``, ``mysql``, ``sqlite``) implements it with its own SQL
beside it and translates driver errors into :mod:`aqueue.errors` at this edge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from aqueue.dependencies import Edge
from aqueue.limits import LimitedClaim, LimitedResult
from aqueue.records import (
    ClaimedJob,
    ImportedJob,
    JobFilter,
    JobInfo,
    LeaseState,
    NewJob,
    Outcome,
    WorkerInfo,
    WorkerRegistration,
)

# Called by a listener: on_new(queue name), on_done(job ids, or None for "some jobs").
NewJobHandler = Callable[[str], None]
DoneHandler = Callable[[list[str] | None], None]
# on_cancel(job id): a cancel was requested for a running job.
CancelHandler = Callable[[str], None]
# on_handover(payload): a producer handed a job to an idle worker (aqueue/offers.py).
HandoverHandler = Callable[[str], None]


class Listener(Protocol):
    """A live subscription to new-job and job-done notifications."""

    async def close(self, timeout: float = 2.0) -> None:
        """Stop listening: gracefully within ``timeout`` seconds, else at once."""


class Backend(Protocol):
    """Everything aqueue asks of a database."""

    dialect: str
    #: True when the database pushes notifications (PostgreSQL LISTEN/NOTIFY).
    supports_notify: bool
    #: How often an idle worker without notifications asks :meth:`has_due`.
    idle_probe_interval: float
    #: True when producer and worker can only share the database from one host.
    single_host: bool
    #: True when opening the database also migrates it (the embedded SQLite default).
    migrates_on_open: bool
    #: True when idle workers may offer to take jobs straight from producers
    #: (aqueue/offers.py; PostgreSQL). The methods below are then used.
    supports_handover: bool

    async def open(self) -> None:
        """Connect (a pool, or one connection for SQLite)."""

    async def close(self, timeout: float = 3.0) -> None:
        """Release every connection: gracefully within ``timeout`` seconds,
        then by dropping them (a partition must not hold up an exit)."""

    async def migrate(self) -> list[int]:
        """Apply missing migrations under a lock; return the versions applied."""

    async def schema_version(self) -> int | None:
        """The applied schema version, or ``None`` when aqueue's tables are missing."""

    async def insert_jobs(self, jobs: Sequence[NewJob], connection: Any = None) -> list[str]:
        """Insert jobs in one round trip where the driver allows; return their ids.

        A job whose ``unique_key`` matches a queued or running job is not
        inserted; the existing job's id is returned in its place. With
        ``connection`` the insert runs on the caller's connection and
        transaction, which the caller commits.
        """

    async def insert_job_batches(self, batches: Iterator[list[NewJob]]) -> list[str]:
        """Insert every batch in one transaction (all or nothing); return the ids.

        Drawing the next batch may do work (checking and encoding arguments);
        a backend may overlap it with the database's work on the previous
        batch. An exception from ``batches`` rolls everything back. Unique
        keys as in :meth:`insert_jobs`.
        """

    async def claim_jobs(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        """Claim up to ``limit`` due jobs, highest priority then oldest first."""

    async def insert_dependent_jobs(
        self, jobs: Sequence[NewJob], edges: Sequence[Edge], connection: Any = None
    ) -> list[str]:
        """Insert ``jobs`` (children inserted waiting) and their ``edges`` in one
        transaction (the caller's, on ``connection``); see :mod:`aqueue.dependencies`."""

    async def release_ended(self, parents: Sequence[str] | None = None) -> None:
        """Apply to their children the ends of ``parents`` that ended or are gone
        (None: of every such parent whose end is not applied yet)."""

    async def job_parents(self, job_id: str) -> list[tuple[str, bool]]:
        """The jobs ``job_id`` was enqueued after, and whether each has ended."""

    async def claim_limited(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float,
        request: LimitedClaim,
    ) -> LimitedResult:
        """Claim up to ``limit`` due jobs that carry a limit key, within their
        tasks' limits, in one transaction (see :mod:`aqueue.limits`)."""

    async def complete_jobs(self, worker: str, outcomes: Sequence[Outcome]) -> list[str]:
        """Record ``worker``'s outcomes; return the ids whose fence no longer held.

        The fence: the row is still ``running`` under this worker's name, at the
        attempt the outcome belongs to. A retry (``queued``) of a job whose
        cancel was requested ends it ``cancelled``. All or nothing: an error
        writes none of them.
        """

    async def renew_leases(
        self, worker: str, job_ids: Sequence[str], lease: float
    ) -> list[LeaseState]:
        """Extend the leases ``worker`` holds on ``job_ids``; report cancel requests.

        Only the jobs the worker knows it runs are renewed: a claim whose reply
        was lost leaves jobs this worker never heard of, and their leases must
        run out so that they are rescued.
        """

    async def cancel_requests(self, worker: str, job_ids: Sequence[str]) -> list[str]:
        """The jobs among ``job_ids`` that ``worker`` runs and whose cancel was
        requested (one read, no lock)."""

    async def rescue_expired_leases(self, gone: Sequence[str] = ()) -> int:
        """Re-queue running jobs whose lease expired, and those held by the
        workers named in ``gone`` (known dead): ``failed`` when out of
        attempts, ``cancelled`` when a cancel was requested."""

    async def hand_back(self, worker: str, jobs: Sequence[tuple[str, int]]) -> int:
        """Re-queue ``(id, attempts)`` jobs ``worker`` holds and did not finish.

        The attempt is not counted. A job whose cancel was requested ends
        ``cancelled`` instead.
        """

    async def set_progress(self, job_id: str, attempts: int, worker: str, progress: str) -> bool:
        """Store a running job's progress (JSON text); False when fenced out."""

    async def get_job(self, job_id: str) -> JobInfo | None:
        """One job, or ``None``."""

    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobInfo]:
        """The jobs among ``job_ids`` that exist."""

    async def list_jobs(self, job_filter: JobFilter) -> list[JobInfo]:
        """Jobs matching ``job_filter``, newest first."""

    async def delete_job(self, job_id: str) -> str | None:
        """Delete a job that is not running; return the status it had
        (``running``: not deleted), or ``None`` for an unknown id."""

    async def queue_counts(self) -> list[Sequence[Any]]:
        """``(queue, status, jobs, due, oldest scheduled_at, now)`` for the
        queued, running and failed jobs, without reading the finished history."""

    async def recent_finished(self, long: float, short: float) -> list[Sequence[Any]]:
        """``(queue, status, jobs finished in the last long seconds, in the last
        short seconds)``."""

    async def cancel_job(self, job_id: str) -> str | None:
        """Cancel a queued job, or ask a running one to stop; return the status after."""

    async def retry_job(self, job_id: str) -> bool:
        """Put a failed or cancelled job back in the queue with fresh attempts."""

    async def stats(self) -> dict[str, dict[str, int]]:
        """Job counts per queue, per status."""

    async def import_jobs(self, jobs: Sequence[ImportedJob]) -> int:
        """Insert whole job rows in one transaction, leaving alone any whose id
        exists (or whose unique key an active job holds); how many went in."""

    async def count_expired_leases(self, grace: float) -> int:
        """Running jobs whose lease ran out over ``grace`` seconds ago."""

    async def shift_schedules(self, seconds: float) -> int:
        """Bring every queued job's due time ``seconds`` nearer (aqueue.testing's
        clock); jobs waiting for parents are left alone. How many moved."""

    async def next_due_in(self) -> float | None:
        """Seconds until the earliest queued job not waiting for parents is due
        (negative: overdue); None when there is none."""

    async def count_pending(self, queues: Sequence[str] | None) -> int:
        """Queued jobs (due or not) in ``queues`` (all when ``None``)."""

    async def purge(
        self, older_than: float, statuses: Sequence[str], dry_run: bool, batch_size: int
    ) -> int:
        """Delete finished jobs older than ``older_than`` seconds, in batches."""

    async def set_paused(self, queue: str, paused: bool) -> None:
        """Pause (or resume) ``queue``: a paused queue's jobs are not claimed."""

    async def queue_states(self) -> dict[str, bool]:
        """Every queue ever paused or resumed, and whether it is paused now."""

    async def register_worker(self, worker: WorkerRegistration, ttl: float) -> None:
        """Add (or revive) ``worker`` in the registry, alive for ``ttl`` seconds."""

    async def heartbeat_worker(self, name: str, ttl: float) -> bool:
        """Keep ``name`` alive ``ttl`` seconds more; False if it is not registered."""

    async def deregister_worker(self, name: str) -> None:
        """Mark ``name`` stopped (a clean exit)."""

    async def sweep_workers(self, retention: float) -> tuple[int, int]:
        """Mark workers whose heartbeat ran out dead, and delete stopped or dead
        ones older than ``retention`` seconds; ``(marked, deleted)``."""

    async def list_workers(self, retention: float) -> list[WorkerInfo]:
        """The registered workers, running ones first, each with its running jobs;
        stopped and dead ones only if they stopped less than ``retention`` seconds ago."""

    async def workers_on_node(self, node: str) -> list[tuple[str, int]]:
        """``(name, pid)`` of every registered worker of ``node``."""

    async def advance_tick(self, schedule: str, expected: datetime | None, tick: datetime,
                           jobs: Sequence[tuple[NewJob, str]]) -> list[str] | None:
        """Set ``schedule``'s last tick to ``tick`` if it is still ``expected``
        (None: the schedule has none yet), and insert ``jobs`` (each with its
        ``meta`` JSON) in the same transaction; ``None``, and nothing written,
        when another worker changed the last tick first."""

    async def last_ticks(self) -> dict[str, datetime]:
        """Every schedule's last enqueued tick."""

    async def purge_task(self, task: str, older_than: float, batch_size: int) -> int:
        """Delete ``task``'s succeeded jobs finished over ``older_than`` seconds
        ago, ``batch_size`` rows per statement; how many went."""

    async def start_session(self, key: str, ttl: float) -> None:
        """Record a dashboard log-in for ``ttl`` seconds (and forget expired ones)."""

    async def session_alive(self, key: str) -> bool:
        """Whether the log-in ``key`` stands and has not expired."""

    async def end_session(self, key: str) -> None:
        """End the log-in ``key`` (a log-out)."""

    async def has_due(self, queues: Sequence[str] | None) -> bool:
        """Whether a claim would find a job due now (one cheap read, no lock)."""

    async def listen(
        self, on_new: NewJobHandler, on_done: DoneHandler, on_cancel: CancelHandler | None = None,
        on_handover: HandoverHandler | None = None,
    ) -> Listener | None:
        """Subscribe to notifications; ``None`` where the database has none."""

    async def offer(self, worker: str, queues: Sequence[str] | None, lease: float,
                    ttl: float, token: float) -> datetime:
        """Stand (or renew) an idle worker's offer for ``ttl`` seconds, with
        ``token`` to be sent back with a job handed over under it; when the
        offer was first made, by the database's clock."""

    async def claim_jobs_withdrawing(self, worker: str, queues: Sequence[str] | None,
                                     limit: int, lease: float, slots: int) -> list[ClaimedJob]:
        """:meth:`claim_jobs` by a worker whose offer stands: the offer is withdrawn
        in the same statement when the claim takes ``slots`` jobs or more."""

    async def withdraw_offer(self, worker: str) -> bool:
        """Withdraw the worker's offer; whether it still stood (no producer took it)."""

    async def handed_over(self, worker: str, job_id: str) -> ClaimedJob | None:
        """A job handed to ``worker`` by its id alone; ``None`` if it is not (or
        no longer) that worker's first attempt."""

    async def handed_over_since(self, worker: str, since: datetime,
                                held: Sequence[str]) -> list[ClaimedJob]:
        """Jobs handed to ``worker`` since ``since`` that are not among ``held``."""
