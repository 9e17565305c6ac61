"""Leadership: one worker at a time for a duty that wants a single holder.

Retention's sweeps and the metrics' reads of queue depths should be done by
one worker, not by each. The holder of a duty is a row in ``aqueue_leaders``:
its name, a term, and an expiry. A worker asks for the lead before each
round of the duty (:meth:`Leadership.held`): it gets it when nobody holds it
or the holder let it lapse (then the term grows by one), and keeps it by
asking again before it lapses. A holder that dies, or stalls past the
expiry, loses the lead at the next worker's election; it finds out at its
own next election and stops. While a lead passes two holders may overlap by
one round, which both duties tolerate (a sweep deletes what is past its age
whoever runs it; depths are read-only).
"""

from __future__ import annotations

import logging

from aqueue.backends.base import Schedules
from aqueue.service import Service

log = logging.getLogger("aqueue.worker")


class Leadership:
    """``candidate``'s bid for the lead of ``duty``, held ``ttl`` seconds at a time."""

    def __init__(self, backend: Schedules, duty: str, candidate: str, ttl: float) -> None:
        self._backend = backend
        self.duty = duty
        self.candidate = candidate
        self.ttl = ttl
        #: The term this candidate holds, or None while it does not lead.
        self.term: int | None = None

    async def held(self) -> bool:
        """Take or keep the lead now; whether this candidate has it."""
        holder, term = await self._backend.elect(self.duty, self.candidate, self.ttl)
        self.term = term if holder == self.candidate else None
        return self.term is not None

    async def resign(self) -> None:
        """Give the lead up (at shutdown), so that another takes it at once."""
        if self.term is not None:
            self.term = None
            await self._backend.resign(self.duty, self.candidate)


class LedService(Service):
    """A service that only the leader of its duty carries out (see
    :class:`Leadership`); stopping it gives the lead up."""

    #: The bid for the lead, or None where one process alone does the duty.
    leadership: Leadership | None = None

    async def stop(self) -> None:
        await super().stop()
        if self.leadership is None:
            return
        try:
            await self.leadership.resign()  # another worker takes it at once
        except Exception as exc:
            log.debug("could not give up the lead to %s: %s", self.duty, exc)
