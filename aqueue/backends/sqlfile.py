"""Load a backend's named queries and numbered migrations from its ``.sql`` files."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_(\w+)\.sql$")


def _folder(package: str) -> Path:
    # Plain paths, not importlib.resources: that module pulls in zipfile, bz2,
    # lzma and tempfile, ~2 MB of an idle worker's 30 MB. aqueue is never
    # imported from a zip.
    module = importlib.import_module(package)
    assert module.__file__ is not None
    return Path(module.__file__).parent


def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    """Split a file of ``-- name: query_name`` blocks into a name -> SQL map."""
    text = _folder(package).joinpath(filename).read_text(encoding="utf-8")
    pieces = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(pieces[1::2], pieces[2::2], strict=True):
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
        queries[name] = "\n".join(lines).strip().rstrip(";")
    return queries


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load_migrations(package: str) -> list[Migration]:
    """Read ``migrations/NNNN_name.sql``; statements end with ``;`` at a line's end."""
    folder = _folder(package) / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if not match:
            continue
        statements = [s for s in _split_statements(entry.read_text(encoding="utf-8"))
                      if not all(line.strip().startswith("--") or not line.strip()
                                 for line in s.splitlines())]
        found.append(Migration(int(match.group(1)), match.group(2), tuple(statements)))
    return sorted(found, key=lambda m: m.version)


def _split_statements(text: str) -> list[str]:
    """Statements end with ``;`` at a line's end, except inside a ``$$`` body."""
    statements: list[str] = []
    current: list[str] = []
    in_body = False
    for line in text.splitlines():
        current.append(line)
        if line.count("$$") % 2:
            in_body = not in_body
        if not in_body and line.rstrip().endswith(";"):
            statement = "\n".join(current).strip().removesuffix(";").strip()
            if statement:
                statements.append(statement)
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return statements


def latest_version(package: str) -> int:
    """The highest migration version a backend ships."""
    return max(m.version for m in load_migrations(package))
