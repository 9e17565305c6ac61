from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.helpers import WorkerProcess
from tests.databases import TestDatabase


@pytest.fixture
def record_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "record.txt"


@pytest.fixture
def db(database: TestDatabase) -> TestDatabase:
    return database


@pytest.fixture(autouse=True)
def no_worker_left_behind() -> Iterator[None]:
    yield
    while WorkerProcess.started:
        worker = WorkerProcess.started.pop()
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait(10)
