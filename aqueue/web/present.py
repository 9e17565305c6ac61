"""The JSON shapes of jobs, workers and queues: one form for the API and pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aqueue import serialization
from aqueue.records import (
    WAITING_UNTIL,
    AttemptOutput,
    JobInfo,
    JobSignal,
    JobStep,
    QueueCounts,
    WorkerInfo,
)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def job_row(job: JobInfo) -> dict[str, Any]:
    """A job as the jobs list shows it (no arguments or result). A job waiting
    for its parents has no due time yet (``scheduled_at`` null) and says how
    many it waits for (``waiting_for_parents``; null for a job without parents)."""
    waiting = job.waiting is not None and job.waiting > 0
    return {
        "id": job.id,
        "task": job.task,
        "queue": job.queue,
        "status": str(job.status),
        "priority": job.priority,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "created_at": _time(job.created_at),
        "scheduled_at": None if waiting else _time(job.scheduled_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "worker": job.worker,
        "cancel_requested": job.cancel_requested,
        "waiting_for_parents": job.waiting,
        "error": error_line(job),
    }


def error_line(job: JobInfo) -> str | None:
    """The job's error in one short line (``Type: message``), or None."""
    error = job.error
    if not isinstance(error, dict):
        return None
    line = f"{error.get('type', 'Error')}: {error.get('message', '')}".splitlines()
    text = line[0] if line else ""
    return text if len(text) <= 120 else text[:119] + "…"


def output(o: AttemptOutput) -> dict[str, Any]:
    """What one attempt printed and logged; ``cut``: bytes left out of its middle."""
    return {"attempt": o.attempt, "created_at": _time(o.created_at), "cut": o.cut, "output": o.text}


def step(s: JobStep) -> dict[str, Any]:
    """A durable step the job finished: its name, the attempt that ran it, its result."""
    return {
        "name": s.name,
        "attempt": s.attempt,
        "created_at": _time(s.created_at),
        "result": serialization.decode(s.result),
    }


def signal(s: JobSignal) -> dict[str, Any]:
    """A signal sent to the job: its name, when, its payload."""
    return {
        "name": s.name,
        "created_at": _time(s.created_at),
        "payload": serialization.decode(s.payload),
    }


def workflow(job: JobInfo) -> dict[str, Any] | None:
    """A workflow's job's place in it: the workflow's id, its position in its
    chain (``link``, from 0), the groups it lies in (innermost last)."""
    facts = (job.meta or {}).get("workflow")
    if not isinstance(facts, dict):
        return None
    groups = facts.get("groups")
    return {
        "id": facts.get("id"),
        "link": facts.get("link"),
        "groups": [g for g in groups if g != facts.get("id")] if isinstance(groups, list) else [],
    }


def job_detail(job: JobInfo, children: list[str] | None = None) -> dict[str, Any]:
    """Everything the database holds about a job (``children``: the ids of
    the jobs enqueued after it, when read)."""
    return {
        **job_row(job),
        "args": job.args,
        "kwargs": job.kwargs,
        "result": job.result,
        "error": serialization.bounded_error(job.error),
        "progress": job.progress,
        "unique_key": job.unique_key,
        "decode_error": job.decode_error,
        "meta": job.meta,
        "depends_on": list(job.depends_on),
        "waiting_for": list(job.waiting_for),
        "children": children or [],
        "tags": list(job.tags),
        "workflow": workflow(job),
        "history": [
            {
                "attempt": a.attempt,
                "started_at": _time(a.started_at),
                "ended_at": _time(a.ended_at),
                "outcome": a.outcome,
                "error": a.error,
                "message": a.message,
            }
            for a in job.history
        ],
    }


def timeline(job: JobInfo) -> list[tuple[str, datetime]]:
    """The job's moments in order: created, due, each attempt's start and end."""
    moments = [("created", job.created_at)]
    for past in job.history:
        if past.started_at is not None:
            moments.append((f"attempt {past.attempt} started", past.started_at))
        if past.ended_at is not None:
            why = f" after {past.error}: {past.message}" if past.error else ""
            moments.append((f"attempt {past.attempt} {past.outcome}{why}", past.ended_at))
    # After the attempts it follows: a sort keeps equal times in this order.
    # A job waiting for its parents has no due time yet (its stored one is a
    # placeholder far in the future): the page names the parents instead.
    # So has a child cancelled by its parent before it was ever due.
    waiting = job.waiting is not None and (job.waiting > 0 or job.scheduled_at >= WAITING_UNTIL)
    if job.scheduled_at != job.created_at and not waiting:
        moments.append(("due again" if job.history else "due", job.scheduled_at))
    if job.started_at is not None:
        moments.append((f"attempt {job.attempts} started", job.started_at))
    if job.finished_at is not None:
        moments.append((str(job.status), job.finished_at))
    return sorted(moments, key=lambda m: m[1])


def rate(finished: dict[str, int], minutes: int) -> dict[str, Any]:
    """Throughput (jobs per minute) and failure rate over a window."""
    total = sum(finished.values())
    return {
        "per_minute": round(total / minutes, 2),
        "failure_rate": round(finished.get("failed", 0) / total, 4) if total else None,
    }


def queue_summary(queue: QueueCounts) -> dict[str, Any]:
    return {
        "name": queue.name,
        "paused": queue.paused,
        "due": queue.due,
        "scheduled": queue.scheduled,
        "running": queue.running,
        "failed": queue.failed,
        "oldest_due_age_seconds": queue.oldest_due_age,
        "last_5_minutes": {**queue.finished_5m, **rate(queue.finished_5m, 5)},
        "last_60_minutes": {**queue.finished_60m, **rate(queue.finished_60m, 60)},
    }


def worker(info: WorkerInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "host": info.host,
        "pid": info.pid,
        "queues": info.queues,
        "concurrency": info.concurrency,
        "version": info.version,
        "status": info.status,
        "started_at": _time(info.started_at),
        "heartbeat_at": _time(info.heartbeat_at),
        "expires_at": _time(info.expires_at),
        "stopped_at": _time(info.stopped_at),
        "running_jobs": info.running_jobs,
    }
