"""Start-up errors print one clear line, never a traceback or a password."""

from __future__ import annotations

import subprocess

import pytest

from tests.acceptance.helpers import ROOT, WORKER
from tests.databases import TestDatabase, admin, fresh_database


def _worker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WORKER, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:hunter2@127.0.0.1:1/app",
        "mysql://app:hunter2@127.0.0.1:1/app",
        "redis://app:hunter2@localhost/0",
        "postgresql://app:hunter2@127.0.0.1:notaport/app",
        # Passwords with URL delimiters, not percent-encoded, and in the query.
        "postgresql://app:hun/ter2#x@127.0.0.1:1/app",
        "mysql://app:p#hunter2/x?y@127.0.0.1:1/app",
        "postgresql://app@127.0.0.1:1/app?password=hunter2",
        "mysql://app@127.0.0.1:1/app?sslmode=require&password=hunter2",
    ],
)
def test_unreachable_or_malformed_dsn(dsn: str) -> None:
    line = _one_line(_worker("tests.apps.recording:queue", "--dsn", dsn))
    assert line.startswith("aqueue-worker: error:")
    assert "hunter2" not in line and "ter2" not in line


@pytest.mark.parametrize(
    ("database", "option", "expected"),
    [
        ("postgresql", "sslmode=require", "rejected SSL upgrade"),
        ("mysql", "ssl_mode=required", "TLS was required"),
        ("mysql", "ssl_mode=preferred", "ssl_mode=preferred cannot be honoured"),
        ("postgresql", "sslmod=require", "unknown postgresql DSN option 'sslmod'"),
    ],
    indirect=["database"],
)
def test_dsn_options_reach_the_driver_or_are_refused(
    database: TestDatabase, option: str, expected: str
) -> None:
    """TLS settings are never dropped: against these servers (TLS off) asking for
    it fails clearly, and a misspelt option is named."""
    line = _one_line(
        _worker("tests.apps.recording:queue", "--burst", "--dsn", f"{database.dsn}?{option}")
    )
    assert expected in line, line


@pytest.mark.parametrize("database", ["postgresql", "mysql"], indirect=True)
def test_the_start_line_hides_the_password(database: TestDatabase, tmp_path: object) -> None:
    """A password with URL delimiters is sent right and never shown."""
    from aqueue.dsn import parse

    parsed = parse(database.dsn)
    secret = "s3/cr#t?x@y"
    user = parsed.user
    if database.backend == "mysql":
        # A user with that password: connecting proves it was sent intact.
        user = "aqueue_pw"
        admin(
            "mysql",
            f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{secret}'",
            f"GRANT ALL ON `{parsed.database}`.* TO '{user}'@'%'",
        )
    port = f":{parsed.port}" if parsed.port else ""
    dsn = (
        f"{parsed.scheme}://{user}:{secret}@{parsed.host}{port}/{parsed.database}"
        "?application_name=aqueue-test&connect_timeout=5"
    )
    # (PostgreSQL here trusts local connections and ignores the password.)
    result = _worker("tests.apps.recording:queue", "--burst", "--dsn", dsn)
    assert result.returncode == 0, result.stderr
    assert "s3" not in result.stderr and "cr#t" not in result.stderr
    assert f"{user}:***@" in result.stderr


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
