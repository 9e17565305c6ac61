"""Batches finished attempts into few ``complete_jobs`` calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aqueue.backends.base import Backend
from aqueue.errors import DatabaseUnavailable
from aqueue.records import Outcome

log = logging.getLogger("aqueue.worker")


class Completer:
    """Buffers outcomes and writes them in batches (up to ``max_batch``, or after
    ``max_delay`` seconds). A job stays ``running`` with its lease renewed until
    its outcome is written, so a crash in between only means the job runs again:
    at-least-once holds. Nothing is dropped while the database is away."""

    def __init__(
        self,
        backend: Backend,
        worker: str,
        on_written: Callable[[list[str]], None],
        max_batch: int = 100,
        max_delay: float = 0.002,
    ) -> None:
        self._backend = backend
        self._worker = worker
        self._on_written = on_written
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._buffer: list[Outcome] = []
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False

    def __len__(self) -> int:
        return len(self._buffer)

    def pending_ids(self) -> list[str]:
        """Jobs whose outcome is not written yet: their leases must still be renewed."""
        return [o.id for o in self._buffer]

    def add(self, outcome: Outcome) -> None:
        self._buffer.append(outcome)
        self._idle.clear()
        self._ready.set()

    async def run(self) -> None:
        """Write batches until :meth:`close` is called and the buffer is empty."""
        backoff = 0.05
        while True:
            if not self._buffer:
                self._idle.set()
                if self._closing:
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            if len(self._buffer) < self._max_batch and not self._closing:
                # Let the jobs finishing alongside this one join its batch.
                await asyncio.sleep(self._max_delay)
            batch = self._buffer[: self._max_batch]
            try:
                fenced = await self._backend.complete_jobs(self._worker, batch)
            except Exception as exc:
                # Never drop an outcome: keep it (its lease is still renewed) and retry.
                if isinstance(exc, DatabaseUnavailable):
                    log.warning("cannot record %d outcomes, retrying in %.2fs: %s",
                                len(batch), backoff, exc)
                else:
                    log.exception("unexpected error recording %d outcomes; retrying in %.2fs",
                                  len(batch), backoff)
                await asyncio.sleep(backoff)
                backoff = min(5.0, backoff * 2)
                continue
            backoff = 0.05
            del self._buffer[: len(batch)]
            lost = set(fenced)
            for job_id in fenced:
                log.warning("job %s: outcome discarded, this worker no longer holds the job "
                            "(its lease expired and it was rescued)", job_id)
            self._on_written([o.id for o in batch if o.id not in lost])

    async def flushed(self) -> None:
        """Wait until every outcome added so far is written."""
        await self._idle.wait()

    def close(self) -> None:
        self._closing = True
        self._ready.set()
