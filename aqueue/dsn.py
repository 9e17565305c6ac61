"""Parse database URLs (DSNs), show them without secrets, map their options to drivers.

The raw DSN is never shown: :meth:`DSN.__str__` is rebuilt from the parsed
parts with the password, and every password-like query option, hidden.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote

from aqueue.errors import ConfigurationError

Dialect = Literal["postgresql", "mysql", "sqlite"]

DEFAULT_DSN = "sqlite:///aqueue.db"
ACCEPTED = (
    "postgresql://, postgres://, mysql://, mariadb://, sqlite:///relative.db, sqlite:////abs.db"
)
_SCHEMES: dict[str, Dialect] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}
#: The query options each dialect understands (see docs/backends.md).
OPTIONS: dict[Dialect, tuple[str, ...]] = {
    "postgresql": (
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "connect_timeout",
        "command_timeout",
        "application_name",
        "pgbouncer",
    ),
    "mysql": (
        "ssl",
        "ssl_mode",
        "ssl_ca",
        "ssl_cert",
        "ssl_key",
        "connect_timeout",
        "command_timeout",
        "application_name",
    ),
    "sqlite": ("synchronous", "wakeup"),
}
_PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_MYSQL_SSL_MODES = ("disabled", "required", "verify_ca", "verify_identity")
_SQLITE_SYNCHRONOUS = ("full", "normal", "extra")
_ON_OFF = ("on", "off")
# Option names whose values are hidden wherever a DSN is shown.
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)
HIDDEN = "***"


@dataclass(frozen=True)
class DSN:
    """A parsed DSN. ``str(dsn)`` and ``repr(dsn)`` never show a secret."""

    raw: str = field(repr=False)
    dialect: Dialect
    host: str | None
    port: int | None
    user: str | None
    password: str | None = field(repr=False)
    database: str
    options: dict[str, str]
    scheme: str = ""

    def __str__(self) -> str:
        scheme = self.scheme or self.dialect
        query = _shown_query(self.options)
        if self.dialect == "sqlite":
            return f"{scheme}:///{self.database}{query}"
        userinfo = ""
        if self.user or self.password:
            userinfo = quote(self.user or "", safe="")
            if self.password:
                userinfo += ":" + HIDDEN
            userinfo += "@"
        host = self.host or ""
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        port = f":{self.port}" if self.port else ""
        return f"{scheme}://{userinfo}{host}{port}/{quote(self.database, safe='')}{query}"

    def __repr__(self) -> str:
        return f"DSN({str(self)!r})"


def _shown_query(options: dict[str, str]) -> str:
    if not options:
        return ""
    shown = [
        f"{quote(k, safe='')}={HIDDEN if _SECRET_KEY.search(k) else quote(v, safe='')}"
        for k, v in options.items()
    ]
    return "?" + "&".join(shown)


def redact(text: str) -> str:
    """``text`` with the password of any DSN in it, and password-like query
    values, replaced by ``***`` (for messages that may quote a DSN)."""
    # user:password@ -- the password runs to the last @ before the host.
    text = re.sub(r"(\w+://[^:/@\s]*):[^\s]*@", rf"\1:{HIDDEN}@", text)
    return re.sub(
        r"([?&][^=&\s]*(?:pass|pwd|secret|token|key)[^=&\s]*=)[^&\s]*",
        rf"\1{HIDDEN}",
        text,
        flags=re.IGNORECASE,
    )


def resolve(dsn: str | None) -> str:
    """The DSN to use: the one given, else ``AQUEUE_DSN``, else the SQLite default."""
    return dsn or os.environ.get("AQUEUE_DSN") or DEFAULT_DSN


def _fail(what: str, dsn: str) -> ConfigurationError:
    return ConfigurationError(f"{what} in DSN {redact(dsn)!r}")


def parse(dsn: str) -> DSN:
    """Parse ``dsn`` or raise :class:`ConfigurationError`; the message never shows a secret.

    A password may hold any character, ``/``, ``#``, ``?`` and ``@`` included
    (percent-encoding is optional): the user-info runs to the last ``@``.
    """
    if not isinstance(dsn, str) or "://" not in dsn:
        shown = redact(dsn) if isinstance(dsn, str) else type(dsn).__name__
        raise ConfigurationError(f"malformed DSN {shown!r}: expected one of {ACCEPTED}")
    scheme, rest = dsn.split("://", 1)
    dialect = _SCHEMES.get(scheme.lower().split("+", 1)[0])
    if dialect is None:
        raise ConfigurationError(
            f"unsupported DSN scheme {scheme.lower()!r} in {redact(dsn)!r}: expected one of "
            f"{ACCEPTED}"
        )
    if dialect == "sqlite":
        path, _, query = rest.partition("?")
        if not path.startswith("/"):
            raise _fail(
                "a SQLite DSN is sqlite:///relative.db or sqlite:////absolute/path.db "
                "(three or four slashes), not a host",
                dsn,
            )
        database = unquote(path[1:])
        if not database:
            raise _fail("no SQLite file name", dsn)
        return DSN(
            dsn,
            dialect,
            None,
            None,
            None,
            None,
            database,
            _options(dialect, query, dsn),
            scheme.lower(),
        )
    user = password = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        name, colon, secret = userinfo.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
    match = re.match(r"^(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?(/[^?#]*)?(?:\?([^#]*))?$", rest)
    if match is None:
        raise _fail("malformed host, port or database", dsn)
    host_text, port_text, path, query = match.groups()
    host = unquote(host_text.strip("[]")) or None
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _fail(f"port must be a number from 1 to 65535, not {port_text!r}", dsn)
        port = int(port_text)
    database = unquote((path or "/")[1:])
    if dialect == "mysql" and not database:
        raise _fail("no database name", dsn)
    options = _options(dialect, query or "", dsn)
    # ?password= is accepted (some platforms hand DSNs out that way), but is
    # never passed on as an option: it is the password.
    query_password = options.pop("password", None)
    if query_password is not None and password is None:
        password = query_password
    return DSN(dsn, dialect, host, port, user, password, database, options, scheme.lower())


def _options(dialect: Dialect, query: str, dsn: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _fail("malformed query string", dsn) from None
    options = dict(pairs)
    accepted = OPTIONS[dialect]
    unknown = [k for k in options if k not in accepted and k != "password"]
    if unknown:
        raise ConfigurationError(
            f"unknown {dialect} DSN option {unknown[0]!r} in {redact(dsn)!r}: aqueue accepts "
            f"{', '.join(accepted)} (see docs/backends.md)"
        )
    _check_choice(options, "sslmode", _PG_SSLMODES, dsn)
    if "ssl_mode" in options:
        mode = options["ssl_mode"].lower()
        if mode == "preferred":
            raise _fail(
                "ssl_mode=preferred cannot be honoured (aiomysql has no fallback to "
                "plain text): use ssl_mode=required or ssl_mode=disabled",
                dsn,
            )
        options["ssl_mode"] = mode
        _check_choice(options, "ssl_mode", _MYSQL_SSL_MODES, dsn)
    if "ssl" in options:
        value = options["ssl"].lower()
        if value not in ("true", "false", "1", "0"):
            raise _fail(f"ssl must be true or false, not {options['ssl']!r}", dsn)
        options["ssl"] = "true" if value in ("true", "1") else "false"
    if "synchronous" in options:
        options["synchronous"] = options["synchronous"].lower()
        _check_choice(options, "synchronous", _SQLITE_SYNCHRONOUS, dsn)
    for switch in ("wakeup", "pgbouncer"):
        if switch in options:
            options[switch] = options[switch].lower()
            _check_choice(options, switch, _ON_OFF, dsn)
    for name in ("connect_timeout", "command_timeout"):
        if name in options:
            try:
                timeout = float(options[name])
            except ValueError:
                timeout = -1.0
            if not 0 < timeout < 3600:
                raise _fail(f"{name} must be seconds (0 to 3600), not {options[name]!r}", dsn)
    return options


#: The longest a statement may take before its connection is given up
#: (``?command_timeout=`` overrides it).
DEFAULT_COMMAND_TIMEOUT = 60.0


def command_timeout(dsn: DSN) -> float:
    """Seconds a statement may take (``?command_timeout=``, default 60)."""
    return float(dsn.options.get("command_timeout", DEFAULT_COMMAND_TIMEOUT))


def _check_choice(options: dict[str, str], key: str, choices: tuple[str, ...], dsn: str) -> None:
    if key in options and options[key] not in choices:
        raise _fail(f"{key} must be one of {', '.join(choices)}, not {options[key]!r}", dsn)


def _ssl_context(
    cafile: str | None, verify: bool, check_hostname: bool, cert: str | None, key: str | None
) -> Any:
    import ssl

    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = check_hostname
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key)
    return context


def postgres_options(dsn: DSN) -> dict[str, Any]:
    """asyncpg ``connect()`` keywords for the DSN's options."""
    o = dsn.options
    args: dict[str, Any] = {}
    mode = o.get("sslmode")
    if mode is not None:
        if o.get("sslrootcert") or o.get("sslcert"):
            if mode in ("disable", "allow", "prefer"):
                args["ssl"] = mode
            else:
                args["ssl"] = _ssl_context(
                    o.get("sslrootcert"),
                    mode != "require",
                    mode == "verify-full",
                    o.get("sslcert"),
                    o.get("sslkey"),
                )
        else:
            args["ssl"] = mode
    if "connect_timeout" in o:
        args["timeout"] = float(o["connect_timeout"])
    if "application_name" in o:
        args["server_settings"] = {"application_name": o["application_name"]}
    return args


def mysql_options(dsn: DSN) -> dict[str, Any]:
    """aiomysql ``connect()`` keywords for the DSN's options."""
    o = dsn.options
    args: dict[str, Any] = {}
    mode = o.get("ssl_mode")
    if mode is None and o.get("ssl") == "true":
        mode = "verify_ca" if o.get("ssl_ca") else "required"
    if mode is not None and mode != "disabled":
        args["ssl"] = _ssl_context(
            o.get("ssl_ca"),
            mode != "required",
            mode == "verify_identity",
            o.get("ssl_cert"),
            o.get("ssl_key"),
        )
    if "connect_timeout" in o:
        args["connect_timeout"] = float(o["connect_timeout"])
    if "application_name" in o:
        args["program_name"] = o["application_name"]
    return args


def listen_dsn(given: str | None) -> DSN | None:
    """The DSN of a separate LISTEN connection: ``given``, else ``$AQUEUE_LISTEN_DSN``."""
    raw = given or os.environ.get("AQUEUE_LISTEN_DSN")
    if not raw:
        return None
    parsed = parse(raw)
    if parsed.dialect != "postgresql":
        raise ConfigurationError(f"listen_dsn must be a PostgreSQL DSN, not {parsed}")
    return parsed


def read_dsn(given: str | None, primary: DSN) -> DSN | None:
    """The DSN of a read replica: ``given``, else ``$AQUEUE_READ_DSN``; of
    the primary's kind (a SQLite file has no replicas)."""
    raw = given or os.environ.get("AQUEUE_READ_DSN")
    if not raw:
        return None
    parsed = parse(raw)
    if parsed.dialect == "sqlite" or parsed.dialect != primary.dialect:
        raise ConfigurationError(
            f"read_dsn must be a replica of the queue's {primary.dialect} database "
            f"(PostgreSQL or MySQL), not {parsed}"
        )
    return parsed
