"""The JSON API under ``/api/``: the reads and actions of the dashboard.

The pages' forms post to these same endpoints (with a CSRF token and a
``next`` page to go back to), so there is one implementation of each action.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from aqueue import audit
from aqueue.queue import Queue
from aqueue.records import JobFilter, JobStatus
from aqueue.web import params, present
from aqueue.web.auth import CSRF_HEADER, Auth, local_target, visitor
from aqueue.web.flow import RANGES
from aqueue.web.flow import flow as read_flow

log = logging.getLogger("aqueue.web")


def _queue(request: Request) -> Queue:
    queue: Queue = request.app.state.queue
    return queue


def _auth(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


async def jobs_page(request: Request, f: JobFilter) -> dict[str, Any]:
    """One page of the jobs list and its cursors (``None`` at either end)."""
    # One job more than the page tells whether there is a page beyond it.
    jobs = await _queue(request).jobs.list(replace(f, limit=f.limit + 1))
    more = len(jobs) > f.limit
    if f.after and not f.before:
        jobs = jobs[-f.limit :] if more else jobs  # read upwards: the extra one is the oldest
        newer, older = (jobs[0].id if more else None), (jobs[-1].id if jobs else None)
    else:
        jobs = jobs[: f.limit]
        newer = jobs[0].id if jobs and (f.before or f.after) else None
        older = jobs[-1].id if more else None
    return {
        "jobs": [present.job_row(j) for j in jobs],
        "newer": newer,
        "older": older,
        "filter": params.filter_query(f),
        "limit": f.limit,
    }


async def overview(request: Request) -> Response:
    queues = await _queue(request).jobs.counts()
    return JSONResponse({"queues": [present.queue_summary(q) for q in queues]})


async def flow(request: Request) -> Response:
    span, queue_name = params.flow_params(request.query_params)
    found = await read_flow(_queue(request), span, queue_name)
    if found is None:
        raise HTTPException(404, "this database keeps no flow of jobs")
    return JSONResponse(
        {
            "range": span,
            "queue": queue_name,
            "bucket_seconds": RANGES[span][1],
            "buckets": [b.as_json() for b in found],
        }
    )


async def names(request: Request) -> Response:
    jobs = _queue(request).jobs
    return JSONResponse({"tasks": await jobs.task_names(), "queues": await jobs.queue_names()})


async def list_jobs(request: Request) -> Response:
    return JSONResponse(await jobs_page(request, params.job_filter(request.query_params)))


async def get_job(request: Request) -> Response:
    queue = _queue(request)
    job = await queue.get_job(params.job_id(request.path_params["job_id"]))
    if job is None:
        raise HTTPException(404, "no such job")
    return JSONResponse(present.job_detail(job, await queue.jobs.children(job.id)))


async def job_output(request: Request) -> Response:
    job_id = params.job_id(request.path_params["job_id"])
    queue = _queue(request)
    outputs = await queue.jobs.output(job_id)
    if not outputs and await queue.get_job(job_id) is None:
        raise HTTPException(404, "no such job")
    return JSONResponse({"id": job_id, "attempts": [present.output(o) for o in outputs]})


async def job_steps(request: Request) -> Response:
    job_id = params.job_id(request.path_params["job_id"])
    queue = _queue(request)
    steps, signals = await queue.jobs.steps(job_id), await queue.jobs.signals(job_id)
    if not steps and not signals and await queue.get_job(job_id) is None:
        raise HTTPException(404, "no such job")
    return JSONResponse(
        {
            "id": job_id,
            "steps": [present.step(s) for s in steps],
            "signals": [present.signal(s) for s in signals],
        }
    )


async def schedules(request: Request) -> Response:
    from aqueue.web.schedules import schedules as read

    return JSONResponse({"schedules": await read(_queue(request))})


async def workers(request: Request) -> Response:
    return JSONResponse({"workers": [present.worker(w) for w in await _queue(request).workers()]})


# -- actions ------------------------------------------------------------------


async def _body(request: Request) -> dict[str, str]:
    """The action's parameters: a form (from the pages) or a JSON object."""
    if request.headers.get("content-type", "").startswith("application/json"):
        raw = await params.body(request)
        try:
            body = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            raise params.bad_request("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise params.bad_request("the body must be a JSON object")
        # A list (a selection's "ids") is read as the pages' forms send it.
        return {
            str(k): "" if v is None else ",".join(map(str, v)) if isinstance(v, list) else str(v)
            for k, v in body.items()
        }
    return await params.form(request)


def _done(request: Request, body: dict[str, str], result: dict[str, Any]) -> Response:
    """JSON for API clients; back to the page for a form that named one."""
    target = local_target(request, body.get("next", ""))
    if target is not None:
        return RedirectResponse(target, status_code=303)
    return JSONResponse(result)


async def _act(request: Request) -> tuple[Queue, dict[str, str], str]:
    """The queue, the action's parameters and who acts; or the 401/403 that
    stops them. Credentials are checked before the body is read; a logged-in
    page's form must also carry its session's CSRF token."""
    auth = _auth(request)
    who = visitor(request)
    if auth.read_only:
        raise HTTPException(403, "this dashboard is read-only")
    if not who.can_act:
        raise HTTPException(401, "log in, or send the token as 'Authorization: Bearer <token>'")
    body = await _body(request)
    if not auth.csrf_ok(who, request.headers.get(CSRF_HEADER) or body.get("csrf")):
        raise HTTPException(403, "missing or wrong CSRF token")
    return _queue(request), body, who.describe()


async def retry_job(request: Request) -> Response:
    queue, body, who = await _act(request)
    job_id = params.job_id(request.path_params["job_id"])
    if not await queue.jobs.retry(job_id):
        job = await queue.get_job(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        raise HTTPException(
            409, f"only failed or cancelled jobs can be retried; this one is {job.status}"
        )
    audit.record("retry", f"job {job_id}", who)
    return _done(request, body, {"id": job_id, "status": "queued"})


async def cancel_job(request: Request) -> Response:
    queue, body, who = await _act(request)
    job_id = params.job_id(request.path_params["job_id"])
    status = await queue.jobs.cancel(job_id)
    if status is None:
        raise HTTPException(404, "no such job")
    if status not in (JobStatus.CANCELLED, JobStatus.RUNNING):
        raise HTTPException(409, f"the job has already finished ({status})")
    audit.record("cancel", f"job {job_id}", who)
    return _done(
        request,
        body,
        {"id": job_id, "status": str(status), "cancel_requested": status == JobStatus.RUNNING},
    )


async def reschedule_job(request: Request) -> Response:
    """Run a queued job now, or change its due time or priority."""
    queue, body, who = await _act(request)
    job_id = params.job_id(request.path_params["job_id"])
    run_at, now = params.due_time(body.get("run_at", ""))
    priority = params.priority(body.get("priority", ""))
    if run_at is None and not now and priority is None:
        raise params.bad_request("give run_at (an ISO 8601 time, or 'now') or priority")
    if not await queue.jobs.reschedule(job_id, run_at=run_at, now=now, priority=priority):
        job = await queue.get_job(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        why = "it waits for its parents" if job.waiting else f"it is {job.status}"
        raise HTTPException(409, f"only a queued job can be changed: {why}")
    changes = []
    if now:
        changes.append("due now")
    elif run_at is not None:
        changes.append(f"due {run_at.isoformat()}")
    if priority is not None:
        changes.append(f"priority {priority}")
    audit.record("reschedule", f"job {job_id}: {', '.join(changes)}", who)
    return _done(request, body, {"id": job_id, "changed": changes})


async def delete_job(request: Request) -> Response:
    queue, body, who = await _act(request)
    job_id = params.job_id(request.path_params["job_id"])
    status = await queue.jobs.delete(job_id)
    if status is None:
        raise HTTPException(404, "no such job")
    if status == JobStatus.RUNNING:
        raise HTTPException(409, "a running job cannot be deleted: cancel it first")
    audit.record("delete", f"job {job_id} ({status})", who)
    return _done(request, body, {"id": job_id, "deleted": True, "status": str(status)})


async def _retry_one(queue: Queue, job_id: str) -> bool:
    return await queue.jobs.retry(job_id)


async def _cancel_one(queue: Queue, job_id: str) -> bool:
    return await queue.jobs.cancel(job_id) in (JobStatus.CANCELLED, JobStatus.RUNNING)


async def _delete_one(queue: Queue, job_id: str) -> bool:
    return await queue.jobs.delete(job_id) not in (None, JobStatus.RUNNING)


async def _run_now_one(queue: Queue, job_id: str) -> bool:
    return await queue.jobs.reschedule(job_id, now=True)


#: What a selection can be given: each job that does not allow it is skipped.
_ON_SELECTED = {
    "retry": _retry_one,
    "cancel": _cancel_one,
    "delete": _delete_one,
    "run_now": _run_now_one,
}


async def act_on_selected(request: Request) -> Response:
    """Retry, cancel, delete or run now the jobs ticked on a page (``ids``)."""
    queue, body, who = await _act(request)
    action = body.get("action", "")
    act = _ON_SELECTED.get(action)
    if act is None:
        raise params.bad_request(f"action must be one of {', '.join(_ON_SELECTED)}")
    ids = params.selected_ids(body.get("ids", ""))
    count = 0
    for job_id in ids:
        count += await act(queue, job_id)
    audit.record(action, f"{len(ids)} selected jobs", who, count)
    return _done(request, body, {"action": action, "count": count, "selected": len(ids)})


#: What a bulk action's body must say to act on every job, without a filter.
_ALL = {"true", "1", "yes", "on"}


async def _bulk(request: Request, action: str) -> Response:
    queue, body, who = await _act(request)
    f = params.job_filter({k: v for k, v in body.items() if k not in ("before", "after")})
    query = params.filter_query(f)
    if not query and body.get("all", "").strip().lower() not in _ALL:
        raise params.bad_request(
            f"a {action} of every job must be asked for explicitly: give "
            f"a filter (queue, status, task, id, tag), or all=true"
        )
    count = await (
        queue.jobs.retry_matching(f, all_jobs=not query)
        if action == "retry"
        else queue.jobs.cancel_matching(f, all_jobs=not query)
    )
    target = (
        "jobs matching " + ", ".join(f"{k}={v}" for k, v in query.items()) if query else "all jobs"
    )
    audit.record(action, target, who, count)
    return _done(request, body, {"action": action, "count": count, "filter": query})


async def bulk_retry(request: Request) -> Response:
    return await _bulk(request, "retry")


async def bulk_cancel(request: Request) -> Response:
    return await _bulk(request, "cancel")


async def _set_paused(request: Request, pause: bool) -> Response:
    queue, body, who = await _act(request)
    name = params.queue_name(request.path_params["queue"])
    await (queue.pause(name) if pause else queue.resume(name))
    audit.record("pause" if pause else "resume", f"queue {name!r}", who)
    return _done(request, body, {"queue": name, "paused": pause})


async def pause_queue(request: Request) -> Response:
    return await _set_paused(request, True)


async def resume_queue(request: Request) -> Response:
    return await _set_paused(request, False)


routes = [
    Route("/overview", overview),
    Route("/flow", flow),
    Route("/names", names),
    Route("/jobs", list_jobs),
    Route("/jobs/retry", bulk_retry, methods=["POST"]),
    Route("/jobs/cancel", bulk_cancel, methods=["POST"]),
    Route("/jobs/selected", act_on_selected, methods=["POST"]),
    Route("/jobs/{job_id:str}", get_job),
    Route("/jobs/{job_id:str}/output", job_output),
    Route("/jobs/{job_id:str}/steps", job_steps),
    Route("/jobs/{job_id:str}/retry", retry_job, methods=["POST"]),
    Route("/jobs/{job_id:str}/cancel", cancel_job, methods=["POST"]),
    Route("/jobs/{job_id:str}/delete", delete_job, methods=["POST"]),
    Route("/jobs/{job_id:str}/reschedule", reschedule_job, methods=["POST"]),
    Route("/workers", workers),
    Route("/schedules", schedules),
    # Queue names may hold slashes (sent percent-encoded).
    Route("/queues/{queue:path}/pause", pause_queue, methods=["POST"]),
    Route("/queues/{queue:path}/resume", resume_queue, methods=["POST"]),
]
