"""Who may read and who may act.

A dashboard with a token asks for it on every request: as a bearer header
(API clients, Prometheus), or through a log-in that starts a session (the
pages; see :mod:`aqueue.web.sessions`). Forms of a logged-in page also carry
the session's CSRF token. ``public_reads`` opens the reads to anyone who
reaches the app — an explicit choice; actions still need the token. Without a
token there are no actions, and the reads must be opened explicitly.

A framework the dashboard is mounted in can lend its own log-in instead (a
:class:`SiteLogin`, such as Django's staff users): its users read and act,
with a CSRF token bound to their session on the site.

Credentials are checked before a request's body is read, and failed
attempts (a wrong token at the log-in or as a bearer header) slow down.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from html import escape
from typing import Protocol
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aqueue.backends.base import Sessions as SessionStore
from aqueue.errors import ConfigurationError
from aqueue.web.sessions import DEFAULT_TTL, Sessions, Throttle

SESSION_COOKIE = "aqueue_session"
CSRF_HEADER = "x-csrf-token"
#: The shortest token a dashboard accepts (trigger tokens have the same floor).
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True, slots=True)
class SiteUser:
    """Someone logged in to the site the dashboard is mounted in."""

    name: str
    #: The site's session key: what the CSRF token is bound to. Never shown.
    session: str
    #: Whether the site lets them use the dashboard (Django: an active staff user).
    allowed: bool


class SiteLogin(Protocol):
    """The door to a host framework's own log-in (see
    ``aqueue.contrib.django.login``)."""

    #: Named in the audit log: "Django user 'ann' from ...".
    site: str

    async def user(self, request: Request) -> SiteUser | None:
        """The site's logged-in user of this request, or None."""
        ...

    def login_url(self, next_path: str) -> str:
        """The site's log-in page, coming back to ``next_path``."""
        ...

    def csrf_token(self, session: str) -> str:
        """A token only the site can make from its session key."""
        ...


@dataclass(frozen=True, slots=True)
class Visitor:
    """How a request identified itself: ``bearer`` (the token), ``session``
    (a log-in's cookie, ``secret``), ``site`` (the host framework's log-in,
    ``user``), ``refused`` (logged in to the site, not allowed here) or
    neither (``None``)."""

    how: str | None
    address: str
    secret: str | None = None
    user: str | None = None
    site: str | None = None

    @property
    def can_act(self) -> bool:
        """Whether the visitor holds a credential that actions accept."""
        return self.how in ("bearer", "session", "site")

    def describe(self) -> str:
        if self.how == "site":
            return f"{self.site} user {self.user!r} from {self.address}"
        what = {"bearer": "bearer token", "session": "logged-in session"}.get(
            self.how or "", "anonymous visitor"
        )
        return f"{what} from {self.address}"


class Auth:
    """The credential rules of one dashboard."""

    def __init__(
        self,
        token: str | None,
        *,
        read_only: bool = False,
        public_reads: bool = False,
        session_ttl: float = DEFAULT_TTL,
        site_login: SiteLogin | None = None,
    ) -> None:
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise ConfigurationError(
                f"the dashboard's token must have at least {MIN_TOKEN_LENGTH} characters"
            )
        if token is None and site_login is None and not public_reads:
            raise ConfigurationError(
                "the dashboard needs a token: job arguments, results and errors are your "
                "users' data (give token=..., or public_reads=True for a read-only "
                "dashboard open to whoever can reach it)"
            )
        self._token = token.encode() if token is not None else None
        self.site_login = site_login
        self.read_only = read_only or (token is None and site_login is None)
        self.public_reads = public_reads
        self.sessions = Sessions(token, session_ttl) if token is not None else None
        self.throttle = Throttle()

    def token_matches(self, offered: str) -> bool:
        return self._token is not None and hmac.compare_digest(offered.encode(), self._token)

    def bearer(self, request: Request) -> bool | None:
        """Whether a bearer header carries the token; None when there is none."""
        header = request.headers.get("authorization")
        if header is None:
            return None
        scheme, _, offered = header.partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(offered.strip())

    async def identify(self, request: Request) -> Visitor | None:
        """The request's credentials, checked; None when it offered a wrong token."""
        address = request.client.host if request.client else "unknown"
        if self._token is None and self.site_login is None:  # open reads, no actions
            return Visitor(None, address)
        bearer = self.bearer(request) if self._token is not None else None
        if bearer is not None:
            return Visitor("bearer", address) if bearer else None
        if self.site_login is not None:
            user = await self.site_login.user(request)
            if user is not None:
                how = "site" if user.allowed else "refused"
                return Visitor(how, address, user.session, user.name, self.site_login.site)
        secret = request.cookies.get(SESSION_COOKIE, "")
        if secret and self.sessions is not None:
            if await self.sessions.alive(await backend_of(request), secret):
                return Visitor("session", address, secret)
        return Visitor(None, address)

    def csrf_token(self, visitor: Visitor) -> str:
        if visitor.secret is None:
            return ""
        if visitor.how == "site" and self.site_login is not None:
            return self.site_login.csrf_token(visitor.secret)
        if visitor.how == "session" and self.sessions is not None:
            return self.sessions.csrf_token(visitor.secret)
        return ""

    def csrf_ok(self, visitor: Visitor, offered: str | None) -> bool:
        """Whether a form or script of this visitor's pages sent the request:
        bearer-token callers need none (no browser sends that header by itself)."""
        if visitor.how == "bearer":
            return True
        expected = self.csrf_token(visitor)
        return bool(expected) and offered is not None and hmac.compare_digest(offered, expected)


async def backend_of(request: Request) -> SessionStore:
    """Where the app's sessions are kept: the database of its queue."""
    queue = request.app.state.queue
    await queue.open()
    backend = queue.backend
    if not isinstance(backend, SessionStore):
        raise ConfigurationError(f"{queue.dsn} cannot keep dashboard sessions")
    return backend


def visitor(request: Request) -> Visitor:
    """The visitor :class:`RequireCredentials` identified for this request."""
    found: Visitor = request.scope["aqueue.visitor"]
    return found


def base_path(request: Request) -> str:
    """The path the dashboard is mounted at ("" at the root)."""
    return str(request.scope.get("aqueue.base", request.scope.get("root_path", "")))


def local_target(request: Request, target: str) -> str | None:
    """``target`` if it is a path inside this dashboard (never another site:
    no ``//host``, no backslashes), else ``None``."""
    if (
        target.startswith(base_path(request) + "/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return None


#: Paths (below the dashboard's own) anyone may fetch: the log-in page and the
#: stylesheet and script, which hold no data.
_OPEN_PATHS = ("/login",)
_OPEN_PREFIXES = ("/static/",)


class RequireCredentials:
    """ASGI middleware: identifies each request's visitor (kept in the scope as
    ``aqueue.visitor``) and turns away those who may not read: 401 for the API
    and ``/metrics``, the log-in page for the pages."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        base = base_path(request)
        path = request.url.path
        inside = path[len(base) :] if base and path.startswith(base) else path
        address = request.client.host if request.client else "unknown"
        wait = self.auth.throttle.retry_after(address)
        if wait is not None:
            response = JSONResponse(
                {"error": "too many failed attempts: try again later"},
                status_code=429,
                headers={"Retry-After": str(int(wait))},
            )
            await response(scope, receive, send)
            return
        found = await self.auth.identify(request)
        if found is None:  # a wrong bearer token
            await self.auth.throttle.failed(address)
            await _unauthorized(scope, receive, send, "the bearer token is not this dashboard's")
            return
        scope["aqueue.visitor"] = found
        open_path = inside.startswith(_OPEN_PREFIXES) or (
            inside in _OPEN_PATHS and self.auth.site_login is None
        )
        if found.can_act or self.auth.public_reads or open_path:
            await self.app(scope, receive, send)
            return
        api = inside.startswith("/api/") or inside in ("/api", "/metrics")
        if found.how == "refused":
            await _refused(scope, receive, send, found, api)
            return
        if api or request.method != "GET":
            await _unauthorized(
                scope, receive, send, "log in, or send the token as 'Authorization: Bearer <token>'"
            )
            return
        here = path + (f"?{request.url.query}" if request.url.query else "")
        if self.auth.site_login is not None:
            login = self.auth.site_login.login_url(base + "/" if inside == "/login" else here)
        else:
            login = f"{base}/login?{urlencode({'next': here})}"
        await RedirectResponse(login, status_code=303)(scope, receive, send)


async def _refused(scope: Scope, receive: Receive, send: Send, who: Visitor, api: bool) -> None:
    """403 for a site user the site does not let in (Django: not active staff)."""
    message = f"this dashboard is for the {who.site} site's staff; {who.user!r} is not one"
    if api:
        await JSONResponse({"error": message}, status_code=403)(scope, receive, send)
    else:
        page = f"<!doctype html><title>403 · aqueue</title><h1>403</h1><p>{escape(message)}</p>"
        await HTMLResponse(page, status_code=403)(scope, receive, send)


async def _unauthorized(scope: Scope, receive: Receive, send: Send, message: str) -> None:
    response = JSONResponse(
        {"error": message}, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="aqueue"'}
    )
    await response(scope, receive, send)
