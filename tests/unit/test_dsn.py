from __future__ import annotations

import pytest

from aqueue.dsn import DEFAULT_DSN, parse, redact, resolve
from aqueue.errors import ConfigurationError


@pytest.mark.parametrize(("dsn", "dialect", "database"), [
    ("postgresql://u:p@h:5433/app", "postgresql", "app"),
    ("postgres://h/app", "postgresql", "app"),
    ("mysql://root@127.0.0.1/test", "mysql", "test"),
    ("mariadb://u:p@db:3307/x", "mysql", "x"),
    ("sqlite:///rel.db", "sqlite", "rel.db"),
    ("sqlite:////abs/path.db", "sqlite", "/abs/path.db"),
    ("sqlite:///:memory:", "sqlite", ":memory:"),
])
def test_parse(dsn: str, dialect: str, database: str) -> None:
    parsed = parse(dsn)
    assert (parsed.dialect, parsed.database) == (dialect, database)


def test_parts_and_redaction() -> None:
    parsed = parse("postgresql://alice:s3cr%40t@db.example:5433/app?sslmode=require")
    assert (parsed.user, parsed.password, parsed.host, parsed.port) == (
        "alice", "s3cr@t", "db.example", 5433)
    assert parsed.options == {"sslmode": "require"}
    assert "s3cr" not in str(parsed) and "s3cr" not in repr(parsed)
    assert redact("mysql://u:pw@h/d") == "mysql://u:***@h/d"
    assert redact("mysql://u@h/d") == "mysql://u@h/d"


@pytest.mark.parametrize("dsn", [
    "redis://u:pw@h/0", "nonsense", "mysql://u:pw@h", "sqlite://host/x.db", "sqlite:///",
    "postgresql://u:pw@h:99999999/d",
])
def test_refused(dsn: str) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        parse(dsn)
    assert "pw@" not in str(excinfo.value)


def test_resolve_prefers_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AQUEUE_DSN", raising=False)
    assert resolve(None) == DEFAULT_DSN == "sqlite:///aqueue.db"
    monkeypatch.setenv("AQUEUE_DSN", "postgresql://h/env")
    assert resolve(None) == "postgresql://h/env"
    assert resolve("mysql://h/arg") == "mysql://h/arg"
