"""Events a worker announces, so that tests (and embedding code) can wait for
"a lease was renewed" or "a job was rescued" instead of sleeping.

Each kind of event is a :class:`Signal` typed by what it carries (River's
``TestSignal[T]``): ``await worker.signals.rescued.wait()`` returns once a
sweep rescued jobs, with how many. Emitting costs a counter increment while
nobody waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Signal(Generic[T]):
    """One kind of event: how often it happened, what it carried last, and a wait."""

    def __init__(self, name: str, on_emit: Callable[[str, int], None] | None = None) -> None:
        self.name = name
        #: How many times it was emitted (or, for counting signals, their sum).
        self.count = 0
        #: What the last emit carried.
        self.last: T | None = None
        #: Told ``(name, amount)`` of each emit (the worker's metrics).
        self.on_emit = on_emit
        self._waiters: list[tuple[int, asyncio.Future[T]]] = []

    def emit(self, value: T, amount: int = 1) -> None:
        """Announce the event (``amount`` adds to :attr:`count`)."""
        self.count += amount
        self.last = value
        if self.on_emit is not None:
            self.on_emit(self.name, amount)
        if self._waiters:
            for wanted, future in list(self._waiters):
                if self.count >= wanted and not future.done():
                    future.set_result(value)

    async def wait(self, count: int = 1, timeout: float = 10.0) -> T | None:
        """Until :attr:`count` reaches ``count`` (``TimeoutError`` after
        ``timeout`` seconds); what the event that reached it carried."""
        if self.count >= count:
            return self.last
        waiter = (count, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter[1], timeout)
        finally:
            self._waiters.remove(waiter)


class WorkerSignals:
    """What a worker announces. Those counting jobs carry (and count) how many."""

    def __init__(self) -> None:
        #: The worker is up: listening where it can, its services started.
        self.started: Signal[None] = Signal("started")
        #: The claim loop found nothing to claim and waits (a wake-up, a probe, the poll).
        self.idle: Signal[None] = Signal("idle")
        #: Jobs claimed (a hand-over counts as a claim of one).
        self.claimed: Signal[int] = Signal("claimed")
        #: Outcomes written.
        self.written: Signal[int] = Signal("written")
        #: Lease renewals sent (each carries how many leases it renewed).
        self.renewed: Signal[int] = Signal("renewed")
        #: Jobs a sweep put back (their workers died).
        self.rescued: Signal[int] = Signal("rescued")
        #: Attempts this worker lost to a rescue elsewhere.
        self.lease_lost: Signal[int] = Signal("lease_lost")
        #: Jobs handed back unfinished (shutdown, or handed over with no free slot).
        self.handed_back: Signal[int] = Signal("handed_back")
        #: Jobs a producer handed straight to this worker (aqueue/offers.py).
        self.handed_over: Signal[int] = Signal("handed_over")

    def all(self) -> list[Signal[Any]]:
        return [value for value in vars(self).values() if isinstance(value, Signal)]

    def listen(self, listener: Callable[[str, int], None]) -> None:
        """Tell ``listener(name, amount)`` of every emit (the worker's metrics)."""
        for signal in self.all():
            signal.on_emit = listener
