"""Moving jobs between databases: ``aqueue export``, ``import`` and ``copy``.

All three stream in batches (constant memory however many jobs): the source
is read newest first by keyset pages on the job id, as the dashboard pages
are; each batch is written in one transaction with
:meth:`aqueue.jobs.Jobs.import_rows`, which leaves alone jobs
whose id is already there, so running a copy or an import again is safe and
only adds what is missing.

Running jobs are refused by default: a copy taken while a worker holds a job
would duplicate it once both databases are served. ``running_as_queued``
copies them as queued instead, as a rescue would put them back (the
interrupted attempt counts).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aqueue.errors import AqueueError, DatabaseUnavailable, SchemaError
from aqueue.portable import BadJob, job_from_dict, job_to_dict
from aqueue.queue import Queue
from aqueue.records import FINAL_STATUS_NAMES, ImportedJob, JobFilter, JobStatus

ALL_STATUSES = ("queued", "running", *FINAL_STATUS_NAMES)


class RunningJobs(AqueueError):
    """The selection holds running jobs and ``running_as_queued`` was not given."""


class WaitingJobs(RunningJobs):
    """The selection holds jobs waiting for parents (``after=``): the edges
    between jobs are not exported, so such a job would wait forever."""


@dataclass
class Tally:
    """What a transfer did."""

    read: int = 0
    written: int = 0  # inserted into the target (import, copy) or printed (export)
    existing: int = 0  # already in the target: left alone
    #: Jobs whose stored JSON could not be read (not copied), by id.
    unreadable: list[str] = field(default_factory=list)
    #: Lines an import refused: "line N: why".
    bad_lines: list[str] = field(default_factory=list)


def _check_statuses(statuses: Sequence[str]) -> tuple[str, ...]:
    bad = [s for s in statuses if s not in ALL_STATUSES]
    if bad:
        raise ValueError(f"unknown status {bad[0]!r} (choose from {', '.join(ALL_STATUSES)})")
    return tuple(statuses) or ALL_STATUSES


async def selected_count(queue: Queue, statuses: Sequence[str]) -> tuple[int, int]:
    """Jobs of ``statuses``, and how many of them are running."""
    wanted = set(_check_statuses(statuses))
    counted = await queue.jobs.counts(totals=True)
    stats = [c.totals or {} for c in counted]
    total = sum(n for by_status in stats for s, n in by_status.items() if s in wanted)
    running = sum(by_status.get("running", 0) for by_status in stats) if "running" in wanted else 0
    return total, running


async def read_jobs(
    queue: Queue,
    statuses: Sequence[str] = (),
    *,
    batch_size: int = 1000,
    running_as_queued: bool = False,
    tally: Tally | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The selected jobs as portable dicts, a batch at a time, newest first."""
    chosen = _check_statuses(statuses)
    tally = tally if tally is not None else Tally()
    cursor: str | None = None
    while True:
        page = await queue.jobs.list(JobFilter(statuses=chosen, limit=batch_size, before=cursor))
        if not page:
            return
        cursor = page[-1].id
        batch = []
        for job in page:
            tally.read += 1
            if job.decode_error:
                tally.unreadable.append(job.id)
                continue
            if job.status == JobStatus.QUEUED and job.waiting:
                raise WaitingJobs(
                    f"job {job.id} waits for other jobs (after=): dependencies "
                    "are not moved; let them finish, or cancel it, first"
                )
            data = job_to_dict(job)
            if job.status == JobStatus.RUNNING:
                if not running_as_queued:
                    raise RunningJobs(
                        f"job {job.id} is running: stop the workers first, or "
                        "copy running jobs as queued (--running-as-queued)"
                    )
                data.update(status="queued", worker=None)
            batch.append(data)
        yield batch


async def _write(target: Queue, jobs: list[ImportedJob], tally: Tally) -> None:
    if jobs:
        inserted = await target.jobs.import_rows(jobs)
        tally.written += inserted
        tally.existing += len(jobs) - inserted


async def copy(
    source: Queue,
    target: Queue,
    statuses: Sequence[str] = (),
    *,
    batch_size: int = 1000,
    running_as_queued: bool = False,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Copy the selected jobs from ``source`` to ``target`` (see the module's docstring)."""
    tally = Tally()
    async for batch in read_jobs(
        source, statuses, batch_size=batch_size, running_as_queued=running_as_queued, tally=tally
    ):
        await _write(target, [job_from_dict(data) for data in batch], tally)
        if progress is not None:
            progress(tally)
    return tally


def _parse_line(number: int, line: bytes | str) -> ImportedJob | str | None:
    """One line: its job, why it is refused (``"line N: why"``), or None (blank)."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError as exc:
        return f"line {number}: not UTF-8 ({exc.reason} at byte {exc.start})"
    if not text.strip():
        return None
    try:
        return job_from_dict(json.loads(text))
    except RecursionError:
        return f"line {number}: nested too deeply to read"
    except (BadJob, ValueError) as exc:
        return f"line {number}: {exc}"


async def _write_lines(target: Queue, batch: list[tuple[int, ImportedJob]], tally: Tally) -> None:
    """Write ``batch``; a batch the database refuses is split in halves down to
    the line it refuses, which is reported (the rest go in)."""
    try:
        await _write(target, [job for _, job in batch], tally)
    except (DatabaseUnavailable, SchemaError):
        raise
    except Exception as exc:
        if len(batch) > 1:
            middle = len(batch) // 2
            await _write_lines(target, batch[:middle], tally)
            await _write_lines(target, batch[middle:], tally)
            return
        tally.bad_lines.append(
            f"line {batch[0][0]}: the database refused it: {type(exc).__name__}: {exc}"
        )


async def import_lines(
    target: Queue,
    lines: Iterable[bytes | str],
    *,
    batch_size: int = 1000,
    strict: bool = False,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Import JSON lines (one job object each). Every line is checked before it
    is written; a refused line is reported in ``Tally.bad_lines`` with its
    number and the others go in — or, ``strict``, nothing goes in unless every
    line is good (then all in one transaction)."""
    tally = Tally()
    batch: list[tuple[int, ImportedJob]] = []
    for number, line in enumerate(lines, start=1):
        parsed = _parse_line(number, line)
        if parsed is None:
            continue
        tally.read += 1
        if isinstance(parsed, str):
            tally.bad_lines.append(parsed)
            continue
        batch.append((number, parsed))
        if not strict and len(batch) >= batch_size:
            await _write_lines(target, batch, tally)
            batch = []
            if progress is not None:
                progress(tally)
    if not strict:
        await _write_lines(target, batch, tally)
    elif not tally.bad_lines:
        try:
            await _write(target, [job for _, job in batch], tally)
        except (DatabaseUnavailable, SchemaError):
            raise
        except Exception as exc:
            tally.bad_lines.append(
                f"the database refused the import, so nothing went in: {type(exc).__name__}: {exc}"
            )
    return tally
