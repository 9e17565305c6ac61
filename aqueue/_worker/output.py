"""Captured output: what an attempt prints and logs, kept with its job.

A task that captures (``@queue.task(capture_output=True)``, and by default
every task that runs in a child process) has what each attempt writes to
``sys.stdout`` and ``sys.stderr``, and the ``logging`` records that reach the
root logger, kept with that attempt and shown by ``aqueue logs JOB``, the
JSON API and the dashboard. Writes straight to the file descriptors (C code,
subprocesses) are not seen, nor is what threads the task starts itself write.

Jobs run side by side in one worker, so capture cannot swap ``sys.stdout``
per job: the streams are replaced once by proxies that write to the running
attempt's buffer when the code belongs to one — a context variable, which
asyncio tasks and the worker's threads inherit — and to the real stream
otherwise. A child process streams its attempt's lines to the worker as they
come (:mod:`aqueue._worker.child`), so a child that dies keeps what it wrote.

Bounded: an attempt keeps its first and last ``limit / 2`` bytes, with a
marker saying how much was cut between them. The output rides on the
attempt's :class:`~aqueue.records.Outcome` and is stored with it, in the same
transaction: a job seen ended has its output, and keeping it costs no write
of its own.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from aqueue import serialization
from aqueue.errors import UnknownTask
from aqueue.records import AttemptOutput, ClaimedJob

if TYPE_CHECKING:
    from aqueue._worker.isolation import Isolated
    from aqueue.queue import Queue

log = logging.getLogger("aqueue.worker")

#: Bytes of output kept per attempt unless the worker is told otherwise.
DEFAULT_LIMIT = 64 * 1024
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Sink(Protocol):
    def write(self, text: str) -> int: ...


_current: ContextVar[Sink | None] = ContextVar("aqueue_output", default=None)


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _first(text: str, limit: int) -> str:
    """The longest start of ``text`` within ``limit`` bytes."""
    return text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


def _last(text: str, limit: int) -> str:
    """The longest end of ``text`` within ``limit`` bytes."""
    data = text.encode("utf-8", "surrogatepass")
    return data[len(data) - limit :].decode("utf-8", "ignore") if limit > 0 else ""


def storable(text: str) -> str:
    """Text every database stores: lone surrogates and NUL escaped
    (PostgreSQL's text has no NUL)."""
    return serialization.storable_text(text).replace("\x00", "\\x00")


class Captured:
    """One attempt's output: its first and last ``limit / 2`` bytes."""

    def __init__(self, job_id: str, attempt: int, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 2:
            raise ValueError(f"the output limit must be at least 2 bytes, not {limit}")
        self.id = str(uuid.uuid4())
        self.job_id = job_id
        self.attempt = attempt
        self._half = limit // 2
        self._head: list[str] = []
        self._head_bytes = 0
        self._tail: deque[str] = deque()
        self._tail_bytes = 0
        #: Bytes left out between the first and the last part.
        self.cut = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        written = len(text)
        size = _size(text)
        room = self._half - self._head_bytes
        if room > 0:
            if size <= room:
                self._head.append(text)
                self._head_bytes += size
                return written
            part = _first(text, room)
            self._head.append(part)
            self._head_bytes = self._half  # full: the rest goes to the tail
            text = text[len(part) :]
            size = _size(text)
        self._tail.append(text)
        self._tail_bytes += size
        while self._tail_bytes > self._half:
            first = self._tail[0]
            first_bytes = _size(first)
            excess = self._tail_bytes - self._half
            if first_bytes <= excess:
                self._tail.popleft()
                self._tail_bytes -= first_bytes
                self.cut += first_bytes
            else:
                kept = _last(first, first_bytes - excess)
                dropped = first_bytes - _size(kept)
                self._tail[0] = kept
                self._tail_bytes -= dropped
                self.cut += dropped
        return written

    def entry(self) -> AttemptOutput | None:
        """What to store: None when the attempt wrote nothing."""
        if not self._head and not self._tail:
            return None
        text = "".join(self._head)
        if self.cut:
            text += f"\n[... {self.cut} bytes of output cut here ...]\n"
        text += "".join(self._tail)
        return AttemptOutput(self.id, self.job_id, self.attempt, storable(text), self.cut)


class _Stream:
    """``sys.stdout`` or ``sys.stderr``: the running attempt's sink, if any,
    else the stream it replaced."""

    def __init__(self, original: TextIO) -> None:
        self._original = original

    def write(self, text: str) -> int:
        sink = _current.get()
        if sink is None:
            return self._original.write(text)
        return sink.write(text)

    def writelines(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        sink = _current.get()
        if sink is None:
            self._original.flush()
        elif (flush := getattr(sink, "flush", None)) is not None:
            flush()  # a child's sink sends what it holds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _Handler(logging.Handler):
    """On the root logger: records emitted by a capturing attempt go to its sink."""

    def emit(self, record: logging.LogRecord) -> None:
        sink = _current.get()
        if sink is None:
            return
        try:
            sink.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_handler = _Handler()
_handler.setFormatter(logging.Formatter(LOG_FORMAT))


def install() -> None:
    """Put the proxies in place (again, if something replaced them since)."""
    if not isinstance(sys.stdout, _Stream):
        sys.stdout = _Stream(sys.stdout)
    if not isinstance(sys.stderr, _Stream):
        sys.stderr = _Stream(sys.stderr)
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)


@contextlib.contextmanager
def capturing(sink: Sink | None) -> Iterator[None]:
    """Send what the code inside writes and logs to ``sink`` (None: nothing changes)."""
    if sink is None:
        yield
        return
    install()
    token = _current.set(sink)
    try:
        yield
    finally:
        _current.reset(token)


class Capture:
    """Which of a worker's attempts capture their output (see the module)."""

    def __init__(self, queue: Queue, processes: Isolated | None, limit: int) -> None:
        if limit < 2:
            raise ValueError(f"output_limit must be at least 2 bytes, not {limit}")
        self._queue = queue
        self._processes = processes
        self.limit = limit
        self._wanted: dict[str, bool] = {}

    def start(self, job: ClaimedJob) -> Captured | None:
        wanted = self._wanted.get(job.task)
        if wanted is None:
            # Once per task name: a resolver (Django's) is not asked twice per job.
            try:
                task = self._queue.find_task(job.task)
            except UnknownTask:  # fails the job where it runs
                return None
            if task is None:
                return None
            wanted = task.capture_output
            if wanted is None:
                wanted = self._processes is not None and self._processes.wants(task.isolation)
            self._wanted[job.task] = wanted
        return Captured(job.id, job.attempts, self.limit) if wanted else None
