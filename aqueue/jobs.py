"""``queue.jobs``: reading, counting and acting on many jobs at once.

What the dashboard, the ``aqueue`` command, health checks and metrics use,
beside the producer API of :class:`~aqueue.Queue` — procrastinate's
``JobManager``, in short. One counting API, :meth:`Jobs.counts`, instead of
several overlapping ones. Every action on jobs is written to the audit log by
whoever calls it (see :mod:`aqueue.audit`). With a read replica
(``Queue(read_dsn=...)``) lists, counts and names are read there; one job's
details and every action use the primary (see :mod:`aqueue.replica`).
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aqueue import validation
from aqueue.backends.base import Admin, Dependencies, Outputs, Signals, Steps
from aqueue.backends.common import as_utc
from aqueue.errors import ConfigurationError
from aqueue.records import (
    FINAL_STATUS_NAMES,
    AttemptOutput,
    ImportedJob,
    JobFilter,
    JobInfo,
    JobSignal,
    JobStatus,
    JobStep,
    QueueCounts,
)

if TYPE_CHECKING:
    from aqueue.queue import Queue

#: The windows of recent throughput in :class:`QueueCounts`, in seconds.
LONG_WINDOW, SHORT_WINDOW = 3600.0, 300.0


class Jobs:
    """The job-admin verbs of one queue's database (``queue.jobs``)."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    async def _admin(self, *, reads: bool = False) -> Admin:
        """The primary database, or with ``reads`` where operators' reads go."""
        if reads:
            backend = await self._queue.reads.backend()
        else:
            await self._queue.open()
            backend = self._queue.backend
        if not isinstance(backend, Admin):
            raise ConfigurationError(f"{self._queue.dsn} cannot list or act on jobs")
        return backend

    async def list(
        self, job_filter: JobFilter | None = None, *, primary: bool = False
    ) -> builtins.list[JobInfo]:
        """Jobs matching ``job_filter`` (all, by default), newest first.

        Page with the filter's keyset cursors: ``before=<last id shown>`` for
        the next (older) page, ``after=<first id shown>`` for the previous one.
        A bad status, cursor or prefix raises ``ValueError``. Read on the read
        replica, if any, unless ``primary`` (to see one's own writes at once).
        """
        admin = await self._admin(reads=not primary)
        wanted = await self._named(admin, validation.check_job_filter(job_filter or JobFilter()))
        return [] if wanted is None else await admin.list_jobs(wanted)

    async def _named(self, admin: Admin, f: JobFilter) -> JobFilter | None:
        """``f`` with its part of a task name turned into the names that
        contain it, so that their jobs are found by the indexes of names (a
        text no name has reads no job); None when no name does."""
        if not f.task_contains:
            return f
        names = [n for n in await admin.task_names() if f.task_contains in n]
        if f.tasks:
            names = [n for n in names if n in f.tasks]
        return replace(f, tasks=tuple(names), task_contains=None) if names else None

    async def task_names(self) -> builtins.list[str]:
        """Every task name the jobs in the database have, sorted (the
        dashboard's choices); read from indexes, not a row per job."""
        return await (await self._admin(reads=True)).task_names()

    async def queue_names(self) -> builtins.list[str]:
        """Every queue name the jobs in the database have, sorted."""
        return await (await self._admin(reads=True)).queue_names()

    async def output(self, job_id: str) -> builtins.list[AttemptOutput]:
        """What each attempt of the job printed and logged, oldest first, for
        tasks that capture output (``@queue.task(capture_output=True)``, or
        run in a child process); empty when none was kept."""
        await self._queue.open()
        backend = self._queue.backend
        if not isinstance(backend, Outputs):
            return []
        return await backend.job_outputs(validation.check_name("job id", job_id))

    async def steps(self, job_id: str) -> builtins.list[JobStep]:
        """The durable steps the job finished (``await ctx.step(...)``), in
        the order they were stored; results as stored (JSON text)."""
        await self._queue.open()
        backend = self._queue.backend
        if not isinstance(backend, Steps):
            return []
        return await backend.job_steps(validation.check_name("job id", job_id))

    async def signals(self, job_id: str) -> builtins.list[JobSignal]:
        """The signals sent to the job (``queue.signal``), in the order they came."""
        await self._queue.open()
        backend = self._queue.backend
        if not isinstance(backend, Signals):
            return []
        return await backend.job_signals(validation.check_name("job id", job_id))

    async def children(self, job_id: str) -> builtins.list[str]:
        """The ids of the jobs enqueued after this one (``after=``, or the next
        links of a workflow), oldest first."""
        await self._queue.open()
        backend = self._queue.backend
        if not isinstance(backend, Dependencies):
            return []
        return await backend.job_children(validation.check_name("job id", job_id))

    async def counts(
        self, queues: Sequence[str] | None = None, *, totals: bool = False
    ) -> builtins.list[QueueCounts]:
        """Every queue with active or failed jobs, recent finishes, or a pause
        state (or those of ``queues``), in name order: due, scheduled, running
        and failed jobs, the oldest due job's age and the throughput of the
        last 5 and 60 minutes, read from indexes alone — its cost does not
        grow with the finished history. ``totals`` adds every job's count by
        status (a scan of the whole table).
        """
        admin = await self._admin(reads=True)
        reads: builtins.list[Awaitable[Any]] = [
            admin.queue_states(),
            admin.queue_counts(),
            admin.recent_finished(LONG_WINDOW, SHORT_WINDOW),
        ]
        if totals:
            reads.append(admin.totals())
        found = await asyncio.gather(*reads)
        counted = _summarize(found[0], found[1], found[2], found[3] if totals else None)
        if queues is not None:
            wanted = set(queues)
            counted = [c for c in counted if c.name in wanted]
        return counted

    async def retry(self, job_id: str) -> bool:
        """Queue a failed or cancelled job again with fresh attempts; False otherwise."""
        return await (await self._admin()).retry_job(str(job_id))

    async def reschedule(
        self,
        job_id: str,
        *,
        run_at: datetime | None = None,
        now: bool = False,
        priority: int | None = None,
    ) -> bool:
        """Change a queued job that is not waiting for parents: make it due at
        ``run_at`` (an aware datetime) or at once (``now=True``), and/or give it
        ``priority``. False for any other job (running, finished, waiting, gone)."""
        if run_at is not None and now:
            raise ValueError("give either run_at or now=True, not both")
        if run_at is not None:
            run_at = validation.check_run_after(run_at)
        if priority is not None:
            priority = validation.check_priority(priority)
        if run_at is None and not now and priority is None:
            raise ValueError("nothing to change: give run_at, now=True or priority")
        admin = await self._admin()
        return await admin.reschedule_job(str(job_id), now or run_at is not None, run_at, priority)

    async def cancel(self, job_id: str) -> JobStatus | None:
        """Cancel a queued job, or ask the worker running it to stop it.

        Returns the status after the call (``running`` while a running job is
        being stopped), or ``None`` for an unknown id. The worker running it
        stops it within a second on every database (see docs/concepts.md).
        """
        admin = await self._admin()
        status = await admin.cancel_job(str(job_id))
        if status == JobStatus.CANCELLED:
            await self._release([str(job_id)])  # its waiting children end too
        return None if status is None else JobStatus(status)

    async def delete(self, job_id: str) -> JobStatus | None:
        """Delete a job that is not running; returns the status it had, or
        ``None`` for an unknown id. A running job is left alone (``running``
        is returned): cancel it, then delete it."""
        admin = await self._admin()
        status = await admin.delete_job(str(job_id))
        if status is not None and status != JobStatus.RUNNING:
            await self._release([str(job_id)])  # children of a deleted parent
        return None if status is None else JobStatus(status)

    async def _release(self, parents: builtins.list[str]) -> None:
        backend = self._queue.backend
        if isinstance(backend, Dependencies):
            await backend.release_ended(parents)

    async def retry_matching(self, job_filter: JobFilter, *, all_jobs: bool = False) -> int:
        """Retry every failed or cancelled job matching ``job_filter`` (all of
        them, page after page, not only ``limit``); returns how many. An empty
        filter is refused unless ``all_jobs=True`` says every job is meant."""
        return await self._for_each(job_filter, ("failed", "cancelled"), self.retry, all_jobs)

    async def cancel_matching(self, job_filter: JobFilter, *, all_jobs: bool = False) -> int:
        """Cancel every queued job matching ``job_filter`` and ask the workers
        running the matching running ones to stop; returns how many. An empty
        filter is refused unless ``all_jobs=True`` says every job is meant."""

        async def cancel(job_id: str) -> bool:
            return await self.cancel(job_id) in (JobStatus.CANCELLED, JobStatus.RUNNING)

        return await self._for_each(job_filter, ("queued", "running"), cancel, all_jobs)

    async def _for_each(
        self,
        job_filter: JobFilter,
        statuses: tuple[str, ...],
        act: Callable[[str], Awaitable[bool]],
        all_jobs: bool,
    ) -> int:
        f = validation.check_job_filter(job_filter)
        unfiltered = replace(f, limit=JobFilter().limit, before=None, after=None) == JobFilter()
        if unfiltered and not all_jobs:
            raise ValueError(
                "an empty filter matches every job: pass all_jobs=True to act on every job"
            )
        wanted = tuple(s for s in (f.statuses or statuses) if s in statuses)
        if not wanted:
            return 0
        # Walk the matching ids newest first by keyset; acted-on jobs change
        # status, so the cursor, not an offset, keeps the walk exact. Every
        # condition of the filter is kept (a search by part of a task name, a
        # due time later than now) — only its statuses are narrowed; the
        # names a task search stands for are read once, not per page.
        named = await self._named(await self._admin(), f)
        if named is None:
            return 0
        page = replace(named, statuses=wanted, limit=500, before=None, after=None)
        done = 0
        while True:
            jobs = await self.list(page, primary=True)
            for job in jobs:
                done += await act(job.id)
            if len(jobs) < page.limit:
                return done
            page = replace(page, before=jobs[-1].id)

    async def purge(
        self,
        older_than: float,
        statuses: Sequence[str] = FINAL_STATUS_NAMES,
        *,
        dry_run: bool = False,
        batch_size: int = 1000,
    ) -> int:
        """Delete jobs that finished over ``older_than`` seconds ago, in batches."""
        bad = [s for s in statuses if s not in FINAL_STATUS_NAMES]
        if bad:
            raise ValueError(f"purge only deletes finished jobs; not: {', '.join(bad)}")
        return await (await self._admin()).purge(older_than, list(statuses), dry_run, batch_size)

    async def import_rows(self, jobs: Sequence[ImportedJob]) -> int:
        """Insert whole job rows (see :mod:`aqueue.transfer`), leaving alone those
        whose id is already here; how many went in."""
        return await (await self._admin()).import_jobs(jobs)

    async def set_paused(self, queue: str, paused: bool) -> None:
        """Pause (or resume) ``queue``; see :meth:`aqueue.Queue.pause`."""
        await (await self._admin()).set_paused(queue, paused)

    async def queue_states(self) -> dict[str, bool]:
        """Every queue ever paused or resumed, and whether it is paused now."""
        return await (await self._admin()).queue_states()

    async def expired_leases(self, grace: float) -> int:
        """Running jobs whose lease ran out over ``grace`` seconds ago."""
        return await (await self._admin(reads=True)).count_expired_leases(grace)


def _summarize(
    states: dict[str, bool],
    counts: Sequence[Sequence[Any]],
    recent: Sequence[Sequence[Any]],
    totals: Sequence[Sequence[Any]] | None,
) -> list[QueueCounts]:
    """The counts of each queue from the backend's rows: ``counts`` is
    ``(queue, status, jobs, due, oldest_scheduled_at, now)`` for queued, running
    and failed jobs; ``recent`` ``(queue, status, in the long window, in the
    short one)``; ``totals`` ``(queue, status, jobs)``."""
    fields: dict[str, dict[str, Any]] = {}

    def queue(name: str) -> dict[str, Any]:
        return fields.setdefault(
            name,
            {
                "name": name,
                "paused": states.get(name, False),
                "due": 0,
                "scheduled": 0,
                "running": 0,
                "failed": 0,
                "oldest_due_age": None,
                "finished_5m": {s: 0 for s in FINAL_STATUS_NAMES},
                "finished_60m": {s: 0 for s in FINAL_STATUS_NAMES},
                "totals": {} if totals is not None else None,
            },
        )

    for name in states:
        queue(name)
    for name, status, jobs, due, oldest, now in counts:
        q = queue(name)
        if status == "queued":
            q["due"], q["scheduled"] = int(due), int(jobs) - int(due)
            oldest_at, now_at = as_utc(oldest), as_utc(now) or datetime.now(UTC)
            if int(due) and oldest_at:
                q["oldest_due_age"] = max(0.0, (now_at - oldest_at).total_seconds())
        elif status in ("running", "failed"):
            q[status] = int(jobs)
    for name, status, long_window, short_window in recent:
        if status in FINAL_STATUS_NAMES:
            q = queue(name)
            q["finished_60m"][status] = int(long_window)
            q["finished_5m"][status] = int(short_window)
    for name, status, jobs in totals or ():
        queue(name)["totals"][status] = int(jobs)
    return [QueueCounts(**fields[name]) for name in sorted(fields)]
