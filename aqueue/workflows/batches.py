"""Batches: jobs added over time, by any producer, then closed; callbacks
that run once when every job of the batch has ended.

``batch = await queue.open_batch(on_success=..., on_failure=..., on_complete=...)``
enqueues the callbacks at once, each waiting (``waiting`` = 1: the batch's
*hold*) and recorded in the ``aqueue_batches`` row. ``await batch.add([...])``
enqueues jobs and, in the same transaction, after locking the batch's row
(refused once it is closed), makes each callback wait for each new job with
the dependency edges of :mod:`aqueue.dependencies`: ``on_success`` as an
ordinary child (a member that fails for good or is cancelled cancels it),
``on_failure`` and ``on_complete`` as children that run on failure.
``await batch.close()`` takes the hold off, once, in one transaction.

So a callback becomes due in the one transaction that applies the last end
— of a member, or of the hold — to it: however many workers finish members
at the same moment, the row lock on the callback orders them, and exactly one
of them finds the count at zero. A crash loses nothing: the ends are applied
in the transactions that record them (or by the rescue of a dead worker's
jobs), and a callback is a job like any other, with a lease.

A callback gets, as its first argument, the batch's counts when it starts
(``{"batch": id, "total": n, "succeeded": ..., "failed": ..., "cancelled": ...}``).
``on_failure`` runs only if a member failed or was cancelled: after a batch
whose members all succeeded it ends ``cancelled`` without running, as
``on_success`` does after a failure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aqueue import serialization
from aqueue.backends.base import Batches, Tags
from aqueue.backends.ports import DependencyOps
from aqueue.errors import ConfigurationError
from aqueue.ids import new_job_ids
from aqueue.job import Job
from aqueue.records import Edge, group_tag
from aqueue.task import JobRequest
from aqueue.workflows.canvas import META_KEY

if TYPE_CHECKING:
    from aqueue.backends.base import Backend
    from aqueue.queue import Queue

#: When each callback runs.
CALLBACKS = ("success", "failure", "complete")


class BatchClosed(ValueError):
    """Jobs were added to a batch that is closed (or does not exist)."""

    # Shown under the name users import it by.
    __module__ = "aqueue"


class NotNeeded(Exception):
    """A batch callback whose condition did not hold: it ends cancelled, unrun."""


async def open_batches(ops: DependencyOps, opened: Sequence[tuple[str, dict[str, str]]]) -> None:
    """Record batches whose callbacks were just inserted, each callback held."""
    for batch_id, callbacks in opened:
        # The row goes with a callback: on_complete's, which runs whatever the end.
        anchor = next(callbacks[on] for on in ("complete", "success", "failure") if on in callbacks)
        await ops.insert_batch(batch_id, serialization.encode(callbacks), anchor)
        await ops.set_waiting({job_id: 1 for job_id in callbacks.values()})


async def member_edges(ops: DependencyOps, members: Sequence[tuple[str, str]]) -> list[Edge]:
    """Lock each batch jobs are added to; the edges from its callbacks to
    them. Raises :class:`BatchClosed` (the caller's transaction rolls back)."""
    by_batch: dict[str, list[str]] = {}
    for batch_id, job_id in members:
        by_batch.setdefault(batch_id, []).append(job_id)
    edges = []
    for batch_id in sorted(by_batch):  # one order for every producer: no deadlock
        state = await ops.lock_batch(batch_id)
        if state is None or state[1]:
            why = "does not exist" if state is None else "is closed"
            raise BatchClosed(f"batch {batch_id} {why}: no job can be added to it")
        callbacks: dict[str, str] = serialization.decode(state[0])
        for on, callback in sorted(callbacks.items()):
            for job_id in by_batch[batch_id]:
                edges.append(Edge(callback, job_id, run_on_failure=on != "success"))
    return edges


async def summary(backend: Backend, batch_id: str) -> dict[str, Any]:
    """What a callback receives: the batch's members counted by status."""
    if not isinstance(backend, Tags):
        raise ConfigurationError("this database keeps no batches")
    counts = await backend.tag_counts(group_tag(batch_id))
    return {
        "batch": batch_id,
        "total": sum(counts.values()),
        **{s: counts.get(s, 0) for s in ("succeeded", "failed", "cancelled")},
    }


async def callback_input(backend: Backend, facts: dict[str, Any]) -> dict[str, Any]:
    """A callback's first argument; :class:`NotNeeded` for an ``on_failure``
    callback of a batch that had no failure."""
    found = await summary(backend, str(facts["batch"]))
    if facts.get("on") == "failure" and not (found["failed"] or found["cancelled"]):
        raise NotNeeded(f"batch {found['batch']} had no failed or cancelled job")
    return found


class Batch:
    """An open (or closed) batch, by id; ``queue.batch(id)`` makes one for a
    batch opened elsewhere."""

    def __init__(self, queue: Queue, batch_id: str) -> None:
        self._queue = queue
        self.id = batch_id

    def __repr__(self) -> str:
        return f"<aqueue.Batch {self.id}>"

    async def add(
        self, requests: Iterable[JobRequest], *, connection: Any = None
    ) -> list[Job[Any]]:
        """Enqueue jobs into the batch, in one transaction; :class:`BatchClosed`
        (and nothing enqueued) once it is closed."""
        joined = []
        for request in requests:
            if request.options.unique_key is not None:
                raise ValueError("a batch's jobs cannot have unique keys")
            options = dataclasses.replace(
                request.options,
                batch=self.id,
                groups=(*request.options.groups, self.id),
            )
            joined.append(dataclasses.replace(request, options=options))
        return await self._queue.enqueue_many(joined, connection=connection)

    async def close(self) -> bool:
        """Close the batch: no job can be added any more, and the callbacks
        run once every job in it has ended. False if it was closed already."""
        closed = await (await _batches(self._queue)).close_batch(self.id)
        if closed is None:
            raise BatchClosed(f"batch {self.id} does not exist")
        return closed

    async def is_closed(self) -> bool:
        """Whether the batch is closed."""
        state = await (await _batches(self._queue)).batch_state(self.id)
        if state is None:
            raise BatchClosed(f"batch {self.id} does not exist")
        return state[1]

    async def callbacks(self) -> dict[str, Job[Any]]:
        """The callback jobs, by when they run (``success``, ``failure``, ``complete``)."""
        state = await (await _batches(self._queue)).batch_state(self.id)
        if state is None:
            raise BatchClosed(f"batch {self.id} does not exist")
        found: dict[str, str] = serialization.decode(state[0])
        return {on: Job(self._queue, job_id) for on, job_id in found.items()}

    async def counts(self) -> dict[str, int]:
        """The batch's jobs (callbacks not included) by status."""
        await self._queue.open()
        backend = self._queue.backend
        if not isinstance(backend, Tags):
            raise ConfigurationError(f"{self._queue.dsn} keeps no batches")
        return await backend.tag_counts(group_tag(self.id))


async def _batches(queue: Queue) -> Batches:
    await queue.open()
    backend = queue.backend
    if not isinstance(backend, Batches):
        raise ConfigurationError(f"{queue.dsn} keeps no batches")
    return backend


async def open_batch(
    queue: Queue,
    callbacks: dict[str, JobRequest | None],
    connection: Any = None,
) -> Batch:
    """Enqueue the callbacks, held, and record the batch (see the module's docstring)."""
    given = {on: r for on, r in callbacks.items() if r is not None}
    if not given:
        raise ValueError("a batch needs a callback: on_success, on_failure or on_complete")
    batch_id = new_job_ids(1)[0]
    held = []
    for on, request in given.items():
        if not isinstance(request, JobRequest):
            raise TypeError(f"on_{on} takes a prepared job (task.link(...)), not {request!r}")
        options = request.options
        if options.after or options.delay or options.run_after is not None:
            raise ValueError(
                f"on_{on} runs when the batch ends: after, delay and run_after do not apply"
            )
        if options.unique_key is not None:
            raise ValueError(f"on_{on} cannot have a unique key")
        meta = serialization.decode(options.meta) if options.meta is not None else {}
        options = dataclasses.replace(
            options,
            callback_for=(batch_id, on),
            meta=serialization.encode({**meta, META_KEY: {"batch": batch_id, "on": on}}),
        )
        held.append(dataclasses.replace(request, options=options))
    await queue.enqueue_many(held, connection=connection)
    return Batch(queue, batch_id)
