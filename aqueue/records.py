"""Plain records passed between the job logic and the backends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal


class JobStatus(StrEnum):
    """A job's status; compares equal to its string value."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
FINAL_STATUS_NAMES = ("succeeded", "failed", "cancelled")

#: Where a job waiting for its parents keeps its ``scheduled_at`` until they
#: have ended (see :mod:`aqueue.dependencies`): far enough that no claim sees it.
WAITING_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)
#: What a parent's failure or cancellation does to a child job.
OnParentFailure = Literal["cancel", "run"]
#: What enqueueing does when a job holds the key (see ``aqueue.uniqueness``).
OnConflict = Literal["keep", "replace"]


@dataclass(frozen=True, slots=True)
class PastAttempt:
    """An attempt that ended and was followed by another."""

    attempt: int
    started_at: datetime | None
    ended_at: datetime | None
    #: ``retried`` (it raised and had attempts left), ``rescued`` (its worker
    #: stopped renewing its lease, or died) or ``retried by hand``.
    outcome: str
    error: str | None  # the exception's type name
    message: str | None  # its message, cut at 500 characters


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A snapshot of one job as the database held it when read."""

    id: str
    task: str
    queue: str
    status: JobStatus
    priority: int
    attempts: int
    max_attempts: int
    args: list[Any]
    kwargs: dict[str, Any]
    result: Any
    error: dict[str, Any] | None
    created_at: datetime
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker: str | None
    unique_key: str | None = None
    progress: Any = None
    cancel_requested: bool = False
    #: Earlier attempts, oldest first; the current or last one is described by
    #: ``started_at``, ``finished_at`` and ``error``.
    history: tuple[PastAttempt, ...] = ()
    #: What aqueue recorded about the job (``{"periodic": {"schedule", "tick"}}``).
    meta: dict[str, Any] | None = None
    #: Seconds an attempt may run (None: the task's own timeout, or none).
    timeout: float | None = None
    #: Set when a stored value is not valid JSON (written around aqueue): says
    #: which fields could not be read; those fields are ``None``.
    decode_error: str | None = None
    #: The key its task's limits count it under (``""``: the task as a whole).
    limit_key: str | None = None
    #: How many of its parents (``after=``) have not ended; None: it has none.
    waiting: int | None = None
    #: The jobs it was enqueued ``after`` (read by ``get_job``, not by lists).
    depends_on: tuple[str, ...] = ()
    #: Those of them that have not ended yet: what it is waiting for.
    waiting_for: tuple[str, ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags it was enqueued with (``using(tags=...)``)."""
        tags = (self.meta or {}).get("tags")
        return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()


#: The key of ``meta`` a workflow's or a batch's facts about a job are under.
WORKFLOW_META_KEY = "workflow"
#: The tag of every job of a workflow or of one of its groups, before the id.
GROUP_TAG_PREFIX = "aqueue:group:"


def group_tag(group_id: str) -> str:
    """The tag every job of a workflow, group or batch carries."""
    return f"{GROUP_TAG_PREFIX}{group_id}"


def schedule_tag(schedule: str) -> str:
    """The tag of the jobs a periodic schedule enqueued: a digest of its
    name, which may be longer than a tag."""
    return "aqueue:schedule:" + hashlib.sha256(schedule.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class ImportedJob:
    """A whole job row to insert as it is (``aqueue import`` and ``aqueue copy``).

    The JSON fields are JSON text; times are aware datetimes.
    """

    id: str
    task: str
    queue: str
    status: str
    priority: int
    attempts: int
    max_attempts: int
    timeout: float | None
    args: str
    kwargs: str
    result: str | None
    error: str | None
    progress: str | None
    history: str | None
    meta: str | None
    unique_key: str | None
    worker: str | None
    cancel_requested: bool
    created_at: datetime
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    def tag_rows(self) -> list[tuple[str, str]]:
        """The ``(job id, tag)`` rows its ``meta`` implies: its tags, and the
        workflow groups it belongs to (``aqueue:group:<id>``), so that a moved
        job is found by tag, and a moved workflow by id, as before."""
        try:
            meta = json.loads(self.meta) if self.meta else None
        except ValueError:
            return []
        if not isinstance(meta, dict):
            return []
        tags = meta.get("tags")
        facts = meta.get(WORKFLOW_META_KEY)
        groups = facts.get("groups") if isinstance(facts, dict) else None
        rows = [(self.id, t) for t in tags or () if isinstance(t, str)]
        rows += [(self.id, group_tag(g)) for g in groups or () if isinstance(g, str)]
        return rows


@dataclass(frozen=True, slots=True)
class JobKind:
    """What the jobs of one task enqueued with the same options share.

    A batch of 20,000 jobs usually has one kind: backends send the kinds once
    and each job's own fields (id, arguments, unique key) by column.
    """

    task: str
    queue: str
    priority: int
    max_attempts: int
    timeout: float | None
    delay: float = 0.0
    run_at: datetime | None = None
    #: JSON text of the ``meta`` object its jobs are stored with, or None.
    meta: str | None = None
    #: The key its task's concurrency and rate limits count it under (``""``
    #: for the task as a whole), or None for a task without limits.
    limit_key: str | None = None


# Not frozen: a frozen dataclass sets each field through object.__setattr__,
# and a batch enqueue makes tens of thousands of these. Treat it as immutable.
@dataclass(slots=True)
class NewJob:
    """A job to insert. ``args``/``kwargs`` are already JSON text."""

    id: str
    args: str
    kwargs: str
    unique_key: str | None
    kind: JobKind

    @property
    def task(self) -> str:
        return self.kind.task

    @property
    def queue(self) -> str:
        return self.kind.queue

    @property
    def priority(self) -> int:
        return self.kind.priority

    @property
    def max_attempts(self) -> int:
        return self.kind.max_attempts

    @property
    def timeout(self) -> float | None:
        return self.kind.timeout

    @property
    def delay(self) -> float:
        return self.kind.delay

    @property
    def run_at(self) -> datetime | None:
        return self.kind.run_at

    @property
    def meta(self) -> str | None:
        return self.kind.meta

    @property
    def limit_key(self) -> str | None:
        return self.kind.limit_key

    def can_hand_over(self) -> bool:
        """Whether it may go straight to an idle worker (aqueue/offers.py): due
        now, and nothing a claim would have to check (a unique or limit key)."""
        kind = self.kind
        return (
            self.unique_key is None
            and kind.limit_key is None
            and kind.run_at is None
            and kind.delay <= 0
        )


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker has claimed; ``attempts`` already counts this attempt."""

    id: str
    task: str
    queue: str
    priority: int
    args: list[Any]
    kwargs: dict[str, Any]
    attempts: int
    max_attempts: int
    timeout: float | None
    #: Why the stored arguments could not be decoded, if they could not: the
    #: attempt then fails at once, alone, instead of poisoning its batch.
    decode_error: str | None = None
    #: What aqueue recorded about the job (a periodic job's schedule and tick).
    meta: dict[str, Any] | None = None
    #: When the job became due, as the database returned it (a datetime, or
    #: epoch seconds on SQLite): read through :meth:`due_timestamp`.
    due: Any = None

    @property
    def key(self) -> tuple[str, int]:
        """One attempt of one job: what a worker tracks and fences by."""
        return (self.id, self.attempts)

    def due_timestamp(self) -> float | None:
        """When the job became due, as epoch seconds (for enqueue-to-start latency)."""
        due = self.due
        if due is None:
            return None
        if isinstance(due, datetime):
            return (due.replace(tzinfo=UTC) if due.tzinfo is None else due).timestamp()
        return float(due)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of one attempt, fenced by ``(id, attempts)``.

    ``status`` is the job's next status: ``queued`` (retry after ``retry_delay``),
    ``succeeded``, ``failed`` or ``cancelled``.
    """

    id: str
    attempts: int
    status: JobStatus
    result: str | None = None
    error: str | None = None
    retry_delay: float = 0.0
    #: What the attempt printed and logged, when its task captures output.
    output: AttemptOutput | None = None
    #: ``queued`` by :class:`~aqueue.Snooze`: the attempt is given back, not spent.
    snoozed: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.attempts)


@dataclass(frozen=True, slots=True)
class JobStep:
    """A durable step a job finished (``await ctx.step(name, ...)``): its
    stored result (as JSON text), and the attempt that ran it."""

    name: str
    attempt: int
    result: str
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobSignal:
    """A signal sent to a job (``queue.signal``): its name and payload (JSON text)."""

    name: str
    payload: str
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AttemptOutput:
    """What one attempt wrote to stdout and stderr and logged, in order.

    ``id`` is made when the attempt starts, so writing it twice (a retried
    write) stores it once; ``cut`` counts the bytes left out of the middle
    (see :mod:`aqueue._worker.output`). ``created_at`` is set when read back.
    """

    id: str
    job_id: str
    attempt: int
    text: str
    cut: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeaseState:
    """What a lease renewal learned about one running job."""

    id: str
    attempts: int
    cancel_requested: bool


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs ``list_jobs`` returns, newest first.

    ``before``/``after`` are keyset cursors (job ids, which sort by creation
    time): the page of jobs older than ``before``, or the page newer than
    ``after``. ``id_prefix`` is the leading hex digits of an id.
    """

    statuses: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    limit: int = 50
    id_prefix: str | None = None
    before: str | None = None
    after: str | None = None
    #: Only jobs that carry this tag (see ``using(tags=...)``).
    tag: str | None = None
    #: Only jobs whose task name contains this text (the dashboard's task search).
    task_contains: str | None = None
    #: Only queued jobs due later than now: the scheduled ones (and those
    #: waiting for parents). Implies ``statuses=("queued",)``.
    due_later: bool = False
    #: Only jobs whose arguments hold these values: ``(("user_id", 42),)`` is
    #: the keyword argument ``user_id`` equal to 42, ``(("0", "a"),)`` the
    #: first positional argument equal to ``"a"`` (values are str, int, float
    #: or bool). Like ``error_contains``, looked for among the newest
    #: :data:`SEARCH_WINDOW` jobs the other conditions select, per status:
    #: narrow those (a task, a status, ``before=``) to search further back.
    args: tuple[tuple[str, Any], ...] = ()
    #: Only jobs whose recorded error (type, message, traceback) contains this text.
    error_contains: str | None = None


#: Rows a search of arguments or error text reads per status, at most: what
#: keeps it fast on any history (see :class:`JobFilter`).
SEARCH_WINDOW = 3_000


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One minute of one queue's flow (see :mod:`aqueue.flow`): attempts that
    ended in it by outcome, and the jobs due and waiting when it was sampled
    (None: not sampled)."""

    #: Unix seconds at the minute's start.
    minute: int
    #: The queue, or ``"*"`` for all queues added up.
    queue: str
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    depth: int | None = None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """One queue's jobs, as the database held them when read (see
    :meth:`aqueue.jobs.Jobs.counts`): the one counting record of aqueue.

    ``due``, ``scheduled``, ``running`` and ``failed`` count the jobs queued
    and due, queued for later (or waiting for parents), running, and failed;
    ``oldest_due_age`` is how long the oldest due job has waited (None:
    none is due). ``finished_5m``/``finished_60m`` count the jobs that
    finished in the last 5 and 60 minutes by final status. ``totals``, only
    when asked for, counts every job of the queue by status (a scan of the
    whole history, where the rest reads indexes alone).
    """

    name: str
    paused: bool
    due: int
    scheduled: int
    running: int
    failed: int
    oldest_due_age: float | None
    finished_5m: dict[str, int]
    finished_60m: dict[str, int]
    totals: dict[str, int] | None = None

    @property
    def queued(self) -> int:
        """Jobs queued, due or not."""
        return self.due + self.scheduled


@dataclass(frozen=True, slots=True)
class WorkerRegistration:
    """What a worker tells the registry about itself when it starts."""

    name: str
    host: str
    pid: int
    queues: list[str] | None
    concurrency: int
    version: str
    #: Where ``pid`` means something (boot id and pid namespace), or None where
    #: it cannot be told: workers of one node can see each other die.
    node: str | None = None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker as the registry holds it, with the jobs it is running now."""

    name: str
    host: str
    pid: int
    queues: list[str] | None  # None: every queue
    concurrency: int
    version: str
    status: str  # running, stopped (exited cleanly) or dead (stopped heartbeating)
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    stopped_at: datetime | None
    running_jobs: list[str]


@dataclass(frozen=True, slots=True)
class Edge:
    """A child job waiting for a parent (see :mod:`aqueue.dependencies`)."""

    child: str
    parent: str
    run_on_failure: bool = False


@dataclass(frozen=True, slots=True)
class Related:
    """What is written beside a batch of new jobs, in its transaction: the
    edges of children waiting for parents (:mod:`aqueue.dependencies`) and
    ``(job id, tag)`` rows (tags, and the groups of :mod:`aqueue.workflows`)."""

    edges: tuple[Edge, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    #: ``(batch id, job id)``: jobs added to an open batch (:mod:`aqueue.workflows.batches`).
    members: tuple[tuple[str, str], ...] = ()
    #: ``(batch id, {"success": job id, ...})``: batches opened with these callbacks.
    opened: tuple[tuple[str, dict[str, str]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.edges or self.tags or self.members or self.opened)

    def kept(self, ids: set[str]) -> Related:
        """Only the rows of the jobs in ``ids`` (a job whose unique key was
        taken already went in as the existing one, and gets none)."""
        return Related(
            tuple(e for e in self.edges if e.child in ids),
            tuple(t for t in self.tags if t[0] in ids),
            tuple(m for m in self.members if m[1] in ids),
            self.opened,
        )


@dataclass(frozen=True, slots=True)
class EndedEdge:
    """An edge whose parent has ended (``parent_status`` None: it is gone)."""

    child: str
    parent: str
    parent_status: str | None
    run_on_failure: bool


@dataclass(frozen=True, slots=True)
class TaskLimit:
    """The concurrency and rate limits of one task (see :mod:`aqueue.limits`);
    either may be None (no such limit). Made by :meth:`of`, which checks them."""

    task: str
    concurrency: int | None = None
    rate: int | None = None
    period: float | None = None

    @classmethod
    def of(cls, task: str, concurrency: int | None, rate_limit: str | None) -> TaskLimit | None:
        """The limits given to ``@queue.task``, checked; None when there are none."""
        from aqueue.validation import parse_rate

        if concurrency is not None and (
            isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
        ):
            raise ValueError(f"concurrency must be a whole number ≥ 1, not {concurrency!r}")
        rate, period = parse_rate(rate_limit) if rate_limit is not None else (None, None)
        if concurrency is None and rate is None:
            return None
        return cls(task, concurrency, rate, period)

    def available(self, running: int, recent_starts: int) -> int | None:
        """How many more may start now (None: no limit applies)."""
        left: int | None = None
        if self.concurrency is not None:
            left = self.concurrency - running
        if self.rate is not None:
            room = self.rate - recent_starts
            left = room if left is None else min(left, room)
        return None if left is None else max(0, left)


@dataclass(slots=True)
class LimitedClaim:
    """What a worker asks of one limited claim (see :mod:`aqueue.limits`)."""

    #: The worker's limited tasks; jobs of other tasks with a limit key are
    #: claimed without limits (their worker does not know any).
    limits: Mapping[str, TaskLimit]
    #: Where the previous claim stopped: keys are visited from there on, in
    #: turn, so that no key waits behind the others' backlogs.
    after: tuple[str, str] | None = None
    #: Keys one claim visits at most.
    max_keys: int = 50


@dataclass(slots=True)
class LimitedResult:
    """What a limited claim took, and where the next one starts."""

    jobs: list[ClaimedJob]
    cursor: tuple[str, str] | None
    #: Whether a key had due jobs that its limits held back (a burst worker
    #: waits for them instead of exiting).
    held_back: bool = False
