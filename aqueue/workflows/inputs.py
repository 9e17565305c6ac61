"""What a workflow's link receives: its parents' results, read when it starts.

A job whose ``meta["workflow"]["receives"]`` holds a shape (see
:mod:`aqueue.workflows.canvas`) gets, as its first argument, that shape with
each job id replaced by the job's result — read from storage by the worker
that claims it, so it does not matter which worker ran the parents, or
whether any of them has restarted since. A parent that did not succeed
(possible only for a link enqueued with ``on_parent_failure="run"``) is
passed as a :class:`Failure`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from aqueue.backends.base import Backend
from aqueue.records import ClaimedJob, JobInfo, JobStatus
from aqueue.workflows.batches import callback_input
from aqueue.workflows.canvas import META_KEY, Shape, exits

# Results read per statement: a 1,000-job chord is one or two round trips.
_READ_BATCH = 500


@dataclass(frozen=True, slots=True)
class Failure:
    """Received in place of the result of a parent that failed for good, was
    cancelled (``status``) or is gone (``"deleted"``); ``error`` is its stored
    error (``type``, ``message``, ``traceback``), if any."""

    job_id: str
    status: str
    error: dict[str, Any] | None = None

    # Shown under the name users import it by.
    __module__ = "aqueue"


class BadWorkflowShape(Exception):
    """Stored as the error of a job whose ``meta`` names inputs that cannot be read."""


def received_shape(job: ClaimedJob) -> Shape | None:
    """The shape ``job`` receives, or None for a job that receives nothing."""
    facts = (job.meta or {}).get(META_KEY)
    if not isinstance(facts, dict) or "receives" not in facts:
        return None
    shape = facts["receives"]
    if not _valid(shape):
        raise BadWorkflowShape(f"the job's workflow inputs are not a shape: {shape!r:.200}")
    return shape  # type: ignore[no-any-return]


def _valid(shape: object) -> bool:
    if isinstance(shape, str):
        return True
    return isinstance(shape, list) and all(_valid(member) for member in shape)


def _value(shape: Shape, found: dict[str, JobInfo]) -> Any:
    if isinstance(shape, list):
        return [_value(member, found) for member in shape]
    info = found.get(shape)
    if info is None:
        return Failure(shape, "deleted")
    if info.status == JobStatus.SUCCEEDED:
        return info.result
    return Failure(shape, info.status.value, info.error)


async def read_jobs(backend: Backend, ids: list[str]) -> dict[str, JobInfo]:
    """The jobs of ``ids`` that exist, by id, read a few hundred per statement."""
    ids = list(dict.fromkeys(ids))
    found: dict[str, JobInfo] = {}
    for first in range(0, len(ids), _READ_BATCH):
        for info in await backend.get_jobs(ids[first : first + _READ_BATCH]):
            found[info.id] = info
    return found


async def resolve(backend: Backend, shape: Shape) -> Any:
    """``shape`` with each job id replaced by its result (or :class:`Failure`)."""
    return _value(shape, await read_jobs(backend, exits(shape)))


async def with_inputs(backend: Backend, job: ClaimedJob) -> ClaimedJob:
    """``job`` with what it receives put first among its arguments; the same
    job when it receives nothing. Raises :class:`~aqueue.workflows.batches.NotNeeded`
    for a batch's callback whose condition does not hold."""
    facts = (job.meta or {}).get(META_KEY)
    if isinstance(facts, dict) and "batch" in facts:
        value = await callback_input(backend, facts)
        return dataclasses.replace(job, args=[value, *job.args])
    shape = received_shape(job)
    if shape is None:
        return job
    value = await resolve(backend, shape)
    return dataclasses.replace(job, args=[value, *job.args])
