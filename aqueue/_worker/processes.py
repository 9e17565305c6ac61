"""Tasks in child processes: a pool each worker keeps, one job per child at a time.

A task runs in a child when the worker runs every task so (``aqueue-worker
--processes N``) or the task asks for it (``@queue.task(isolation="process")``).
Children are started with ``forkserver`` on Linux and ``spawn`` elsewhere —
never a bare fork of the worker's running event loop — and import the app
once (:mod:`aqueue._worker.child`).

- **A child that dies fails only its attempt**, at once, with
  :class:`~aqueue.WorkerProcessDied` naming its exit code or signal; the
  attempt is retried by the task's policy and a new child takes the next job.
- **Timeouts and cancels stop the child**: SIGTERM, then SIGKILL after
  :data:`GRACE` seconds, and the slot is free again.
- **Recycling**: a child is retired after ``max_tasks`` jobs, or after a job
  that left it above ``max_memory`` bytes — between jobs, never during one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

from aqueue._worker.child import main
from aqueue._worker.isolation import Processes, Progress, Request, Step
from aqueue._worker.output import Sink
from aqueue.errors import Retry, Snooze, WorkerProcessDied

log = logging.getLogger("aqueue.worker")

#: Seconds a child gets to end after SIGTERM before it is SIGKILLed.
GRACE = 0.5


class _StoredError(Exception):
    """What a task raised in its child, already in its stored form."""

    def __init__(self, stored: str) -> None:
        super().__init__("failed in a child process")
        self.stored_error = stored


class _StoredRetry(Retry):
    """A :class:`~aqueue.Retry` the task raised in its child."""

    def __init__(self, stored: str, delay: float) -> None:
        super().__init__(delay)
        self.stored_error = stored


def start_method() -> str:
    """``forkserver`` where it exists and is safe (Linux), else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if sys.platform.startswith("linux") and "forkserver" in methods else "spawn"


class _Child:
    """One child process and the worker's end of its pipe."""

    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.pid: int = process.pid
        self.jobs = 0
        self.rss = 0
        self._messages: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(conn.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            while self.conn.poll():
                self._messages.put_nowait(self.conn.recv())
        except (EOFError, OSError):
            self._loop.remove_reader(self.conn.fileno())
            self._messages.put_nowait(None)  # the child is gone

    async def receive(self) -> tuple[Any, ...]:
        message = await self._messages.get()
        if message is None:
            raise await self._died()
        return message

    async def _died(self) -> WorkerProcessDied:
        await asyncio.to_thread(self.process.join, 2.0)
        return WorkerProcessDied(
            f"the process running the task died ({describe_exit(self.process.exitcode)})"
        )

    async def run(
        self, request: Request, progress: Progress, output: Sink | None, step: Step | None
    ) -> Any:
        self.jobs += 1
        try:
            self.conn.send(("run", request))
        except (OSError, ValueError):
            raise await self._died() from None
        while True:
            message = await self.receive()
            kind = message[0]
            if kind == "output":
                if output is not None:
                    output.write(message[1])
                continue
            if kind == "progress":
                try:
                    owned = await progress(message[1])
                except Exception as exc:  # the database is away: the job goes on
                    log.warning("progress of a job in process %s not written: %s", self.pid, exc)
                    owned = False
                self.conn.send(("progress", owned))
                continue
            if kind == "step":
                try:
                    stored = None if step is None else await step(*message[1:])
                except Exception as exc:  # the task sees it, as it would in the worker
                    self.conn.send(("step_failed", f"{type(exc).__name__}: {exc}"))
                    continue
                self.conn.send(("step", stored))
                continue
            self.rss = message[-1]
            if kind == "ok":
                return message[1]
            if kind == "retry":
                raise _StoredRetry(message[1], message[2])
            if kind == "snooze":
                raise Snooze(message[1])
            raise _StoredError(message[1])

    def alive(self) -> bool:
        return self.process.is_alive() and not self.conn.closed

    async def stop(self, kill: bool) -> None:
        """End the child: asked to stop (between jobs) or, with ``kill``,
        SIGTERM then SIGKILL after :data:`GRACE` seconds."""
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self.conn.fileno())
        if not kill and self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(("stop",))
            await asyncio.to_thread(self.process.join, GRACE)
        if self.process.is_alive():
            self.process.terminate()
            await asyncio.to_thread(self.process.join, GRACE)
        if self.process.is_alive():
            self.process.kill()
            await asyncio.to_thread(self.process.join, 5.0)
        self.conn.close()
        with contextlib.suppress(ValueError):
            self.process.close()


def describe_exit(code: int | None) -> str:
    """``exit code 1``, ``killed by SIGSEGV (signal 11)``."""
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"killed by {name} (signal {-code})"
    return f"exit code {code}"


class ProcessPool:
    """The worker's children: started on demand, at most ``size`` busy."""

    def __init__(self, options: Processes) -> None:
        self.options = options
        self.size = options.size or multiprocessing.cpu_count()
        self._context: Any = multiprocessing.get_context(start_method())
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._free = asyncio.Semaphore(self.size)
        self._retiring: set[asyncio.Future[None]] = set()

    async def run(
        self,
        request: Request,
        progress: Progress,
        output: Sink | None = None,
        step: Step | None = None,
    ) -> Any:
        """Run ``request`` in a free child, its output (if it captures) to
        ``output``, its durable steps through ``step``; a cancel (timeout, cancel request,
        shutdown) kills the child, and a dead child fails the attempt."""
        async with self._free:
            child = self._idle.pop() if self._idle else await self._start()
            self._busy.add(child)
            try:
                value = await child.run(request, progress, output, step)
            except (_StoredError, Retry, Snooze):
                self._keep_or_retire(child)
                raise
            except BaseException:  # cancelled, or the child died: it is not reused
                self._busy.discard(child)
                await asyncio.shield(child.stop(kill=True))
                raise
            self._keep_or_retire(child)
            return value

    def _keep_or_retire(self, child: _Child) -> None:
        self._busy.discard(child)
        options = self.options
        spent = options.max_tasks is not None and child.jobs >= options.max_tasks
        big = options.max_memory is not None and child.rss > options.max_memory
        if spent or big or not child.alive():
            why = "its job count" if spent else "its memory" if big else "its exit"
            log.info("child process %s retired after %d jobs (%s)", child.pid, child.jobs, why)
            retiring = asyncio.ensure_future(child.stop(kill=False))
            self._retiring.add(retiring)
            retiring.add_done_callback(self._retiring.discard)
        else:
            self._idle.append(child)

    async def _start(self) -> _Child:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=main,
            args=(theirs, self.options.app, self.options.setup),
            name="aqueue-child",
            daemon=True,
        )
        await asyncio.to_thread(process.start)
        theirs.close()  # the child holds its end: its exit is our end's EOF
        child = _Child(process, ours)
        try:
            first = await child.receive()
        except WorkerProcessDied as exc:
            await child.stop(kill=True)
            raise WorkerProcessDied(f"a child process could not start: {exc}") from None
        if first[0] != "ready":
            await child.stop(kill=True)
            raise _StoredError(first[1])
        return child

    async def close(self) -> None:
        """Stop every child (idle ones asked, busy ones killed)."""
        idle, busy = self._idle, list(self._busy)
        self._idle, self._busy = [], set()
        await asyncio.gather(
            *(c.stop(kill=False) for c in idle),
            *(c.stop(kill=True) for c in busy),
            *self._retiring,
        )
