"""The flow of jobs for the dashboard (kept by the workers, :mod:`aqueue.flow`):
succeeded, failed and retried attempts and the due jobs over the last hour (a
bar a minute) or day (a bar each quarter of an hour), overall or for one queue."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aqueue.backends.base import Flow
from aqueue.records import FlowRow

if TYPE_CHECKING:
    from aqueue.queue import Queue

#: The spans a chart shows: (seconds covered, seconds per bar).
RANGES = {"hour": (3600, 60), "day": (86400, 900)}


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bar: attempts that ended in it, and the due jobs at its last sample."""

    start: int
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    depth: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": datetime.fromtimestamp(self.start, UTC).isoformat(),
            "succeeded": self.succeeded,
            "failed": self.failed,
            "retried": self.retried,
            "depth": self.depth,
        }


def buckets(rows: list[FlowRow], span: int, step: int, now: float) -> list[Bucket]:
    """``rows`` (oldest first) added up into bars of ``step`` seconds covering
    the ``span`` seconds up to ``now``; bars with nothing are zeros."""
    last = int(now // step) * step
    first = last - span + step
    found: dict[int, Bucket] = {}
    for r in rows:
        start = int(r.minute // step) * step
        if start < first:
            continue
        was = found.get(start, Bucket(start))
        found[start] = Bucket(
            start,
            was.succeeded + r.succeeded,
            was.failed + r.failed,
            was.retried + r.retried,
            r.depth if r.depth is not None else was.depth,  # the latest sample
        )
    return [found.get(start, Bucket(start)) for start in range(first, last + 1, step)]


async def flow(queue: Queue, span_name: str, queue_name: str | None) -> list[Bucket] | None:
    """The bars of ``span_name`` (a key of :data:`RANGES`); None where the
    database keeps no flow."""
    backend = await queue.reads.backend()
    if not isinstance(backend, Flow):
        return None
    span, step = RANGES[span_name]
    now = time.time()
    rows = await backend.read_flow(int(now - span) // step * step, queue_name)
    return buckets(rows, span, step, now)
