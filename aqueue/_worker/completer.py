"""Batches finished attempts into few ``complete_jobs`` calls, and never wedges.

A job stays ``running``, its lease renewed, until its outcome is written, so a
crash in between only means the job runs again: at-least-once holds.

What can go wrong with a write, and what the completer does:

- The database is away (:class:`DatabaseUnavailable`): keep the outcomes and
  retry with backoff. Their leases are renewed meanwhile (or expire, if the
  database stays away longer than a lease, and the jobs are rescued).
- The database refuses the batch (anything else): one outcome may be
  unwritable, and it must not block the others. The batch is split in halves
  and each half written on its own, down to the one outcome that fails. That
  one is replaced by a plain ``failed`` outcome that says why; if even that
  cannot be written, it is given up: its lease is no longer renewed, so the
  job is rescued like a crashed worker's.
- The backlog is bounded: the worker stops claiming while it is over
  ``max_backlog`` (see ``Worker``), so an outage cannot grow memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from aqueue import serialization
from aqueue.backends.base import Backend
from aqueue.errors import DatabaseUnavailable
from aqueue.records import JobStatus, Outcome

log = logging.getLogger("aqueue.worker")


def unwritable_outcome(outcome: Outcome, exc: BaseException) -> Outcome:
    """The plain failure stored instead of an outcome the database refused."""
    message = (
        f"the attempt's outcome ({outcome.status.value}) could not be stored: "
        f"{type(exc).__name__}: {exc}"
    )
    error = serialization.encode(serialization.error_fields("UnstorableOutcome", message, None))
    return Outcome(outcome.id, outcome.attempts, JobStatus.FAILED, error=error)


class Completer:
    """Buffers outcomes and writes them in batches (up to ``max_batch``, or after
    ``max_delay`` seconds)."""

    def __init__(
        self,
        backend: Backend,
        worker: str,
        on_written: Callable[[list[str]], None],
        max_batch: int = 100,
        max_delay: float = 0.002,
        on_write_time: Callable[[int, float], None] | None = None,
    ) -> None:
        self._backend = backend
        self._worker = worker
        self._on_written = on_written
        self._max_batch = max_batch
        self._max_delay = max_delay
        #: Told the size and seconds of each write that succeeded (for metrics).
        self.on_write_time = on_write_time
        self._buffer: list[Outcome] = []
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        #: Outcomes given up on (see the module's docstring); for tests and logs.
        self.given_up: list[Outcome] = []

    def __len__(self) -> int:
        return len(self._buffer)

    def pending_keys(self) -> list[tuple[str, int]]:
        """Attempts whose outcome is not written yet: their leases must still be renewed."""
        return [o.key for o in self._buffer]

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
                await self._write(batch)
            except DatabaseUnavailable as exc:
                log.warning(
                    "cannot record %d outcomes, retrying in %.2fs: %s", len(batch), backoff, exc
                )
                await asyncio.sleep(backoff)
                backoff = min(5.0, backoff * 2)
                continue
            backoff = 0.05

    async def _write(self, batch: Sequence[Outcome]) -> None:
        """Write ``batch``, splitting it around outcomes the database refuses.

        What is written leaves the buffer; on :class:`DatabaseUnavailable` the
        rest stays in it, to be retried.
        """
        began = time.perf_counter()
        try:
            fenced = await self._backend.complete_jobs(self._worker, batch)
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            if len(batch) > 1:
                middle = len(batch) // 2
                await self._write(batch[:middle])
                await self._write(batch[middle:])
                return
            await self._replace(batch[0], exc)
            return
        if self.on_write_time is not None:
            self.on_write_time(len(batch), time.perf_counter() - began)
        self._written(batch, fenced)

    async def _replace(self, outcome: Outcome, exc: BaseException) -> None:
        log.error(
            "job %s attempt %d: the database refused its outcome (%s: %s); "
            "storing it as failed instead",
            outcome.id,
            outcome.attempts,
            type(exc).__name__,
            exc,
        )
        plain = unwritable_outcome(outcome, exc)
        try:
            fenced = await self._backend.complete_jobs(self._worker, [plain])
        except DatabaseUnavailable:
            raise
        except Exception as again:
            # Never retry it forever: stop renewing its lease and let the
            # rescue take the job, as after a crash.
            log.error(
                "job %s attempt %d: cannot store any outcome (%s); giving it up to lease expiry",
                outcome.id,
                outcome.attempts,
                again,
            )
            self.given_up.append(outcome)
            self._remove([outcome])
            return
        self._remove([outcome])
        self._announce([plain], fenced)

    def _remove(self, batch: Sequence[Outcome]) -> None:
        count = len(batch)
        if all(a is b for a, b in zip(self._buffer[:count], batch, strict=False)):
            del self._buffer[:count]  # the usual case: the batch is the buffer's head
        else:
            done = {id(o) for o in batch}
            self._buffer = [o for o in self._buffer if id(o) not in done]

    def _written(self, batch: Sequence[Outcome], fenced: Sequence[str]) -> None:
        self._remove(batch)
        self._announce(batch, fenced)

    def _announce(self, batch: Sequence[Outcome], fenced: Sequence[str]) -> None:
        lost = set(fenced)
        for job_id in fenced:
            log.warning(
                "job %s: outcome discarded, this worker no longer holds the job "
                "(its lease expired and it was rescued)",
                job_id,
            )
        self._on_written([o.id for o in batch if o.id not in lost])

    async def flushed(self) -> None:
        """Wait until every outcome added so far is written (or given up)."""
        await self._idle.wait()

    def close(self) -> None:
        """Write what is buffered, then let :meth:`run` return."""
        self._closing = True
        self._ready.set()
