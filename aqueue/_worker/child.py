"""A worker's child process: imports the app once, then runs one job at a
time for the worker that started it (see :mod:`aqueue._worker.processes`).

The child speaks to its worker over one pipe, in tuples:

- worker → child: ``("run", Request)``, ``("stop",)``;
- child → worker: ``("ready", pid)`` or ``("failed", error)`` once at start;
  per job ``("progress", encoded)`` (answered ``("progress", bool)``),
  ``("step", "get" | "put" | "signal", name, value or None)`` (answered
  ``("step", stored or None)`` or ``("step_failed", why)``),
  ``("output", text)`` line by line when the attempt captures, and one
  ``("ok", value, rss)``, ``("retry", error, delay, rss)``,
  ``("snooze", delay, rss)`` or
  ``("error", error, rss)``, where ``error`` is the stored form of what the
  task raised (type, message and the child's own traceback).

It ignores SIGINT (a Ctrl+C at a terminal reaches the whole process group;
the worker decides what stops), and on Linux dies with its worker.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import pickle
import signal
import sys
from typing import TYPE_CHECKING, Any

from aqueue._worker.isolation import Request
from aqueue._worker.output import capturing
from aqueue.context import JobContext
from aqueue.errors import DatabaseUnavailable, Retry, Snooze

if TYPE_CHECKING:
    from multiprocessing.connection import Connection


class _ProgressToWorker:
    """What a child's :class:`JobContext` reports progress and keeps durable
    steps through: the worker writes them, with the attempt's fencing, and
    answers."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def set_progress(self, job_id: str, attempt: int, worker: str, progress: str) -> bool:
        self._conn.send(("progress", progress))
        answer = self._conn.recv()
        return bool(answer[1])

    def _step(self, op: str, name: str, value: str | None) -> str | None:
        self._conn.send(("step", op, name, value))
        answer = self._conn.recv()
        if answer[0] == "step_failed":
            raise DatabaseUnavailable(f"the worker could not keep step {name!r}: {answer[1]}")
        return None if answer[1] is None else str(answer[1])

    async def job_step(self, job_id: str, name: str) -> str | None:
        return self._step("get", name, None)

    async def store_step(
        self, job_id: str, attempt: int, worker: str, name: str, result: str
    ) -> str | None:
        return self._step("put", name, result)

    async def job_signal(self, job_id: str, name: str) -> str | None:
        return self._step("signal", name, None)


class _OutputToWorker:
    """An attempt's output, sent to the worker a line at a time: what the
    worker holds survives this process dying mid-job."""

    #: Characters held back, waiting for the end of their line, at most.
    HOLD = 8192

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._held: list[str] = []
        self._held_size = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._held.append(text)
        self._held_size += len(text)
        if "\n" in text or self._held_size >= self.HOLD:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._held:
            text = "".join(self._held)
            self._held, self._held_size = [], 0
            self._conn.send(("output", text))


def load(spec: str) -> Any:
    """``module:attribute``; an attribute that is a function is called (with
    no arguments) for the object."""
    module_name, _, attribute = spec.partition(":")
    if os.getcwd() not in sys.path:  # as the worker itself finds the app
        sys.path.insert(0, os.getcwd())
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found() if callable(found) and not hasattr(found, "find_task") else found


def resident_bytes() -> int:
    """This process's resident memory now (its peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _die_with_parent() -> None:
    """On Linux, have the kernel SIGKILL this child when its worker dies, so
    that a task running on never outlives a SIGKILLed worker."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # the pipe's end still stops it between jobs


def _run(queue: Any, request: Request, conn: Connection, loop: asyncio.AbstractEventLoop) -> Any:
    task = queue.find_task(request.task)
    if task is None or task.func is None:
        raise LookupError(f"no task {request.task!r} in the child process")
    args: list[Any] = list(request.args)
    if task.takes_context:
        ctx = JobContext(
            request.job_id,
            request.task,
            request.queue,
            request.attempt,
            request.max_attempts,
            request.worker,
            _ProgressToWorker(conn),  # type: ignore[arg-type]  # only set_progress is used
            args=tuple(request.args),
            kwargs=request.kwargs,
            meta=request.meta,
        )
        args.insert(0, ctx)
    if task.is_async:
        return loop.run_until_complete(task.func(*args, **request.kwargs))
    return task.func(*args, **request.kwargs)


def _answer(
    queue: Any, request: Request, conn: Connection, loop: asyncio.AbstractEventLoop
) -> None:
    from aqueue._worker.execution import error_record

    output = _OutputToWorker(conn) if request.capture else None
    failed: tuple[Any, ...] | None = None
    try:
        with capturing(output):
            value = _run(queue, request, conn, loop)
    except Retry as exc:
        failed = ("retry", error_record(exc), exc.delay)
    except Snooze as exc:
        failed = ("snooze", exc.delay)
    except (Exception, SystemExit) as exc:  # SystemExit: a task's sys.exit() fails it alone
        failed = ("error", error_record(exc))
    if output is not None:
        output.flush()  # the last line, even without its newline, before the answer
    if failed is not None:
        conn.send((*failed, resident_bytes()))
        return
    try:
        conn.send(("ok", value, resident_bytes()))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        problem = TypeError(f"the task's result cannot be sent from its process: {exc}")
        conn.send(("error", error_record(problem, False), resident_bytes()))


def main(conn: Connection, app: str, setup: str | None) -> None:
    """The child's life: set up, load ``app``, run jobs until told to stop
    or the worker's end of the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    try:
        if setup is not None:
            load(setup)
        queue = load(app)
    except BaseException as exc:
        from aqueue._worker.execution import error_record

        conn.send(("failed", error_record(exc)))
        return
    conn.send(("ready", os.getpid()))
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the worker is gone
            if message[0] != "run":
                return
            _answer(queue, message[1], conn, loop)
    finally:
        loop.close()
