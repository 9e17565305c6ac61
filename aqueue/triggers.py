"""Running due jobs on request, for platforms without a long-running worker.

Serverless functions and PaaS cron hit ``POST /tasks/run/`` (or call
:func:`run_due` directly); the jobs run in that process under a burst worker,
so they keep every guarantee a worker gives (leases, fencing, retries). This
module holds the framework-neutral part: reading the request bodies, running,
and the answers' shapes (those of django-database-task's endpoints). The
Starlette routes are in :mod:`aqueue.web.triggers`, the Django views in
:mod:`aqueue.contrib.django.views`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aqueue import validation
from aqueue.queue import Queue
from aqueue.records import JobInfo, JobStatus

#: The bodies are a few fields; a bigger one is refused before it is read whole.
MAX_BODY = 64 * 1024
MAX_TASKS = 100
DEFAULT_MAX_TASKS = 10
DEFAULT_TIME_BUDGET = 25.0
#: A budget past this is a mistake: no function platform allows a call that long.
MAX_TIME_BUDGET = 3600.0

#: aqueue's statuses in the vocabulary of Django's ``TaskResultStatus``, which
#: the endpoints answer in (a job that will be retried is ready again).
DJANGO_STATUS = {
    JobStatus.QUEUED: "READY",
    JobStatus.RUNNING: "RUNNING",
    JobStatus.SUCCEEDED: "SUCCESSFUL",
    JobStatus.FAILED: "FAILED",
    JobStatus.CANCELLED: "FAILED",
}


class BadTriggerRequest(ValueError):
    """The request's body or query cannot be used (answered with a 400)."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What one call to the run endpoints asked for."""

    max_tasks: int = DEFAULT_MAX_TASKS
    queue_name: str | None = None
    time_budget_s: float = DEFAULT_TIME_BUDGET


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadTriggerRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadTriggerRequest("the body must be a JSON object")
    return data


def _queue_name(value: Any) -> str | None:
    """A queue name, checked as everywhere else (1-200 characters, no control
    characters or lone surrogates), or None."""
    if value is None:
        return None
    try:
        return validation.check_name("queue", value)
    except (TypeError, ValueError) as exc:
        raise BadTriggerRequest(f"queue_name: {exc}") from None


def parse_run(raw: bytes, *, one: bool = False) -> RunRequest:
    """The body of ``POST /tasks/run/`` (``one``: of ``/tasks/run-one/``)."""
    data = _body(raw)
    allowed = (
        {"queue_name", "time_budget_s"} if one else {"max_tasks", "queue_name", "time_budget_s"}
    )
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadTriggerRequest(
            f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    max_tasks = data.get("max_tasks", 1 if one else DEFAULT_MAX_TASKS)
    # bool is an int in Python; true is not a count.
    if (
        not isinstance(max_tasks, int)
        or isinstance(max_tasks, bool)
        or not 1 <= max_tasks <= MAX_TASKS
    ):
        raise BadTriggerRequest(f"max_tasks must be a whole number from 1 to {MAX_TASKS}")
    budget = data.get("time_budget_s", DEFAULT_TIME_BUDGET)
    if (
        not isinstance(budget, int | float)
        or isinstance(budget, bool)
        or not math.isfinite(budget)
        or not 0 < budget <= MAX_TIME_BUDGET
    ):
        raise BadTriggerRequest(
            f"time_budget_s must be a number of seconds above 0 and at most {MAX_TIME_BUDGET:g}"
        )
    return RunRequest(max_tasks, _queue_name(data.get("queue_name")), float(budget))


def parse_status(query: Mapping[str, str]) -> str | None:
    """The query of ``GET /tasks/status/``: the queue to count (None: all)."""
    unknown = sorted(set(query) - {"queue_name"})
    if unknown:
        raise BadTriggerRequest(f"unknown parameter(s): {', '.join(unknown)}")
    name = query.get("queue_name")
    return _queue_name(name or None)


class TriggerAuth:
    """Who may call the endpoints: the holder of ``token`` (a bearer header,
    compared in constant time). Without a token, the run endpoints are refused
    unless ``allow_unauthenticated`` opens them on purpose (a private network);
    the status count is then open too."""

    def __init__(self, token: str | None, allow_unauthenticated: bool = False) -> None:
        if token is not None and len(token) < 16:
            raise ValueError("the trigger token must have at least 16 characters")
        self._token = token.encode() if token is not None else None
        self.open = token is None and allow_unauthenticated

    def check(self, authorization: str | None, *, mutating: bool) -> tuple[int, str] | None:
        """None when the call may go on, else the status and message to answer."""
        if self._token is None:
            if self.open or not mutating:
                return None
            return 403, (
                "the run endpoints are closed: configure a token "
                "(or open them with allow_unauthenticated)"
            )
        scheme, _, offered = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            offered.strip().encode(), self._token
        ):
            return None
        return 401, "a valid bearer token is required"


def result_item(job: JobInfo) -> dict[str, Any]:
    """One job as the endpoints show it."""
    return {
        "id": job.id,
        "status": DJANGO_STATUS[job.status],
        "task_path": job.task,
        "aqueue_status": str(job.status),
        "attempts": job.attempts,
    }


async def run_due(queue: Queue, request: RunRequest) -> list[JobInfo]:
    """Run up to ``request.max_tasks`` due jobs here; return them as they ended.

    No job starts after ``time_budget_s``; those already running finish (each
    within its own timeout), so the call returns at the budget plus the
    longest running job, never in the middle of one.
    """
    from aqueue.worker import Worker

    queues = [request.queue_name] if request.queue_name else None
    worker = Worker(
        queue,
        concurrency=min(request.max_tasks, 10),
        queues=queues,
        burst=True,
        max_jobs=request.max_tasks,
        register=False,
        periodic=False,
        prefetch=0,
        summary_interval=0,
    )
    deadline = asyncio.get_running_loop().call_later(request.time_budget_s, worker.stop)
    try:
        await worker.run()
    finally:
        deadline.cancel()
    ended: list[JobInfo] = []
    for job_id in dict.fromkeys(worker.processed):
        info = await queue.get_job(job_id)
        if info is not None:  # deleted meanwhile by an operator
            ended.append(info)
    return ended


async def run_answer(queue: Queue, request: RunRequest) -> dict[str, Any]:
    """The answer of ``POST /tasks/run/``."""
    ended = await run_due(queue, request)
    return {"processed": len(ended), "results": [result_item(j) for j in ended]}


async def run_one_answer(queue: Queue, request: RunRequest) -> dict[str, Any]:
    """The answer of ``POST /tasks/run-one/``."""
    ended = await run_due(queue, RunRequest(1, request.queue_name, request.time_budget_s))
    if not ended:
        return {"processed": False, "result": None}
    return {"processed": True, "result": result_item(ended[0])}


async def status_answer(queue: Queue, queue_name: str | None) -> dict[str, Any]:
    """The answer of ``GET /tasks/status/``."""
    counted = await queue.jobs.counts(None if queue_name is None else [queue_name])
    return {"pending_count": sum(c.queued for c in counted)}
