"""Dashboard log-ins: one session per log-in, stored in the database, with an
expiry, ended by logging out; and failed log-ins slowed down.

The cookie holds a random secret. The database holds only an HMAC of it under
the dashboard's token, so a copy of the sessions table opens nothing, and a
new token ends every session made under the old one. Because sessions live in
the database, every process serving the dashboard (several uvicorn or
gunicorn workers, a Django project's processes) knows the same ones, and a
log-out ends the session everywhere at once: a cookie copied before it no
longer works after it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque

from aqueue.backends.base import Sessions as SessionStore

#: How long a log-in lasts unless the app says otherwise (eight hours).
DEFAULT_TTL = 8 * 3600.0


class Sessions:
    """The log-ins of one dashboard, keyed under its ``token``."""

    def __init__(self, token: str, ttl: float = DEFAULT_TTL) -> None:
        if ttl <= 0:
            raise ValueError("session_ttl must be a positive number of seconds")
        self._key = token.encode()
        self.ttl = ttl

    def _mac(self, purpose: str, secret: str) -> str:
        return hmac.new(self._key, f"{purpose}:{secret}".encode(), hashlib.sha256).hexdigest()

    def stored_key(self, secret: str) -> str:
        """What the database holds for the cookie ``secret``."""
        return self._mac("session", secret)

    def csrf_token(self, secret: str) -> str:
        """The CSRF token of the session ``secret``: forms of its pages carry it;
        another site can neither read nor compute it."""
        return self._mac("csrf", secret)

    async def start(self, backend: SessionStore) -> str:
        """A new log-in: its cookie secret."""
        secret = secrets.token_urlsafe(32)
        await backend.start_session(self.stored_key(secret), self.ttl)
        return secret

    async def alive(self, backend: SessionStore, secret: str) -> bool:
        # A cookie that cannot be one of ours is not looked up at all.
        if not secret or len(secret) > 100:
            return False
        return await backend.session_alive(self.stored_key(secret))

    async def end(self, backend: SessionStore, secret: str) -> None:
        await backend.end_session(self.stored_key(secret))


class Throttle:
    """Slows down guessing: every failed attempt is answered only after
    ``pause`` seconds, and an address with ``limit`` failures within
    ``window`` seconds is refused until the oldest ages out.

    Counted per client address in this process; at most ``max_addresses``
    are remembered (the oldest are forgotten), so a flood of addresses cannot
    grow memory.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 900.0,
        pause: float = 1.0,
        max_addresses: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.pause = pause
        self._max = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str) -> float | None:
        """Seconds until ``address`` may try again; None when it may now."""
        now = time.monotonic()
        times = self._recent(address, now)
        if times is None or len(times) < self.limit:
            return None
        return max(1.0, self.window - (now - times[0]))

    async def failed(self, address: str) -> None:
        """Count a failure of ``address``, then wait out the pause."""
        now = time.monotonic()
        times = self._recent(address, now) or deque(maxlen=self.limit)
        times.append(now)
        self._failures[address] = times
        self._failures.move_to_end(address)
        while len(self._failures) > self._max:
            self._failures.popitem(last=False)
        await asyncio.sleep(self.pause)
