"""The seam between aqueue's job logic and a database.

:class:`Backend` is what every database does: insert, claim, complete, renew,
rescue, read. What only some databases do, or only some parts of aqueue need,
is a capability of its own below — :class:`Schema`, :class:`Notifications`,
:class:`Handover`, :class:`Limits`, :class:`Dependencies`, :class:`Admin`,
:class:`Registry`, :class:`Schedules`, :class:`Sessions`, :class:`Outputs`,
:class:`Steps`, :class:`Signals`. They are runtime-checkable: a feature asks
``isinstance(backend, Handover)``, and a backend that cannot hand over simply
has no such methods (never a stub that raises). A feature's own logic stays
in the feature's module and talks to the statements a backend implements
through the ports of :mod:`aqueue.backends.ports`.

Each driver package (``postgres``, ``mysql``, ``sqlite``) implements these
with its SQL beside it and translates driver errors into
:mod:`aqueue.errors` at this edge (:func:`aqueue.backends.common.at_edge`).
Operations only tests need (moving the clock) are not here: see
:mod:`aqueue.backends.clock`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from aqueue.backends.ports import DependencySteps, KeyOps, UniqueSteps
from aqueue.records import (
    AttemptOutput,
    ClaimedJob,
    FlowRow,
    ImportedJob,
    JobFilter,
    JobInfo,
    JobSignal,
    JobStep,
    LeaseState,
    LimitedClaim,
    LimitedResult,
    NewJob,
    Outcome,
    Related,
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


@dataclass(frozen=True, slots=True)
class CallerConnection:
    """A caller's *synchronous* DB-API connection (Django's) to write jobs on,
    inside the caller's transaction: the door through which
    :meth:`Backend.insert_jobs` reaches a transaction aqueue does not own, as
    an asyncpg, aiomysql or aiosqlite connection passed as is does.

    ``await run(fn)`` calls ``fn(cursor)`` with a cursor of the connection, on
    the thread the connection belongs to, and gives back what ``fn`` returned;
    ``on_commit(fn)`` runs ``fn`` once the caller's transaction commits (at
    once in autocommit) — wake-ups that must not come before the commit wait
    for it.
    """

    run: Callable[[Callable[[Any], Any]], Awaitable[Any]]
    on_commit: Callable[[Callable[[], None]], None]


class Listener(Protocol):
    """A live subscription to notifications."""

    async def close(self, timeout: float = 2.0) -> None:
        """Stop listening: gracefully within ``timeout`` seconds, else at once."""


class Backend(Protocol):
    """What every database does."""

    dialect: str
    #: How often an idle worker that no notification reaches asks :meth:`has_due`.
    idle_probe_interval: float

    async def open(self) -> None:
        """Connect (a pool, or one connection for SQLite)."""

    async def close(self, timeout: float = 3.0) -> None:
        """Release every connection: gracefully within ``timeout`` seconds,
        then by dropping them (a partition must not hold up an exit)."""

    async def insert_jobs(self, jobs: Sequence[NewJob], connection: Any = None) -> list[str]:
        """Insert jobs in one round trip where the driver allows; return their ids.

        A job whose ``unique_key`` matches a queued or running job is not
        inserted; the existing job's id is returned in its place. With
        ``connection`` (the driver's own connection, or a
        :class:`CallerConnection`) the insert runs on the caller's connection
        and transaction, which the caller commits; nothing is retried there.
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

    async def complete_jobs(self, worker: str, outcomes: Sequence[Outcome]) -> list[str]:
        """Record ``worker``'s outcomes; return the ids whose fence no longer held.

        The fence: the row is still ``running`` under this worker's name, at the
        attempt the outcome belongs to. A retry (``queued``) of a job whose
        cancel was requested ends it ``cancelled``. All or nothing: an error
        writes none of them. Children of the jobs that ended are released in
        the same transaction (see :mod:`aqueue.dependencies`), and an outcome's
        captured ``output`` is stored there too, fenced or not (the attempt
        ran), once by its id.
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

    async def has_due(self, queues: Sequence[str] | None) -> bool:
        """Whether a claim would find a job due now (one cheap read, no lock)."""


@runtime_checkable
class Schema(Protocol):
    """Versioned migrations of aqueue's tables."""

    #: True when opening the database also migrates it (the embedded SQLite default).
    migrates_on_open: bool

    async def migrate(self) -> list[int]:
        """Apply missing migrations under a lock; return the versions applied."""

    async def schema_version(self) -> int | None:
        """The applied schema version, or ``None`` when aqueue's tables are missing."""

    def latest_version(self) -> int:
        """The version this aqueue's migrations bring the schema to."""


@runtime_checkable
class Notifications(Protocol):
    """The database tells listeners of new jobs, ended jobs, cancel requests
    and hand-overs (PostgreSQL's LISTEN/NOTIFY; SQLite's wake-up sockets)."""

    async def listen(
        self,
        on_new: NewJobHandler,
        on_done: DoneHandler,
        on_cancel: CancelHandler | None = None,
        on_handover: HandoverHandler | None = None,
    ) -> Listener | None:
        """Subscribe; ``None`` when the channel cannot be had here (no LISTEN
        behind PgBouncer without a listen DSN, no socket directory)."""


@runtime_checkable
class Handover(Protocol):
    """Idle workers offer to take jobs straight from producers (aqueue/offers.py)."""

    async def offer(
        self, worker: str, queues: Sequence[str] | None, lease: float, ttl: float, token: float
    ) -> datetime:
        """Stand (or renew) an idle worker's offer for ``ttl`` seconds, with
        ``token`` to be sent back with a job handed over under it; when the
        offer was first made, by the database's clock."""

    async def withdraw_offer(self, worker: str) -> bool:
        """Withdraw the worker's offer; whether it still stood (no producer took it)."""

    async def claim_jobs_withdrawing(
        self, worker: str, queues: Sequence[str] | None, limit: int, lease: float, slots: int
    ) -> list[ClaimedJob]:
        """:meth:`Backend.claim_jobs` by a worker whose offer stands: the offer
        is withdrawn in the same statement when the claim takes ``slots`` jobs
        or more."""

    async def handed_over(self, worker: str, job_id: str) -> ClaimedJob | None:
        """A job handed to ``worker`` by its id alone; ``None`` if it is not (or
        no longer) that worker's first attempt."""

    async def handed_over_since(
        self, worker: str, since: datetime, held: Sequence[str]
    ) -> list[ClaimedJob]:
        """Jobs handed to ``worker`` since ``since`` that are not among ``held``."""


@runtime_checkable
class Limits(Protocol):
    """Jobs with a limit key, claimed within their tasks' limits (aqueue/limits.py)."""

    async def claim_limited(
        self,
        worker: str,
        queues: Sequence[str] | None,
        lease: float,
        request: LimitedClaim,
        room: int,
        steps: Callable[[KeyOps], Awaitable[LimitedResult]],
        withdraw_offer_at: int | None = None,
    ) -> LimitedResult:
        """Claim up to ``room`` jobs with a limit key within ``request``'s
        limits, in one transaction; at once and without one when none is due.
        ``steps`` is the feature's claim (aqueue.limits.claim_steps) to run on
        this database's key statements; a backend that runs the same logic in
        the database (PostgreSQL: one function call) uses ``request`` and
        ``room`` instead. With ``withdraw_offer_at``, a backend with offers
        withdraws the worker's offer in that transaction once that many jobs
        were claimed (one without offers has none to withdraw)."""


@runtime_checkable
class Dependencies(Protocol):
    """Jobs that wait for other jobs (aqueue/dependencies.py)."""

    async def insert_dependent_jobs(
        self,
        jobs: Sequence[NewJob],
        related: Related,
        steps: DependencySteps,
        connection: Any = None,
    ) -> list[str]:
        """Insert ``jobs`` (children inserted waiting) and run ``steps`` (the
        features': record the edges and tags of the jobs that went in,
        ``related.kept(...)``) in one transaction (the caller's, on ``connection``)."""

    async def release_ended(self, parents: Sequence[str] | None = None) -> None:
        """Apply to their children the ends of ``parents`` that ended or are gone
        (None: of every such parent whose end is not applied yet)."""

    async def job_parents(self, job_id: str) -> list[tuple[str, bool]]:
        """The jobs ``job_id`` was enqueued after, and whether each has ended."""

    async def job_children(self, job_id: str) -> list[str]:
        """The jobs enqueued after ``job_id``, oldest first."""


@runtime_checkable
class Tags(Protocol):
    """Jobs found by tag (``using(tags=...)``, the groups of :mod:`aqueue.workflows`)."""

    async def tag_counts(self, tag: str) -> dict[str, int]:
        """How many jobs with ``tag`` each status holds (statuses without any left out)."""


@runtime_checkable
class Uniqueness(Protocol):
    """Keys held for a period or past a job's end (:mod:`aqueue.uniqueness`)."""

    async def insert_unique(self, job: NewJob, steps: UniqueSteps) -> str:
        """Run ``steps`` (which inserts ``job``, or finds the job holding its
        key) over :class:`~aqueue.backends.ports.UniqueOps`, in one transaction."""


@runtime_checkable
class Batches(Protocol):
    """Batches of jobs with callbacks (:mod:`aqueue.workflows.batches`); jobs
    are added through :class:`Dependencies`."""

    async def close_batch(self, batch_id: str) -> bool | None:
        """Close the batch and take its hold off its callbacks, in one
        transaction; False if it was closed already, None for no such batch."""

    async def batch_state(self, batch_id: str) -> tuple[str, bool] | None:
        """A batch's callbacks (JSON) and whether it is closed; None if unknown."""


@runtime_checkable
class Admin(Protocol):
    """Reading, counting and acting on many jobs: the dashboard, the ``aqueue``
    command, health checks and imports (see :class:`aqueue.jobs.Jobs`)."""

    async def list_jobs(self, job_filter: JobFilter) -> list[JobInfo]:
        """Jobs matching ``job_filter``, newest first."""

    async def task_names(self) -> list[str]:
        """Every task name the jobs have, sorted (read from indexes)."""

    async def queue_names(self) -> list[str]:
        """Every queue name the jobs have, sorted (read from indexes)."""

    async def delete_job(self, job_id: str) -> str | None:
        """Delete a job that is not running; return the status it had
        (``running``: not deleted), or ``None`` for an unknown id."""

    async def cancel_job(self, job_id: str) -> str | None:
        """Cancel a queued job, or ask a running one to stop; return the status after."""

    async def reschedule_job(
        self, job_id: str, move: bool, run_at: datetime | None, priority: int | None
    ) -> bool:
        """Make a queued job (not one waiting for parents) due at ``run_at``
        (None: now) if ``move``, and give it ``priority`` unless None;
        whether it was such a job."""

    async def retry_job(self, job_id: str) -> bool:
        """Put a failed or cancelled job back in the queue with fresh attempts."""

    async def queue_counts(self) -> list[Sequence[Any]]:
        """``(queue, status, jobs, due, oldest scheduled_at, now)`` for the
        queued, running and failed jobs, without reading the finished history."""

    async def recent_finished(self, long: float, short: float) -> list[Sequence[Any]]:
        """``(queue, status, jobs finished in the last long seconds, in the last
        short seconds)``."""

    async def totals(self) -> list[Sequence[Any]]:
        """``(queue, status, jobs)`` over every job in the table (a scan)."""

    async def count_expired_leases(self, grace: float) -> int:
        """Running jobs whose lease ran out over ``grace`` seconds ago."""

    async def purge(
        self, older_than: float, statuses: Sequence[str], dry_run: bool, batch_size: int
    ) -> int:
        """Delete finished jobs older than ``older_than`` seconds, in batches."""

    async def purge_task(self, task: str, older_than: float, batch_size: int) -> int:
        """Delete ``task``'s succeeded jobs finished over ``older_than`` seconds
        ago, ``batch_size`` rows per statement; how many went."""

    async def set_paused(self, queue: str, paused: bool) -> None:
        """Pause (or resume) ``queue``: a paused queue's jobs are not claimed."""

    async def queue_states(self) -> dict[str, bool]:
        """Every queue ever paused or resumed, and whether it is paused now."""

    async def import_jobs(self, jobs: Sequence[ImportedJob]) -> int:
        """Insert whole job rows in one transaction, leaving alone any whose id
        exists (or whose unique key an active job holds); how many went in."""


@runtime_checkable
class Registry(Protocol):
    """The workers registry (aqueue/_worker/heartbeat.py)."""

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


@runtime_checkable
class Schedules(Protocol):
    """Periodic ticks (aqueue/periodic.py) and leadership terms (aqueue/leader.py)."""

    async def advance_tick(
        self,
        schedule: str,
        expected: datetime | None,
        tick: datetime,
        jobs: Sequence[tuple[NewJob, str]],
    ) -> list[str] | None:
        """Set ``schedule``'s last tick to ``tick`` if it is still ``expected``
        (None: the schedule has none yet), and insert ``jobs`` (each with its
        ``meta`` JSON) in the same transaction; ``None``, and nothing written,
        when another worker changed the last tick first."""

    async def last_ticks(self) -> dict[str, datetime]:
        """Every schedule's last enqueued tick."""

    async def elect(self, duty: str, candidate: str, ttl: float) -> tuple[str, int]:
        """Take (or keep) the lead of ``duty`` for ``ttl`` seconds if nobody
        holds it or ``candidate`` does; the holder after the call and its term
        (which grows by one at each change of holder)."""

    async def resign(self, duty: str, holder: str) -> None:
        """Give up the lead of ``duty`` if ``holder`` has it."""


@runtime_checkable
class Flow(Protocol):
    """The flow of jobs over time, for the dashboard's charts (aqueue/flow.py)."""

    async def add_flow(self, rows: Sequence[FlowRow]) -> None:
        """Add the attempts counted in ``rows`` to their minute's and queue's
        row (their ``depth`` is not read)."""

    async def set_depths(self, minute: int, depths: Sequence[tuple[str, int]]) -> None:
        """Record the queues' depths at ``minute``."""

    async def prune_flow(self, before: int) -> None:
        """Forget the minutes before ``before``."""

    async def read_flow(self, since: int, queue: str | None) -> list[FlowRow]:
        """The minutes from ``since`` on, oldest first: one queue's, or all
        queues' added up (``queue`` None; their ``queue`` is ``"*"``)."""


@runtime_checkable
class Replication(Protocol):
    """A database that can say how far behind its primary it is (aqueue/replica.py)."""

    async def wal_position(self) -> str:
        """Where the primary's log is now (read on the primary)."""

    async def replica_lag(self, position: str) -> float | None:
        """Seconds this replica's replay is behind: 0 when it has replayed up
        to the primary's ``position``; None when it is not a replica."""


@runtime_checkable
class Sessions(Protocol):
    """The dashboard's log-in sessions (aqueue/web/sessions.py)."""

    async def start_session(self, key: str, ttl: float) -> None:
        """Record a dashboard log-in for ``ttl`` seconds (and forget expired ones)."""

    async def session_alive(self, key: str) -> bool:
        """Whether the log-in ``key`` stands and has not expired."""

    async def end_session(self, key: str) -> None:
        """End the log-in ``key`` (a log-out)."""


@runtime_checkable
class Outputs(Protocol):
    """What attempts printed and logged (aqueue/_worker/output.py), kept with
    their job and deleted with it. :meth:`Backend.complete_jobs` stores an
    outcome's ``output`` with it — once, by its id, however often it is sent."""

    async def job_outputs(self, job_id: str) -> list[AttemptOutput]:
        """A job's outputs, oldest attempt first."""


@runtime_checkable
class Steps(Protocol):
    """Durable steps (aqueue/steps.py): each step's result, stored once per
    job, fenced by the attempt that ran it, and deleted with the job."""

    async def job_step(self, job_id: str, name: str) -> str | None:
        """The stored result of the job's step ``name`` (JSON), if it has one."""

    async def store_step(
        self, job_id: str, attempt: int, worker: str, name: str, result: str
    ) -> str | None:
        """Store the step's result while ``worker``'s ``attempt`` holds the job;
        the stored result (an earlier one stays), or None when the attempt no
        longer holds the job and none is stored."""

    async def job_steps(self, job_id: str) -> list[JobStep]:
        """The job's stored steps, in the order they were stored."""


@runtime_checkable
class Signals(Protocol):
    """Signals to jobs (``queue.signal``, ``ctx.wait_for``): one per job and
    name, kept until the job is deleted."""

    async def send_signal(self, job_id: str, name: str, payload: str, wait_step: str) -> bool:
        """Keep the signal if the job is queued or running and has none of that
        name yet, and make the job due if it is parked with ``wait_step``
        stored; whether it was kept."""

    async def job_signal(self, job_id: str, name: str) -> str | None:
        """The payload of the job's signal ``name`` (JSON), if one was sent."""

    async def job_signals(self, job_id: str) -> list[JobSignal]:
        """The signals sent to the job, in the order they came."""
