"""What every request to aqueue's web apps passes before anything reads it.

- ``Host`` must be one of the app's allowed hosts. A page on another site
  that points its own name at 127.0.0.1 (DNS rebinding) sends its own name
  as ``Host``, so a dashboard answering only to its own names cannot be read
  that way. Loopback names by default.
- The body may not be larger than ``max_body``: a declared ``Content-Length``
  over it is refused at once, and a body sent without one is counted while it
  is read and cut off at the limit, so no request makes the process hold
  more than that in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The names a local app answers to unless told otherwise.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def host_of(header: str) -> str:
    """The host name of a ``Host`` header, lower case, without its port
    (``[::1]:8520`` is ``::1``)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value


class AllowedHosts:
    """Host names an app answers to: exact names, ``*.example.com`` for the
    subdomains of a domain, or ``*`` for any."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(host_of(p) if p != "*" else p for p in patterns)
        for pattern in self.patterns:
            if not pattern or (
                "*" in pattern
                and pattern != "*"
                and not (pattern.startswith("*.") and "*" not in pattern[1:])
            ):
                raise ValueError(
                    f"not a host name or pattern: {pattern!r} (a name, '*.example.com' or '*')"
                )

    def allows(self, host: str) -> bool:
        for pattern in self.patterns:
            if pattern == "*" or pattern == host:
                return True
            if (
                pattern.startswith("*.")
                and host.endswith(pattern[1:])
                and len(host) > len(pattern) - 1
            ):
                return True
        return False

    @property
    def any(self) -> bool:
        return "*" in self.patterns


class BodyTooLarge(HTTPException):
    """A request body past the app's limit (answered 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class Guard:
    """ASGI middleware: the host check and the body limit (see the module)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: AllowedHosts, max_body: int) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = host_of(headers.get("host", ""))
        if not self.allowed_hosts.any and not self.allowed_hosts.allows(host):
            await _refuse(send, 400, "this app does not answer to that Host (see allowed_hosts)")
            return
        declared = headers.get("content-length", "")
        if declared and (not declared.isdigit() or int(declared) > self.max_body):
            await _refuse(send, 413, f"the request body is larger than {self.max_body} bytes")
            return
        await self.app(scope, _limited(receive, self.max_body), send)


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
