from __future__ import annotations

import pytest

from aqueue.dsn import DEFAULT_DSN, parse, redact, resolve
from aqueue.errors import ConfigurationError


@pytest.mark.parametrize(
    ("dsn", "dialect", "database"),
    [
        ("postgresql://u:p@h:5433/app", "postgresql", "app"),
        ("postgres://h/app", "postgresql", "app"),
        ("mysql://root@127.0.0.1/test", "mysql", "test"),
        ("mariadb://u:p@db:3307/x", "mysql", "x"),
        ("sqlite:///rel.db", "sqlite", "rel.db"),
        ("sqlite:////abs/path.db", "sqlite", "/abs/path.db"),
        ("sqlite:///:memory:", "sqlite", ":memory:"),
    ],
)
def test_parse(dsn: str, dialect: str, database: str) -> None:
    parsed = parse(dsn)
    assert (parsed.dialect, parsed.database) == (dialect, database)


def test_parts_and_redaction() -> None:
    parsed = parse("postgresql://alice:s3cr%40t@db.example:5433/app?sslmode=require")
    assert (parsed.user, parsed.password, parsed.host, parsed.port) == (
        "alice",
        "s3cr@t",
        "db.example",
        5433,
    )
    assert parsed.options == {"sslmode": "require"}
    assert "s3cr" not in str(parsed) and "s3cr" not in repr(parsed)
    assert redact("mysql://u:pw@h/d") == "mysql://u:***@h/d"
    assert redact("mysql://u@h/d") == "mysql://u@h/d"


@pytest.mark.parametrize(
    "dsn",
    [
        "redis://u:pw@h/0",
        "nonsense",
        "mysql://u:pw@h",
        "sqlite://host/x.db",
        "sqlite:///",
        "postgresql://u:pw@h:99999999/d",
    ],
)
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


@pytest.mark.parametrize(
    ("dsn", "password", "host", "database"),
    [
        ("postgresql://u:pa/ss#1?@db:5433/app", "pa/ss#1?", "db", "app"),
        ("mysql://u:p@ss@w0rd@db/app", "p@ss@w0rd", "db", "app"),
        ("postgresql://u@db/app?password=s%26cret", "s&cret", "db", "app"),
        ("postgresql://u:a%2Fb@[::1]:5432/app", "a/b", "::1", "app"),
    ],
)
def test_passwords_with_delimiters_parse_and_never_show(
    dsn: str, password: str, host: str, database: str
) -> None:
    parsed = parse(dsn)
    assert (parsed.password, parsed.host, parsed.database) == (password, host, database)
    assert "password" not in parsed.options
    for shown in (str(parsed), repr(parsed)):
        assert password not in shown and "***" in shown
    assert password not in redact(dsn)


def test_secret_query_options_are_hidden() -> None:
    parsed = parse("postgresql://u@h/db?sslmode=verify-full&sslkey=/k.pem&application_name=a")
    assert str(parsed) == ("postgresql://u@h/db?sslmode=verify-full&sslkey=***&application_name=a")


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("postgresql://h/db?sslmod=require", "unknown postgresql DSN option 'sslmod'"),
        ("postgresql://h/db?sslmode=always", "sslmode must be one of"),
        ("mysql://h/db?ssl_mode=preferred", "ssl_mode=preferred cannot be honoured"),
        ("mysql://h/db?ssl=maybe", "ssl must be true or false"),
        ("mysql://h/db?connect_timeout=soon", "connect_timeout must be seconds"),
        ("sqlite:///a.db?synchronous=sometimes", "synchronous must be one of"),
        ("sqlite:///a.db?journal_mode=delete", "unknown sqlite DSN option"),
    ],
)
def test_options_are_checked(dsn: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse(dsn)


def test_options_map_to_each_driver() -> None:
    import ssl

    from aqueue.dsn import mysql_options, postgres_options

    assert postgres_options(
        parse("postgresql://h/db?sslmode=require&connect_timeout=3&application_name=web")
    ) == {"ssl": "require", "timeout": 3.0, "server_settings": {"application_name": "web"}}
    assert mysql_options(parse("mysql://h/db?ssl_mode=disabled&connect_timeout=2")) == {
        "connect_timeout": 2.0
    }
    required = mysql_options(parse("mysql://h/db?ssl=true&application_name=web"))
    assert isinstance(required["ssl"], ssl.SSLContext)
    assert required["ssl"].verify_mode == ssl.CERT_NONE and required["program_name"] == "web"
    identity = mysql_options(parse("mysql://h/db?ssl_mode=verify_identity"))["ssl"]
    assert identity.check_hostname and identity.verify_mode == ssl.CERT_REQUIRED
