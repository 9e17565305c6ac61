"""Global concurrency and rate limits of a task, across every worker.

``@queue.task(concurrency=5, rate_limit="100/m")``: at most 5 of the task's
jobs running at once and at most 100 starts in any 60-second window, counted
over all workers. ``task.using(limit_key="tenant:42")`` applies the limits per
key instead (each tenant gets its own 5 and its own 100/m).

How it holds: jobs of a limited task are stored with a ``limit_key`` (``""``
when no key was given) and are claimed apart from the others. For each
``(task, key)`` with due jobs the claim locks that key's row in
``aqueue_limits`` (skipping it if another worker holds it), counts the key's
running jobs and its starts in the window, and claims no more than is left,
in the same transaction that marks them running: two workers can never both
see the last free place. Starts are logged in ``aqueue_limit_starts`` (a row
per start, pruned past the window), so the rate holds over any window, not
only fixed ones. A job held back by a limit stays queued and does not stand in
front of other jobs: the ordinary claim never sees limited jobs.

This module owns the claim's logic (:func:`claim_steps`, run by each backend
over its :class:`~aqueue.backends.ports.KeyOps` in one transaction) and a
worker's share of it (:class:`LimitedClaimer`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Literal

from aqueue.backends.base import Limits
from aqueue.backends.ports import KeyOps
from aqueue.records import ClaimedJob, LimitedClaim, LimitedResult, TaskLimit

#: How often a worker without limited tasks looks for jobs with a limit key.
PROBE_SECONDS = 2.0
#: How long a worker waits to claim limited jobs again after finding none it
#: could take (sooner when one of its limited jobs' outcomes is written).
REST_SECONDS = 0.05

#: What a claim loop should wait for after a limited claim that came up short:
#: a free slot, a limit's room, or nothing in particular.
Waiting = Literal["slot", "limit"] | None


async def claim_steps(ops: KeyOps, request: LimitedClaim, limit: int) -> LimitedResult:
    """Claim up to ``limit`` limited jobs, visiting keys in turn from ``request.after``.

    Run inside one transaction: a key's lock, counts and claim commit together.
    """
    jobs: list[ClaimedJob] = []
    served: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    cursor = request.after
    wrapped = request.after is None
    held_back = False
    for _ in range(request.max_keys):
        if len(jobs) >= limit:
            break
        pair = await ops.next_key(cursor)
        if pair is None:
            if wrapped:
                break
            wrapped, cursor = True, None
            continue
        if pair in seen:
            break  # came round to where it started
        seen.add(pair)
        cursor = pair
        task, key = pair
        want = limit - len(jobs)
        task_limit = request.limits.get(task)
        if task_limit is not None:
            if not await ops.lock(task, key):
                continue  # another worker is claiming this key's jobs right now
            running, starts = await ops.counts(task_limit, key)
            left = task_limit.available(running, starts)
            if left is not None and left < want:
                held_back = True
                want = left
            if want <= 0:
                continue
        claimed = await ops.claim(task, key, want)
        if claimed:
            jobs.extend(claimed)
            served.append(pair)
            if task_limit is not None and task_limit.rate is not None:
                await ops.record_starts(task, key, len(claimed))
    # The next claim starts after the last key this one served.
    return LimitedResult(jobs, served[-1] if served else cursor, held_back)


class LimitedClaimer:
    """A worker's limited claims: which keys come next, and when to look again.

    Only for slots free now, never ahead: a job held ahead would count as
    started, for its rate, before it starts. A worker without limited tasks
    still looks now and then, for jobs whose producer gave them limits this
    worker does not know (it runs them unlimited rather than never).
    """

    def __init__(
        self,
        backend: Limits,
        worker: str,
        queues: list[str] | None,
        lease: float,
        limits: Mapping[str, TaskLimit],
    ) -> None:
        self._backend = backend
        self._worker = worker
        self._queues = queues
        self._lease = lease
        self.limits = dict(limits)
        self._cursor: tuple[str, str] | None = None
        self._probed = -math.inf
        # After a limited claim that took nothing, the next waits REST_SECONDS
        # unless a limited job's outcome is written first: a key at its limit
        # is not locked and counted on every claim.
        self._rest_until = -math.inf
        self._held = False  # due jobs were held back by their limits
        self._pending = False  # it took all it could: more may be due
        self._unwritten: set[str] = set()

    def finished(self, job: ClaimedJob) -> None:
        """A job ended here; its outcome is on its way to the database."""
        if job.task in self.limits:
            self._unwritten.add(job.id)

    def written(self, job_ids: Iterable[str]) -> bool:
        """Outcomes were written; True when a limited job held back may start now."""
        if not self._unwritten:
            return False
        before = len(self._unwritten)
        self._unwritten.difference_update(job_ids)
        if len(self._unwritten) < before:
            self._rest_until = -math.inf  # a limited place may be free
            return self._held
        return False

    async def claim(
        self, room: int, withdraw_offer_at: int | None = None
    ) -> tuple[list[ClaimedJob], Waiting]:
        """Claim up to ``room`` limited jobs; and what to wait for when that
        comes up short (see :data:`Waiting`)."""
        now = time.monotonic()
        if room <= 0:
            return [], "slot" if self._pending else None
        if now < self._rest_until:
            return [], "limit" if self._held else None
        if not self.limits:
            if now - self._probed < PROBE_SECONDS:
                return [], None
            self._probed = now
        request = LimitedClaim(self.limits, self._cursor)
        result = await self._backend.claim_limited(
            self._worker,
            self._queues,
            self._lease,
            request,
            room,
            lambda ops: claim_steps(ops, request, room),
            withdraw_offer_at,
        )
        self._cursor = result.cursor
        self._held = result.held_back
        self._pending = result.held_back or len(result.jobs) == room
        if not result.jobs:
            self._rest_until = now + REST_SECONDS
        if result.held_back and not result.jobs:
            return [], "limit"
        return result.jobs, "slot" if self._pending else None


def claimers(
    backend: object,
    worker: str,
    queues: list[str] | None,
    per_queue: Mapping[str, int] | None,
    lease: float,
    limits: Mapping[str, TaskLimit],
) -> dict[str | None, LimitedClaimer]:
    """A worker's claimers of limited jobs (none where the database has no
    limits): one for all its queues (key None), or with per-queue slots one per
    queue, each claiming for its own queue's free slots."""
    if not isinstance(backend, Limits):
        return {}
    if per_queue is None:
        return {None: LimitedClaimer(backend, worker, queues, lease, limits)}
    return {name: LimitedClaimer(backend, worker, [name], lease, limits) for name in per_queue}
