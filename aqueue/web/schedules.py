"""The dashboard's periodic schedules: each one's cron, time zone, last and
next tick, and the jobs it made (found by the tag each tick's job carries)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aqueue.backends.base import Schedules
from aqueue.records import JobFilter, schedule_tag
from aqueue.web import present

if TYPE_CHECKING:
    from aqueue.queue import Queue

#: The most recent jobs shown for each schedule.
RECENT = 5


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def schedules(queue: Queue) -> list[dict[str, Any]]:
    """Every schedule the app declares, then any other the database has ticks
    of (a dashboard run without the app knows those by name alone)."""
    await queue.open()
    rows: list[dict[str, Any]] = []
    if queue.schedules:
        # Imported here: croniter and zoneinfo load only where schedules exist.
        from aqueue.periodic import schedule_states

        for s in await schedule_states(queue):
            rows.append(
                {
                    "name": s.name,
                    "task": s.task,
                    "cron": s.cron,
                    "timezone": s.timezone,
                    "catch_up": s.catch_up,
                    "last_tick": _time(s.last_tick),
                    "next_tick": _time(s.next_tick),
                }
            )
    backend = await queue.reads.backend()
    last = await backend.last_ticks() if isinstance(backend, Schedules) else {}
    declared = {row["name"] for row in rows}
    for name in sorted(set(last) - declared):
        rows.append(
            {
                "name": name,
                "task": None,
                "cron": None,
                "timezone": None,
                "catch_up": None,
                "last_tick": _time(last[name]),
                "next_tick": None,
            }
        )
    for row in rows:
        row["tag"] = schedule_tag(row["name"])
        recent = await queue.jobs.list(JobFilter(tag=row["tag"], limit=RECENT))
        row["recent_jobs"] = [present.job_row(job) for job in recent]
    return rows
