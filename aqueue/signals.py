"""Events a worker announces, so that tests (and embedding code) can wait for
"a lease was renewed" or "a job was rescued" instead of sleeping."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable


class Signals:
    """Counts named events; :meth:`wait` returns once one has happened ``count`` times.

    Names a worker emits: ``claimed`` (jobs), ``written`` (outcomes),
    ``renewed`` (renewals), ``rescued`` (jobs), ``lease_lost`` (attempts),
    ``handed_back`` (jobs), ``handed_over`` (jobs a producer gave it while idle,
    also counted as ``claimed``). Emitting costs a counter increment while nobody waits.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._waiters: list[tuple[str, int, asyncio.Future[None]]] = []
        #: Called with each event as it is emitted (the worker's metrics use it).
        self.listener: Callable[[str, int], None] | None = None

    def emit(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount
        if self.listener is not None:
            self.listener(name, amount)
        if self._waiters:
            for waiter in list(self._waiters):
                wanted, count, future = waiter
                if wanted == name and self.counts[name] >= count and not future.done():
                    future.set_result(None)

    async def wait(self, name: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``name`` has been emitted ``count`` times in all
        (``TimeoutError`` after ``timeout`` seconds)."""
        if self.counts[name] >= count:
            return
        waiter = (name, count, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter[2], timeout)
        finally:
            self._waiters.remove(waiter)
