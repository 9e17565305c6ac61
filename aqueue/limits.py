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
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aqueue import validation
from aqueue.records import ClaimedJob

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")
_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
#: Keys one claim visits at most (each costs a few statements).
MAX_KEYS_PER_CLAIM = 50


def parse_rate(text: str) -> tuple[int, float]:
    """``"100/m"`` as ``(100, 60.0)``; also ``/s``, ``/h`` and ``"10/5s"``."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a rate limit: {text!r} (try '100/m', '5/s' or '1000/h')")
    count = int(match.group(1))
    period = (int(match.group(2)) if match.group(2) else 1) * _PERIODS[match.group(3)]
    if count < 1 or period <= 0:
        raise ValueError(f"a rate limit allows at least one start per period, not {text!r}")
    return count, period


@dataclass(frozen=True, slots=True)
class TaskLimit:
    """The limits of one task: either may be None (no such limit)."""

    task: str
    concurrency: int | None = None
    rate: int | None = None
    period: float | None = None

    @classmethod
    def of(cls, task: str, concurrency: int | None, rate_limit: str | None) -> TaskLimit | None:
        """The limits given to ``@queue.task``, checked; None when there are none."""
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


def check_limit_key(value: str | None) -> str | None:
    """A per-job limit key (``""``: the task as a whole), checked like a name."""
    if value is None or value == "":
        return value
    return validation.check_name("limit_key", value)


@dataclass(slots=True)
class LimitedClaim:
    """What a worker asks of one limited claim."""

    #: The worker's limited tasks; jobs of other tasks with a limit key are
    #: claimed without limits (their worker does not know any).
    limits: Mapping[str, TaskLimit]
    #: Where the previous claim stopped: keys are visited from there on, in
    #: turn, so that no key waits behind the others' backlogs.
    after: tuple[str, str] | None = None
    #: With the worker's offer standing (aqueue/offers.py): a claim of this
    #: many jobs fills its slots and withdraws the offer in its transaction.
    withdraw_offer_at: int | None = None


def next_cursor(claimed: Sequence[tuple[str, str]], visited: tuple[str, str] | None
                ) -> tuple[str, str] | None:
    """Where the next limited claim starts: after the last key it served."""
    return claimed[-1] if claimed else visited


@dataclass(slots=True)
class LimitedResult:
    """What a limited claim took, and where the next one starts."""

    jobs: list[ClaimedJob]
    cursor: tuple[str, str] | None
    #: Whether a key had due jobs that its limits held back (a burst worker
    #: waits for them instead of exiting).
    held_back: bool = False


class KeyOps(Protocol):
    """The statements of a limited claim, on one backend, in one transaction."""

    async def next_key(self, after: tuple[str, str] | None) -> tuple[str, str] | None:
        """The first (task, key) after ``after`` with due, claimable jobs."""

    async def lock(self, task: str, key: str) -> bool:
        """Lock the key's row; False when another worker holds it now."""

    async def counts(self, limit: TaskLimit, key: str) -> tuple[int, int]:
        """The key's running jobs, and its starts within the rate window."""

    async def claim(self, task: str, key: str, n: int) -> list[Sequence[object]]:
        """Claim up to ``n`` of the key's due jobs, in claim order (rows as claimed)."""

    async def record_starts(self, task: str, key: str, n: int) -> None:
        """Log ``n`` starts of the key now, for its rate window."""


async def claim_limited(ops: KeyOps, request: LimitedClaim, limit: int) -> LimitedResult:
    """Claim up to ``limit`` limited jobs, visiting keys in turn from ``request.after``.

    Run inside one transaction: a key's lock, counts and claim commit together.
    """
    rows: list[Sequence[object]] = []
    served: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    cursor = request.after
    wrapped = request.after is None
    held_back = False
    for _ in range(MAX_KEYS_PER_CLAIM):
        if len(rows) >= limit:
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
        want = limit - len(rows)
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
            rows.extend(claimed)
            served.append(pair)
            if task_limit is not None and task_limit.rate is not None:
                await ops.record_starts(task, key, len(claimed))
    from aqueue.backends.common import claimed_jobs  # the backends import this module

    return LimitedResult(claimed_jobs(rows), next_cursor(served, cursor), held_back)
