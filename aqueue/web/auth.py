"""Who may act: a bearer token for the API, a session cookie plus a CSRF token
for the pages' forms.

The cookie never holds the token itself, only an HMAC of it, so a copied
cookie does not reveal the token; the CSRF token is another HMAC, which a
page on another site cannot read or compute.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

SESSION_COOKIE = "aqueue_session"
CSRF_HEADER = "x-csrf-token"


class Auth:
    """The token rules of one dashboard (``token`` None: read-only)."""

    def __init__(self, token: str | None, read_only: bool) -> None:
        self.read_only = read_only or token is None
        self._key = (token or "").encode()
        self._token = token

    def _mac(self, purpose: str) -> str:
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).hexdigest()

    @property
    def session_value(self) -> str:
        return self._mac("aqueue session")

    @property
    def csrf_token(self) -> str:
        return self._mac("aqueue csrf")

    def token_matches(self, offered: str) -> bool:
        return self._token is not None and hmac.compare_digest(offered.encode(), self._key)

    def bearer(self, request: Request) -> bool:
        scheme, _, offered = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(offered.strip())

    def logged_in(self, request: Request) -> bool:
        """The request carries this dashboard's session cookie."""
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return not self.read_only and hmac.compare_digest(cookie, self.session_value)

    def csrf_ok(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered, self.csrf_token)


def base_path(request: Request) -> str:
    """The path the dashboard is mounted at ("" at the root)."""
    return str(request.scope.get("aqueue.base", request.scope.get("root_path", "")))


def local_target(request: Request, target: str) -> str | None:
    """``target`` if it is a path inside this dashboard (never another site:
    no ``//host``, no backslashes), else ``None``."""
    if target.startswith(base_path(request) + "/") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return None
