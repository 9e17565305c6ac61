"""Unique keys held for a period, past a job's end, or replaced (debounce).

A plain ``unique_key`` is held while a job with it is queued or running (a
partial unique index). These options hold it by other rules::

    task.using(unique_key=f"digest:{user}", unique_for="1h")     # one per hour
    task.using(unique_key=f"report:{day}", unique_states=["queued", "running", "succeeded"])
    task.using(unique_key=f"reindex:{doc}", on_conflict="replace", delay=30)  # debounce

- ``unique_for``: the key stays held for that long after a job takes it, as
  long as that job is in one of ``unique_states`` — which default, when a
  period is given, to queued, running and succeeded (a failed or cancelled
  job frees its key: trying again is allowed). Without a period the key is
  held for as long as the job stays in those states.
- ``on_conflict="replace"``: when the job holding the key is queued (not
  running, not waiting for parents), it takes the new call's arguments,
  priority, due time and meta, and keeps its id; otherwise the call keeps
  the holder, as ``"keep"`` (the default) always does.

How: one row per key in ``aqueue_unique_keys`` names its holder and when it
took the key. An enqueue makes sure the row exists, locks it (producers of
one key queue up there), reads the holder's status, and either returns the
holder or inserts the job and records it — one transaction per job. The
partial unique index still guards the active states, so a job enqueued with
a plain ``unique_key`` meanwhile is found as the holder too. Jobs without
these options never touch the table.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aqueue.backends.base import Backend, Uniqueness
from aqueue.backends.ports import UniqueOps
from aqueue.errors import ConfigurationError
from aqueue.records import NewJob
from aqueue.task import JobOptions, JobRequest, new_jobs

if TYPE_CHECKING:
    from aqueue.job import Job

#: The statuses that keep a key held when a period is given and no states.
HELD_WITH_PERIOD = ("queued", "running", "succeeded")
HELD_WITHOUT_PERIOD = ("queued", "running")


def held_states(options: JobOptions) -> frozenset[str]:
    """The statuses of a holder that keep the key held."""
    if options.unique_states is not None:
        return frozenset(options.unique_states)
    return frozenset(HELD_WITH_PERIOD if options.unique_for is not None else HELD_WITHOUT_PERIOD)


async def take_key(
    ops: UniqueOps,
    job: NewJob,
    *,
    states: frozenset[str],
    period: float | None,
    replace: bool,
    tags: Sequence[tuple[str, str]],
) -> str:
    """Insert ``job`` unless its key is held; the id of the job that holds it after."""
    key = job.unique_key
    assert key is not None
    await ops.ensure_key(key)
    holder, age = await ops.lock_key(key)
    if holder is not None:
        status = await ops.job_status(holder)
        if status in states and (period is None or age < period):
            if replace and status == "queued":
                await ops.replace_job(holder, job)
            return holder
    job_id = await ops.insert(job)
    if job_id == job.id:
        if tags:
            await ops.insert_tags(tags)
    elif replace and await ops.job_status(job_id) == "queued":
        # An active job held the key outside these rules (a plain unique_key).
        await ops.replace_job(job_id, job)
    await ops.record_key(key, job_id)
    return job_id


def check(requests: Sequence[JobRequest], connection: Any) -> None:
    """Refuse what a uniquely keyed job cannot be written with; raises ``ValueError``."""
    for request in requests:
        o = request.options
        if not o.unique_rule:
            continue
        if connection is not None:
            raise ValueError(
                "unique_for, unique_states and on_conflict write each job in a transaction "
                "of its own: they cannot be written on the caller's connection"
            )
        if o.after or o.batch or o.callback_for or o.groups:
            raise ValueError(
                "unique_for, unique_states and on_conflict do not apply to jobs with "
                "after=, or in a workflow or batch"
            )


async def write(
    backend: Backend,
    requests: Sequence[JobRequest],
    connection: Any,
    max_payload_bytes: int,
    write_others: Callable[[list[JobRequest], Any], Awaitable[list[Job[Any]]]],
) -> list[str]:
    """The ids of ``requests`` once written: the uniquely keyed ones each in a
    transaction of its own, by the rules above, after ``write_others`` wrote
    the rest together. Every job is checked and encoded before any is written."""
    check(requests, connection)
    if not isinstance(backend, Uniqueness):
        raise ConfigurationError("this database holds no unique keys past a job's end")
    keyed = [r for r in requests if r.options.unique_rule]
    rows = iter(new_jobs(keyed, max_payload_bytes))
    others = [r for r in requests if not r.options.unique_rule]
    written = iter([job.id for job in await write_others(others, connection)] if others else [])
    ids = []
    for request in requests:
        o = request.options
        if not o.unique_rule:
            ids.append(next(written))
            continue
        row = next(rows)
        steps = functools.partial(
            take_key,
            states=held_states(o),
            period=o.unique_for,
            replace=o.on_conflict == "replace",
            tags=o.tag_rows(row.id),
        )
        ids.append(await backend.insert_unique(row, steps))
    return ids
