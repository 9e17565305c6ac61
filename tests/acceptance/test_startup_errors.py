"""Start-up errors print one clear line, never a traceback or a password."""

from __future__ import annotations

import subprocess

import pytest

from tests.acceptance.helpers import ROOT, WORKER
from tests.databases import TestDatabase, fresh_database


def _worker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WORKER, *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=env)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("dsn", [
    "postgresql://app:hunter2@127.0.0.1:1/app",
    "mysql://app:hunter2@127.0.0.1:1/app",
    "redis://app:hunter2@localhost/0",
    "postgresql://app:hunter2@127.0.0.1:notaport/app",
])
def test_unreachable_or_malformed_dsn(dsn: str) -> None:
    line = _one_line(_worker("tests.apps.recording:queue", "--dsn", dsn))
    assert line.startswith("aqueue-worker: error:")
    assert "hunter2" not in line


def test_unimportable_app() -> None:
    line = _one_line(_worker("tests.apps.no_such_module:queue"))
    assert "cannot import 'tests.apps.no_such_module'" in line
    line = _one_line(_worker("tests.apps.recording:nothing"))
    assert "has no attribute 'nothing'" in line
    line = _one_line(_worker("tests.apps.recording:record"))
    assert "not an aqueue.Queue" in line


@pytest.mark.parametrize("database", ["postgresql", "mysql"], indirect=True)
def test_database_without_schema(database: TestDatabase) -> None:
    dsn = fresh_database(database.backend, "aqueue_test_empty")
    line = _one_line(_worker("tests.apps.recording:queue", "--dsn", dsn))
    assert "tables are missing" in line and "aqueue migrate" in line
