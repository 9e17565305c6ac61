"""The aqueue DSN of a Django ``DATABASES`` entry."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aqueue.errors import ConfigurationError

_SCHEMES = {"postgresql": "postgresql", "mysql": "mysql"}


def vendor_of(engine: str) -> str:
    """``postgresql``, ``mysql`` or ``sqlite`` for a Django ENGINE (or a subclass's
    module named like them, e.g. ``django.contrib.gis.db.backends.postgis``)."""
    last = engine.rsplit(".", 1)[-1]
    if last in ("postgresql", "postgis", "postgresql_psycopg2"):
        return "postgresql"
    if last == "mysql":
        return "mysql"
    if last in ("sqlite3", "spatialite"):
        return "sqlite"
    raise ConfigurationError(
        f"aqueue cannot use the database engine {engine!r}: PostgreSQL, MySQL/MariaDB and "
        f"SQLite are supported; give OPTIONS['dsn'] to use another database"
    )


def dsn_from_django(settings: Mapping[str, Any]) -> str:
    """The DSN of the database a ``DATABASES`` entry names (its credentials
    included: the DSN is never shown as is, see :mod:`aqueue.dsn`)."""
    vendor = vendor_of(str(settings.get("ENGINE", "")))
    name = settings.get("NAME")
    if vendor == "sqlite":
        if not name or str(name) == ":memory:" or str(name).startswith("file:"):
            raise ConfigurationError(
                "aqueue needs a SQLite database file shared by the web "
                "and worker processes, not an in-memory one"
            )
        return f"sqlite:///{Path(str(name)).resolve()}"
    user = quote(str(settings.get("USER") or ""), safe="")
    password = quote(str(settings.get("PASSWORD") or ""), safe="")
    host = str(settings.get("HOST") or "localhost")
    port = str(settings.get("PORT") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    where = f"[{host}]" if ":" in host else host
    if host.startswith("/"):
        raise ConfigurationError(
            "aqueue does not connect through a Unix socket given as HOST: "
            "give OPTIONS['dsn'] with a host name"
        )
    return (
        f"{_SCHEMES[vendor]}://{credentials}{where}{':' + port if port else ''}/"
        f"{quote(str(name or ''), safe='')}"
    )
