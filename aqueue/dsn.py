"""Parse and redact database URLs (DSNs)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from aqueue.errors import ConfigurationError

Dialect = Literal["postgresql", "mysql", "sqlite"]

DEFAULT_DSN = "sqlite:///aqueue.db"
ACCEPTED = "postgresql://, postgres://, mysql://, mariadb://, sqlite:///relative.db, sqlite:////abs.db"
_SCHEMES: dict[str, Dialect] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}


@dataclass(frozen=True)
class DSN:
    """A parsed DSN. ``str(dsn)`` and ``repr(dsn)`` never show the password."""

    raw: str
    dialect: Dialect
    host: str | None
    port: int | None
    user: str | None
    password: str | None
    database: str
    options: dict[str, str]

    def __str__(self) -> str:
        return redact(self.raw)

    def __repr__(self) -> str:
        return f"DSN({redact(self.raw)!r})"


def redact(dsn: str) -> str:
    """Return ``dsn`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(dsn)
        netloc = parts.netloc
    except ValueError:
        return "<unparseable DSN>"
    if "@" not in netloc:
        return dsn
    userinfo, _, hostinfo = netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{hostinfo}"))


def resolve(dsn: str | None) -> str:
    """The DSN to use: the one given, else ``AQUEUE_DSN``, else the SQLite default."""
    return dsn or os.environ.get("AQUEUE_DSN") or DEFAULT_DSN


def parse(dsn: str) -> DSN:
    """Parse ``dsn`` or raise :class:`ConfigurationError` naming the accepted schemes."""
    if not isinstance(dsn, str) or "://" not in dsn:
        shown = redact(dsn) if isinstance(dsn, str) else type(dsn).__name__
        raise ConfigurationError(f"malformed DSN {shown!r}: expected one of {ACCEPTED}")
    scheme = dsn.split("://", 1)[0].lower()
    dialect = _SCHEMES.get(scheme.split("+", 1)[0])
    if dialect is None:
        raise ConfigurationError(
            f"unsupported DSN scheme {scheme!r} in {redact(dsn)!r}: expected one of {ACCEPTED}"
        )
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"malformed DSN {redact(dsn)!r}: {exc}") from None
    options = dict(parse_qsl(parts.query))
    if dialect == "sqlite":
        if parts.netloc:
            raise ConfigurationError(
                f"malformed SQLite DSN {redact(dsn)!r}: use sqlite:///relative.db or "
                "sqlite:////absolute/path.db (three or four slashes)"
            )
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        if not path:
            raise ConfigurationError(f"malformed SQLite DSN {dsn!r}: no file name")
        return DSN(dsn, dialect, None, None, None, None, path, options)
    database = unquote(parts.path.lstrip("/"))
    if dialect == "mysql" and not database:
        raise ConfigurationError(f"malformed DSN {redact(dsn)!r}: no database name")
    return DSN(
        raw=dsn,
        dialect=dialect,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        database=database,
        options=options,
    )
