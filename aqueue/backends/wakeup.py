"""Wake-ups between processes of one host, for databases without LISTEN.

SQLite's producers and workers share a host and a file, so they can share a
directory beside it too: every listening process (a worker, a producer waiting
for results) binds a Unix datagram socket there, and whoever commits a change
sends one datagram to each. A datagram is only a hint — the reader then asks
the database — so one lost, dropped on a full buffer, or never sent (a
producer on another host) costs a poll interval, never a job.

Messages, like PostgreSQL's channels: ``n<queue> <seconds until due>`` (or
``n*``: anything may be due), ``d<id>,<id>…`` (those jobs ended; ``d`` alone:
some did), ``c<id>`` (a cancel was requested for a running job).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from collections.abc import Iterable
from pathlib import Path

from aqueue.backends.base import CancelHandler, DoneHandler, NewJobHandler

log = logging.getLogger("aqueue.wakeup")

# sockaddr_un.sun_path is 108 bytes on Linux, 104 on macOS, NUL included.
_MAX_SOCKET_PATH = 100
_SUFFIX = "-wake"
# "/<pid>-<8 hex>.sock": pids have at most 7 digits.
_NAME_BYTES = 24
# A datagram stays far below the default socket buffer (~200 KB); ids go 100
# at a time, as on PostgreSQL.
_IDS_PER_MESSAGE = 100
_RECV_BYTES = 65536


def channel_directory(database: str) -> Path | None:
    """Where the sockets of ``database``'s processes live, or None where there
    can be none (an in-memory database, no Unix sockets).

    Beside the database file (``aqueue.db-wake/``) when its path is short
    enough for a socket address — the place every process that opens the file
    can find, even in containers sharing a volume; otherwise a directory in
    the temporary one named by a hash of the file's real path.
    """
    if database == ":memory:" or database.startswith("file:") or not hasattr(socket, "AF_UNIX"):
        return None
    real = os.path.realpath(database)
    beside = Path(real + _SUFFIX)
    if len(os.fsencode(beside)) + _NAME_BYTES <= _MAX_SOCKET_PATH:
        return beside
    # Imported here: tempfile brings shutil, bz2 and lzma (~1.8 MB of a worker).
    import hashlib
    import tempfile

    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:20]
    fallback = Path(tempfile.gettempdir()) / f"aqueue-wake-{digest}"
    return fallback if len(os.fsencode(fallback)) + _NAME_BYTES <= _MAX_SOCKET_PATH else None


class WakeSender:
    """Sends hints to every process listening on one database's directory
    (with no directory, sends nothing: callers need not check)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._sock: socket.socket | None = None
        # The listing is read again only when the directory changes (a
        # process came or went): a stat per send, not a scan.
        self._seen: int | None = None
        self._targets: list[str] = []

    def _refresh(self) -> list[str]:
        if self.directory is None:
            return self._targets
        try:
            changed = os.stat(self.directory).st_mtime_ns
        except OSError:
            self._seen, self._targets = None, []
            return self._targets
        if changed != self._seen:
            self._seen = changed
            with contextlib.suppress(OSError):
                self._targets = [
                    entry.path
                    for entry in os.scandir(self.directory)
                    if entry.name.endswith(".sock")
                ]
        return self._targets

    def send(self, messages: Iterable[str]) -> None:
        """Send each message to every listener; never raises, never blocks."""
        targets = self._refresh()
        if not targets:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        payloads = [message.encode() for message in messages]
        stale: list[str] = []
        for target in targets:
            for payload in payloads:
                try:
                    self._sock.sendto(payload, target)
                except OSError as exc:
                    if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                        stale.append(target)  # its process died without unlinking it
                        break
                    # EAGAIN/ENOBUFS: its buffer is full of hints already.
                    if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS):
                        log.debug("wake-up to %s not sent: %s", target, exc)
                        break
        for target in stale:
            with contextlib.suppress(OSError):
                os.unlink(target)
            self._seen = None

    def anything(self) -> None:
        """Jobs may have become due and others ended (a rescue, a hand-back)."""
        self.send(["n*", "d"])

    def new(self, due: Iterable[tuple[str, float]]) -> None:
        """Jobs were committed: each (queue, seconds until due) of them."""
        self.send(f"n{queue} {max(0.0, delay):.3f}" for queue, delay in due)

    def anything_new(self) -> None:
        self.send(["n*"])

    def done(self, job_ids: list[str] | None) -> None:
        """These jobs ended (None: some did)."""
        if job_ids is None:
            self.send(["d"])
            return
        if job_ids:
            self.send(
                "d" + ",".join(job_ids[i : i + _IDS_PER_MESSAGE])
                for i in range(0, len(job_ids), _IDS_PER_MESSAGE)
            )

    def cancel(self, job_id: str) -> None:
        self.send(["c" + job_id])

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class WakeListener:
    """One process's socket in the directory, read by the event loop."""

    def __init__(
        self,
        directory: Path,
        on_new: NewJobHandler,
        on_done: DoneHandler,
        on_cancel: CancelHandler | None,
    ) -> None:
        self._on_new = on_new
        self._on_done = on_done
        self._on_cancel = on_cancel
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{os.getpid()}-{os.urandom(4).hex()}.sock"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.setblocking(False)
            self._sock.bind(os.fspath(self.path))
        except BaseException:
            self._sock.close()
            raise
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._readable)

    def _readable(self) -> None:
        while True:
            try:
                data = self._sock.recv(_RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("wake-up socket read failed: %s", exc)
                return
            try:
                self._dispatch(data.decode())
            except Exception:  # a hint that cannot be read is ignored; polling covers it
                log.debug("unreadable wake-up %r", data[:80], exc_info=True)

    def _dispatch(self, message: str) -> None:
        kind, text = message[:1], message[1:]
        if kind == "n":
            self._on_new(text)
        elif kind == "d":
            self._on_done(text.split(",") if text else None)
        elif kind == "c" and self._on_cancel is not None and text:
            self._on_cancel(text)

    async def close(self, timeout: float = 2.0) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
