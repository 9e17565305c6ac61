"""aqueue's pytest plugin as an app's project meets it: loaded by pytest from
the installed entry point, the app's queue named in the ini file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APP = """
import aqueue

queue = aqueue.Queue("postgresql://nobody@127.0.0.1:1/never-used")

@queue.task(name="greet")
async def greet(name: str) -> str:
    return f"hello {name}"
"""

TESTS = """
import aqueue
import app_module
from tests.counting import pending

async def test_recorded_and_drained(aqueue_queue):
    job = await app_module.greet.enqueue("ann")
    assert aqueue_queue.enqueued(task=app_module.greet, args=["ann"])
    assert aqueue_queue.dialect == "sqlite"  # not the app's server
    assert await aqueue_queue.drain() == 1
    assert await job.result(timeout=1) == "hello ann"

async def test_each_test_starts_empty(aqueue_queue):
    assert aqueue_queue.enqueued() == [] and await pending(aqueue_queue) == 0

async def test_eager(aqueue_eager):
    job = await app_module.greet.enqueue("bo")
    assert await job.result(timeout=0) == "hello bo"
"""


def run_pytest(project: Path, ini: str) -> subprocess.CompletedProcess[str]:
    (project / "app_module.py").write_text(APP)
    (project / "test_app.py").write_text(TESTS)
    (project / "pytest.ini").write_text(ini)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_plugin_gives_the_app_queue_on_a_test_database(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "[pytest]\nasyncio_mode = auto\naqueue_app = app_module:queue\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_a_missing_app_is_a_clear_error(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "[pytest]\nasyncio_mode = auto\n")
    assert done.returncode != 0
    assert "aqueue_app" in done.stdout + done.stderr
