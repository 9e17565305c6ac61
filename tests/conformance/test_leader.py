"""One leader per duty on each backend (aqueue/leader.py): racing candidates
elect one holder, it keeps the lead while it asks in time, a lapsed or
resigned lead passes on with the next term."""

from __future__ import annotations

import asyncio

import aqueue
from aqueue.backends.base import Schedules
from aqueue.leader import Leadership
from tests.databases import TestDatabase


async def test_racing_candidates_elect_one(database: TestDatabase) -> None:
    queues = [aqueue.Queue(database.dsn) for _ in range(4)]
    for q in queues:
        await q.open()
    try:
        bids = []
        for n, q in enumerate(queues):
            assert isinstance(q.backend, Schedules)
            bids += [Leadership(q.backend, "sweep", f"w:{n}:{m}", 60) for m in range(3)]
        won = await asyncio.gather(*(b.held() for b in bids))
        assert won.count(True) == 1
        [leader] = [b for b, w in zip(bids, won, strict=True) if w]
        assert leader.term == 1
        # Asking again keeps it, in the same term; the others stay out.
        assert await asyncio.gather(*(b.held() for b in bids)) == won
        assert leader.term == 1
        # Another duty has a leader of its own.
        assert await Leadership(queues[0].backend, "depths", "w:x", 60).held()  # type: ignore[arg-type]
    finally:
        for q in queues:
            await q.close()


async def test_a_lead_passes_on_with_the_next_term(queue: aqueue.Queue) -> None:
    backend = queue.backend
    assert isinstance(backend, Schedules)
    first = Leadership(backend, "sweep", "w:1", 60)
    second = Leadership(backend, "sweep", "w:2", 60)
    assert await first.held() and not await second.held()
    # A resignation by one that does not lead changes nothing.
    await backend.resign("sweep", "w:2")
    assert await first.held() and first.term == 1
    # Resigned: the next to ask leads, in the next term.
    await first.resign()
    assert first.term is None
    assert await second.held() and second.term == 2
    assert not await first.held()
    # A holder that lets its lead lapse (here: held for no time at all) loses it.
    lapsing = Leadership(backend, "sweep", "w:2", 0)
    assert await lapsing.held()
    assert await first.held() and first.term == 3
    assert not await second.held() and second.term is None
