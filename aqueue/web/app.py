"""The dashboard's ASGI app: pages, the JSON API under ``/api/``, assets."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from aqueue.errors import AqueueError, ConfigurationError, DatabaseUnavailable
from aqueue.queue import Queue
from aqueue.web import api, pages
from aqueue.web.auth import Auth, base_path

log = logging.getLogger("aqueue.web")


def _wants_json(request: Request) -> bool:
    root = base_path(request)
    return request.url.path.startswith(root + "/api/") or request.url.path == root + "/api"


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return pages.render(request, "error.html", status_code=status, status=status,
                        message=message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = _error(request, exc.status_code, str(exc.detail))
    if exc.status_code == 401 and _wants_json(request):
        response.headers["WWW-Authenticate"] = 'Bearer realm="aqueue"'
    return response


async def _database_error(request: Request, exc: Exception) -> Response:
    # The message of aqueue's errors never holds a password (DSNs are redacted).
    log.warning("dashboard: %s %s failed: %s", request.method, request.url.path, exc)
    status = 503 if isinstance(exc, DatabaseUnavailable) else 500
    return _error(request, status, f"the database could not answer: {exc}")


class _Timing(BaseHTTPMiddleware):
    """``Server-Timing`` on every answer, and no caching of live data."""

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.started = started = time.perf_counter()
        # Where the dashboard is mounted, before /api's Mount adds to root_path.
        request.scope["aqueue.base"] = request.scope.get("root_path", "")
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        if not request.url.path.startswith(base_path(request) + "/static/"):
            response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'")
        return response


def queue_and_lifespan(queue: Queue | str | None) -> tuple[
        Queue, Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]]:
    """The app's queue (made from a DSN, or the caller's), and a lifespan that
    closes it when the app made it (a caller's queue is left open)."""
    own = not isinstance(queue, Queue)
    target = queue if isinstance(queue, Queue) else Queue(queue)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if own:
                await target.close()

    return target, lifespan


def create_app(queue: Queue | str | None = None, *, token: str | None = None,
               read_only: bool = False) -> Starlette:
    """The dashboard as an ASGI app, to serve or to mount in another app.

    ``queue`` is a :class:`~aqueue.Queue` (left open when the app stops) or a
    DSN (``None``: ``AQUEUE_DSN``, else the SQLite default), which the app
    opens and closes. Reads are open to whoever reaches the app; actions need
    ``token`` (a bearer header for the API, a log-in for the pages). Without
    a token the app must be ``read_only``.
    """
    if token is None and not read_only:
        raise ConfigurationError("the dashboard needs a token for its actions "
                                 "(or read_only=True)")
    if token is not None and len(token) < 8:
        raise ConfigurationError("the dashboard's token must have at least 8 characters")
    target, lifespan = queue_and_lifespan(queue)

    try:  # /metrics only with aqueue[metrics]
        from aqueue.web import metrics
    except ImportError:
        metrics = None  # type: ignore[assignment]
    app = Starlette(
        routes=[
            *(metrics.routes if metrics is not None else []),
            Mount("/api", routes=api.routes),
            Mount("/static", StaticFiles(packages=[("aqueue.web", "static")]), name="static"),
            *pages.routes,
        ],
        middleware=[Middleware(_Timing)],
        exception_handlers={HTTPException: _http_error, AqueueError: _database_error},
        lifespan=lifespan,
    )
    app.state.queue = target
    app.state.auth = Auth(token, read_only)
    if metrics is not None:
        app.state.depths = metrics.state()
    return app
