"""The dashboard's ASGI app: pages, the JSON API under ``/api/``, assets."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aqueue.errors import AqueueError, ConfigurationError, DatabaseUnavailable
from aqueue.queue import Queue
from aqueue.web import api, pages
from aqueue.web.auth import Auth, RequireCredentials, SiteLogin, base_path
from aqueue.web.guard import LOOPBACK_HOSTS, AllowedHosts, Guard
from aqueue.web.names import Names
from aqueue.web.params import MAX_BODY_BYTES
from aqueue.web.sessions import DEFAULT_TTL

log = logging.getLogger("aqueue.web")


def _wants_json(request: Request) -> bool:
    root = base_path(request)
    return request.url.path.startswith(root + "/api/") or request.url.path == root + "/api"


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return pages.render(request, "error.html", status_code=status, status=status, message=message)


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


_SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
]


class _Timing:
    """``Server-Timing`` on every answer, no caching of live data, and the
    security headers. (Plain ASGI: it passes the request body through as it
    streams, so the guard's limit still stops it.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})["started"] = started
        # Where the dashboard is mounted, before /api's Mount adds to root_path.
        scope["aqueue.base"] = base = scope.get("root_path", "")
        static = scope["path"].startswith(base + "/static/")

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                if not static:
                    headers["Cache-Control"] = "no-store"
                for name, value in _SECURITY_HEADERS:
                    headers.append(name.decode(), value.decode())
            await send(message)

        await self.app(scope, receive, timed)


def queue_and_lifespan(
    queue: Queue | str | None,
) -> tuple[Queue, Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]]:
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


def host_rules(given: Sequence[str] | None) -> AllowedHosts:
    """The ``allowed_hosts`` of an app: loopback names unless given."""
    try:
        return AllowedHosts(LOOPBACK_HOSTS if given is None else given)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def create_app(
    queue: Queue | str | None = None,
    *,
    token: str | None = None,
    read_only: bool = False,
    public_reads: bool = False,
    allowed_hosts: Sequence[str] | None = None,
    session_ttl: float = DEFAULT_TTL,
    site_login: SiteLogin | None = None,
) -> Starlette:
    """The dashboard as an ASGI app, to serve or to mount in another app.

    ``queue`` is a :class:`~aqueue.Queue` (left open when the app stops) or a
    DSN (``None``: ``AQUEUE_DSN``, else the SQLite default), which the app
    opens and closes. Every page and API answer needs ``token`` (at least 16
    characters): a bearer header for the API, a log-in (a session of
    ``session_ttl`` seconds) for the pages. ``read_only`` turns the actions
    off. ``public_reads=True`` opens the reads to whoever reaches the app (an
    explicit choice: job data is user data); without a token it is required,
    and there are no actions. The app answers only to the host names in
    ``allowed_hosts`` (``"*.example.com"``, ``"*"`` for any; default: the
    loopback names). ``site_login`` lends the log-in of a site the app is
    mounted in (``aqueue.contrib.django.asgi.with_dashboard(django_login=True)``):
    its users need no token.
    """
    auth = Auth(
        token,
        read_only=read_only,
        public_reads=public_reads,
        session_ttl=session_ttl,
        site_login=site_login,
    )
    hosts = host_rules(allowed_hosts)
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
        # Outermost first: the host and body checks, then the timing headers
        # (which also note where the app is mounted), then the credentials.
        middleware=[
            Middleware(Guard, allowed_hosts=hosts, max_body=MAX_BODY_BYTES),
            Middleware(_Timing),
            Middleware(RequireCredentials, auth=auth),
        ],
        exception_handlers={HTTPException: _http_error, AqueueError: _database_error},
        lifespan=lifespan,
    )
    app.state.queue = target
    app.state.auth = auth
    app.state.names = Names()
    if metrics is not None:
        app.state.depths = metrics.state()
    return app
