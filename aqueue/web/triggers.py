"""The HTTP trigger endpoints as an ASGI app (Starlette): ``POST /tasks/run/``,
``POST /tasks/run-one/``, ``GET /tasks/status/``.

Serve it alone (``uvicorn``, a function platform's ASGI adapter) or mount it in
FastAPI/Starlette. Django projects route the same endpoints from ``urls.py``
with :mod:`aqueue.contrib.django.urls`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aqueue import triggers
from aqueue.errors import AqueueError, DatabaseUnavailable
from aqueue.queue import Queue
from aqueue.triggers import MAX_BODY
from aqueue.web.app import host_rules, queue_and_lifespan
from aqueue.web.guard import Guard

log = logging.getLogger("aqueue.web")


def _error(status: int, message: str) -> JSONResponse:
    response = JSONResponse({"error": message}, status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="aqueue"'
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail))


async def _read_body(request: Request) -> bytes:
    # The guard (aqueue.web.guard) stops a body past MAX_BODY while it is read.
    return await request.body()


Handler = Callable[[Request, Queue], Awaitable[dict[str, Any]]]


def _endpoint(handler: Handler, *, mutating: bool) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        auth: triggers.TriggerAuth = request.app.state.trigger_auth
        refused = auth.check(request.headers.get("authorization"), mutating=mutating)
        if refused is not None:
            return _error(*refused)
        try:
            return JSONResponse(await handler(request, request.app.state.queue))
        except triggers.BadTriggerRequest as exc:
            return _error(400, str(exc))
        except AqueueError as exc:
            # aqueue's messages never hold a password (DSNs are redacted).
            log.warning("trigger %s failed: %s", request.url.path, exc)
            status = 503 if isinstance(exc, DatabaseUnavailable) else 500
            return _error(status, f"the database could not answer: {exc}")

    return endpoint


async def _run(request: Request, queue: Queue) -> dict[str, Any]:
    return await triggers.run_answer(queue, triggers.parse_run(await _read_body(request)))


async def _run_one(request: Request, queue: Queue) -> dict[str, Any]:
    parsed = triggers.parse_run(await _read_body(request), one=True)
    return await triggers.run_one_answer(queue, parsed)


async def _status(request: Request, queue: Queue) -> dict[str, Any]:
    return await triggers.status_answer(queue, triggers.parse_status(request.query_params))


def create_trigger_app(
    queue: Queue | str | None = None,
    *,
    token: str | None = None,
    allow_unauthenticated: bool = False,
    prefix: str = "/tasks",
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The trigger endpoints under ``prefix`` as an ASGI app.

    ``queue`` is a :class:`~aqueue.Queue` with the tasks registered (left open
    when the app stops) or a DSN. Calls need ``Authorization: Bearer <token>``;
    without a token the run endpoints answer 403 unless
    ``allow_unauthenticated`` opens them. ``allowed_hosts`` are the host names
    the app answers to: by default any when it has a token (a page elsewhere
    cannot learn it), the loopback names when it is open without one.
    """
    auth = triggers.TriggerAuth(token, allow_unauthenticated)
    if allowed_hosts is None and token is not None:
        allowed_hosts = ["*"]
    hosts = host_rules(allowed_hosts)
    target, lifespan = queue_and_lifespan(queue)

    prefix = prefix.rstrip("/")
    app = Starlette(
        routes=[
            Route(f"{prefix}/run/", _endpoint(_run, mutating=True), methods=["POST"]),
            Route(f"{prefix}/run-one/", _endpoint(_run_one, mutating=True), methods=["POST"]),
            Route(f"{prefix}/status/", _endpoint(_status, mutating=False), methods=["GET"]),
        ],
        middleware=[Middleware(Guard, allowed_hosts=hosts, max_body=MAX_BODY)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.queue = target
    app.state.trigger_auth = auth
    return app
