"""The server-rendered pages. Their data comes from the same functions as the
JSON API, and their forms post to the API's actions."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from aqueue import audit
from aqueue.records import SEARCH_WINDOW, JobStatus
from aqueue.web import api, charts, params, present
from aqueue.web.auth import SESSION_COOKIE, Visitor, backend_of, base_path, local_target
from aqueue.web.flow import RANGES, flow

templates = jinja2.Environment(
    loader=jinja2.PackageLoader("aqueue.web", "templates"),
    # Everything shown is escaped unless a template says otherwise (none do):
    # job arguments, errors and names are data, never markup.
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"  # an en dash: no value
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


templates.filters["age"] = _age
templates.filters["pretty"] = _pretty
templates.filters["short_time"] = lambda v: "" if v is None else str(v)[:19].replace("T", " ")


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    auth = api._auth(request)
    base = base_path(request)
    started = request.state.started if hasattr(request.state, "started") else time.perf_counter()
    who: Visitor = request.scope.get("aqueue.visitor") or Visitor(None, "")
    html = templates.get_template(name).render(
        request=request,
        base=base,
        read_only=auth.read_only,
        # Actions are shown to a visitor whose pages carry a CSRF token.
        logged_in=who.how in ("session", "site"),
        own_session=who.how == "session",
        site_user=who.user if who.how == "site" else None,
        can_log_in=auth.sessions is not None and auth.site_login is None,
        csrf=auth.csrf_token(who),
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        database=api._queue(request).dsn,
        statuses=[s.value for s in JobStatus] + ["scheduled"],
        elapsed_ms=(time.perf_counter() - started) * 1000,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


async def overview(request: Request) -> Response:
    span, chosen = params.flow_params(request.query_params)
    queue = api._queue(request)
    queues = [present.queue_summary(q) for q in await queue.jobs.counts()]
    bars = await flow(queue, span, chosen)
    which = f"queue {chosen}" if chosen else "all queues"
    per = "minute" if RANGES[span][1] == 60 else "15 minutes"
    title = f"attempts per {per}, {which}"
    return render(
        request,
        "overview.html",
        queues=queues,
        span=span,
        spans=list(RANGES),
        chosen=chosen,
        per=per,
        outcomes=None if bars is None else charts.outcome_bars(bars, title),
        depths=None if bars is None else charts.depth_line(bars, f"due jobs, {which}"),
    )


async def jobs(request: Request) -> Response:
    f = params.job_filter(request.query_params)
    page = await api.jobs_page(request, f)
    query = page["filter"]
    task_names, queue_names = await request.app.state.names.read(api._queue(request))
    return render(
        request,
        "jobs.html",
        page=page,
        query=query,
        urlencode=urlencode,
        filtered=bool(query),
        task_names=task_names,
        queue_names=queue_names,
        search_window=SEARCH_WINDOW,
    )


async def job(request: Request) -> Response:
    queue = api._queue(request)
    job_id = params.job_id(request.path_params["job_id"])
    info = await queue.get_job(job_id)
    if info is None:
        raise HTTPException(404, "no such job")
    return render(
        request,
        "job.html",
        job=present.job_detail(info, await queue.jobs.children(job_id)),
        timeline=present.timeline(info),
        outputs=[present.output(o) for o in await queue.jobs.output(job_id)],
        steps=[present.step(s) for s in await queue.jobs.steps(job_id)],
        signals=[present.signal(s) for s in await queue.jobs.signals(job_id)],
    )


async def schedules_page(request: Request) -> Response:
    from aqueue.web.schedules import schedules

    return render(request, "schedules.html", schedules=await schedules(api._queue(request)))


async def workers(request: Request) -> Response:
    found = [present.worker(w) for w in await api._queue(request).workers()]
    return render(request, "workers.html", workers=found)


def _safe_next(request: Request, target: str) -> str:
    return local_target(request, target) or base_path(request) + "/"


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login(request: Request) -> Response:
    auth = api._auth(request)
    target = _safe_next(request, request.query_params.get("next", ""))
    if auth.site_login is not None:  # the site's own log-in page let them in
        return RedirectResponse(target, status_code=303)
    if request.method == "GET":
        return render(request, "login.html", next=target, error=None)
    if auth.read_only or auth.sessions is None:
        raise HTTPException(403, "this dashboard is read-only")
    form = await params.form(request)
    target = _safe_next(request, form.get("next", ""))
    if not auth.token_matches(form.get("token", "")):
        api.log.warning("dashboard: failed log-in from %s", _address(request))
        await auth.throttle.failed(_address(request))
        return render(
            request,
            "login.html",
            status_code=401,
            next=target,
            error="That is not this dashboard's token.",
        )
    secret = await auth.sessions.start(await backend_of(request))
    audit.record("log in", "dashboard", f"session from {_address(request)}")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(auth.sessions.ttl),
        httponly=True,
        samesite="strict",
        path=(base_path(request) or "/"),
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    auth = api._auth(request)
    who: Visitor = request.scope["aqueue.visitor"]
    if who.how != "session" or auth.sessions is None or who.secret is None:
        raise HTTPException(401, "not logged in")
    form = await params.form(request)
    if not auth.csrf_ok(who, form.get("csrf")):
        raise HTTPException(403, "missing or wrong CSRF token")
    await auth.sessions.end(await backend_of(request), who.secret)
    audit.record("log out", "dashboard", who.describe())
    response = RedirectResponse(_safe_next(request, ""), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=(base_path(request) or "/"))
    return response


routes = [
    Route("/", overview),
    Route("/jobs", jobs),
    Route("/jobs/{job_id:str}", job),
    Route("/workers", workers),
    Route("/schedules", schedules_page),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
