"""Counting jobs in tests, through the one counting API (``queue.jobs.counts``)."""

from __future__ import annotations

from collections.abc import Sequence

import aqueue


async def pending(queue: aqueue.Queue, queues: str | Sequence[str] | None = None) -> int:
    """Queued jobs, due or not, of ``queues`` (a name or several; all when None)."""
    names = [queues] if isinstance(queues, str) else queues
    return sum(c.queued for c in await queue.jobs.counts(names))


async def totals(queue: aqueue.Queue) -> dict[str, dict[str, int]]:
    """``{queue: {status: jobs}}`` over every job, queues without jobs left out."""
    return {c.name: c.totals for c in await queue.jobs.counts(totals=True) if c.totals}
