"""A worker's stop, bounded whatever the database does.

The first stop request sets the deadline (``shutdown_timeout`` from then);
every step of the shutdown — the claim in flight, running jobs, the
hand-back, the last outcome writes, leaving the registry, closing the
connections — waits no longer than that (the hand-back always gets a moment
more, since it spares the jobs a wait for their leases). A second request
hurries: from it, every step together gets one second more. A stop still
going after :data:`REPORT_AFTER` seconds logs what every task of the loop is
waiting in, so that a slow stop says what holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aqueue.backends.base import Backend
from aqueue.errors import DatabaseUnavailable
from aqueue.signals import Signal

if TYPE_CHECKING:
    from aqueue._worker.attempts import Attempts
    from aqueue._worker.completer import Completer
    from aqueue._worker.heartbeat import Heartbeat
    from aqueue._worker.lease_keeper import Key
    from aqueue._worker.slots import Slots
    from aqueue._worker.threads import SyncRunner
    from aqueue.offers import Offers

log = logging.getLogger("aqueue.worker")

#: Seconds into a stop after which what is still running is logged.
REPORT_AFTER = 10.0


def waiting_in(task: asyncio.Task[Any]) -> str:
    """Where a task is suspended: the coroutines it awaits, outermost first
    (``function (file:line)``)."""
    where: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(where) < 12:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:  # a future, or a coroutine of C
            where.append(type(awaited).__name__)
            break
        code = frame.f_code
        where.append(f"{code.co_name} ({code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno})")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return " > ".join(where)


def report_pending() -> None:
    """Log what each unfinished task of the running loop waits in."""
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if not t.done() and t is not current]
    log.warning(
        "still stopping after %.0fs; waiting in: %s",
        REPORT_AFTER,
        "; ".join(f"{t.get_name()}: {waiting_in(t)}" for t in pending) or "nothing",
    )


class Stopping:
    """The deadline and the hurry of one worker's stop."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.requested = False
        self.event = asyncio.Event()
        self._hurry = asyncio.Event()
        #: time.monotonic() of the deadline, and of the second stop request.
        self.deadline: float | None = None
        self.hurried_at: float | None = None
        #: When everything, connections included, must be over.
        self.end_by: float | None = None
        self._report: asyncio.TimerHandle | None = None

    def request(self) -> None:
        """A stop request: the first sets the deadline, the second hurries."""
        now = time.monotonic()
        if self.requested:
            if self.hurried_at is None:
                log.warning("second stop request: handing back running jobs now")
                self.hurried_at = now
            self._hurry.set()
        else:
            self.requested = True
            self.deadline = now + self.timeout
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to report on
                self._report = asyncio.get_running_loop().call_later(REPORT_AFTER, report_pending)
        self.event.set()

    def over(self) -> None:
        """The stop is over: nothing left to report."""
        if self._report is not None:
            self._report.cancel()

    def begin(self) -> float:
        """The deadline, set now if no request set it (a burst run that ended)."""
        if self.deadline is None:
            self.deadline = time.monotonic() + self.timeout
        return self.deadline

    def time_left(self) -> float:
        """Seconds left to close connections in, once stopping (the rest of the
        shutdown's time, at least a moment); before that, a few seconds."""
        if self.end_by is None:
            return 3.0
        end = self.end_by
        if self.hurried_at is not None:
            end = min(end, self.hurried_at + 1.0)
        return max(0.05, end - time.monotonic())

    async def within(
        self,
        deadline: float,
        awaitable: Awaitable[Any],
        what: str,
        hurried: float = 1.0,
        log_failure: bool = True,
    ) -> bool:
        """Await until done, the deadline (``time.monotonic()``) or a hurry;
        False if cut short.

        After a second stop request it gets at most ``hurried`` seconds from
        that request (one moment for every step, not one each).
        """
        task = asyncio.ensure_future(awaitable)
        hurry = asyncio.ensure_future(self._hurry.wait())
        try:
            while not task.done():
                end = deadline
                if self.hurried_at is not None:
                    end = min(end, self.hurried_at + hurried)
                left = end - time.monotonic()
                if left <= 0:
                    break
                waiting: list[asyncio.Future[Any]] = [task]
                if not hurry.done():
                    waiting.append(hurry)
                await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurry.cancel()
        if task.done():
            if log_failure and not task.cancelled() and task.exception() is not None:
                log.error("%s failed", what, exc_info=task.exception())
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        log.warning("gave up %s at the shutdown deadline", what)
        return False


async def hand_back(
    backend: Backend, worker: str, keys: Sequence[tuple[str, int]], handed_back: Signal[int]
) -> None:
    """Give back attempts that did not run to their end; retries while the
    database is away (the caller bounds how long)."""
    pause = 0.1
    while True:
        try:
            count = await backend.hand_back(worker, keys)
            handed_back.emit(count, count)
            log.warning("handed back %d unfinished jobs", count)
            return
        except DatabaseUnavailable as exc:
            log.warning("cannot hand back jobs (%s); retrying in %.1fs", exc, pause)
            await asyncio.sleep(pause)
            pause = min(2.0, pause * 2)


async def shut_down(
    stopping: Stopping,
    *,
    offers: Offers | None,
    slots: Slots,
    attempts: Attempts,
    completer: Completer,
    sync: SyncRunner,
    heartbeat: Heartbeat | None,
    giving_back: set[asyncio.Future[None]],
    hand_back: Callable[[Sequence[Key]], Awaitable[None]],
) -> None:
    """A worker's shutdown, each step bounded by ``stopping`` (see the module)."""
    deadline = stopping.begin()
    if offers is not None and offers.enabled:
        # No more hand-overs: withdraw the offer, and give back a job a
        # producer handed over just before (its notification ignored now).
        withdrawing = asyncio.ensure_future(offers.stop())
        if await stopping.within(deadline, withdrawing, "withdrawing the offer"):
            for job in withdrawing.result():
                slots.held[job.key] = job
    # Jobs claimed ahead never started: back to the queue at once, for other
    # workers, rather than after the running jobs' grace period.
    never_started = list(slots.held)
    slots.held.clear()
    held_back = asyncio.ensure_future(hand_back(never_started)) if never_started else None
    if attempts.running:
        log.info(
            "waiting up to %gs for %d running jobs",
            round(max(0.0, deadline - time.monotonic()), 1),
            len(attempts),
        )
        await stopping.within(
            deadline, asyncio.wait(attempts.tasks()), "waiting for running jobs", hurried=0.0
        )
    leftovers = attempts.hand_back_all()
    tasks = [r.task for r in leftovers if r.task is not None]
    if tasks:
        # Let them unwind. One that swallows the cancel and returns has
        # finished: its outcome is written below, it is not handed back.
        await asyncio.wait(tasks, timeout=max(0.05, min(2.0, deadline - time.monotonic())))
    unfinished = [
        r.job.key for r in leftovers if r.task is None or not r.task.done() or r.task.cancelled()
    ]
    # Never less than a moment for the hand-back: it is what spares the jobs a
    # wait for their leases to expire. Everything after it, connections
    # included, is over by then too.
    by = stopping.end_by = max(deadline, time.monotonic() + 1.0)
    if unfinished:
        await stopping.within(by, hand_back(unfinished), "handing back jobs")
    for what, pending in (
        ("held jobs", held_back),
        (
            "jobs handed over with no free slot",
            asyncio.gather(*giving_back) if giving_back else None,
        ),
    ):
        if pending is not None:
            await stopping.within(by, pending, f"handing back {what}")
    completer.close()
    await stopping.within(by, completer.flushed(), "writing outcomes")
    if len(completer):
        log.warning(
            "%d outcomes could not be written before the shutdown deadline; their "
            "jobs run again once their leases expire",
            len(completer),
        )
    if sync.abandoned:
        log.warning(
            "%d sync tasks' threads are still running; they end with the process", sync.abandoned
        )
    if heartbeat is not None:
        await stopping.within(by, heartbeat.deregister(), "leaving the workers registry")
