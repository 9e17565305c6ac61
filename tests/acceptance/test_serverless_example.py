"""The serverless example end to end: its trigger app served by uvicorn in a
process of its own, its scheduled handler draining the queue through HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import aqueue
from examples.serverless import scheduler

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "serverless-example-token-0123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    dsn = f"sqlite:///{tmp_path / 'jobs.db'}"
    port = free_port()
    env = {**os.environ, "AQUEUE_DSN": dsn, "AQUEUE_TRIGGER_TOKEN": TOKEN}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "examples.serverless.app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        monkeypatch.setenv("AQUEUE_TRIGGER_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AQUEUE_TRIGGER_TOKEN", TOKEN)
        yield dsn
    finally:
        server.terminate()
        server.wait(10)


async def test_the_scheduled_handler_drains_the_queue(served: str) -> None:
    producer = aqueue.Queue(served)
    async with producer:
        jobs = await producer.enqueue_many(
            [
                producer.task_named("serverless.resize").prepare(f"img{i}.png", 320)
                for i in range(120)
            ]
        )
    # The handler blocks (urllib), as on a function platform: run it in a thread.
    outcome = await asyncio.to_thread(scheduler.handler, {}, None)
    assert outcome == {"processed": 120, "pending": 0}
    async with producer:
        assert await jobs[7].result(timeout=5) == "img7.png@320w"
