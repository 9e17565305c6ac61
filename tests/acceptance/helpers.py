"""Start and watch real ``aqueue-worker`` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aqueue
from aqueue.records import JobFilter

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
WORKER = str(Path(sys.executable).with_name("aqueue-worker"))
ADMIN = str(Path(sys.executable).with_name("aqueue"))


def admin(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the ``aqueue`` command; its exit code and output."""
    return subprocess.run(
        [ADMIN, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=timeout,
    )


class WorkerProcess:
    #: Every process started, so that a failing test never leaves one running.
    started: list[WorkerProcess] = []

    def __init__(
        self,
        dsn: str,
        record: Path,
        *args: str,
        log: Path | None = None,
        app: str = "tests.apps.recording:queue",
    ) -> None:
        env = {
            **os.environ,
            "AQUEUE_DSN": dsn,
            "AQUEUE_TEST_RECORD": str(record),
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log or record.with_suffix(f".{time.monotonic_ns()}.log")
        self._log_file = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [WORKER, app, *args],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        WorkerProcess.started.append(self)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker never printed {text!r}:\n{self.output()}")
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log_file.close()

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(
                f"worker did not exit within {timeout}s:\n{self.output()}"
            ) from None
        finally:
            self._log_file.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait(30)


def records(path: Path) -> list[tuple[str, str, int]]:
    if not path.exists():
        return []
    rows = []
    text = path.read_text()
    # A line being appended may be read half-written: only whole lines count.
    for line in text[: text.rfind("\n") + 1].splitlines():
        kind, job_id, attempt, _pid = line.split()
        rows.append((kind, job_id, int(attempt)))
    return rows


def done_counts(path: Path) -> Counter[str]:
    return Counter(job_id for kind, job_id, _ in records(path) if kind == "done")


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def enqueue_records(dsn: str, count: int, sleep: float = 0.0) -> list[str]:
    from tests.apps.recording import record

    queue = aqueue.Queue(dsn)
    async with queue:
        jobs = await queue.enqueue_many([record.prepare(n, sleep) for n in range(count)])
    return [job.id for job in jobs]


async def statuses(dsn: str) -> dict[str, aqueue.JobInfo]:
    queue = aqueue.Queue(dsn)
    async with queue:
        jobs = await queue.jobs.list(JobFilter(limit=1_000_000))
    return {job.id: job for job in jobs}
