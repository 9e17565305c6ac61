"""Load a backend's named queries and numbered migrations from its ``.sql`` files."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_(\w+)\.sql$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


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


def fill(sql: str, values: dict[str, str], *, partial: bool = False) -> tuple[str, set[str]]:
    """Replace ``{{name}}`` placeholders with ``values``; return the text and the
    names used. Unless ``partial``, a placeholder without a value is an error."""
    used: set[str] = set()

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            used.add(name)
            return values[name]
        if partial:
            return match.group(0)
        raise KeyError(f"SQL placeholder {{{{{name}}}}} has no value")

    return _PLACEHOLDER.sub(one, sql), used


class Queries:
    """A backend's named queries with their ``{{name}}`` placeholders filled.

    The one way aqueue puts text into SQL (never values: those are always bind
    parameters). ``fragments`` are filled when the file is loaded, and each
    must be used by some query; what is left is filled per call by
    :meth:`render`, which must fill exactly the placeholders left.
    """

    def __init__(self, raw: dict[str, str], **fragments: str) -> None:
        self._sql: dict[str, str] = {}
        used: set[str] = set()
        for name, sql in raw.items():
            self._sql[name], names = fill(sql, fragments, partial=True)
            used |= names
        unused = set(fragments) - used
        if unused:
            raise KeyError(f"SQL fragments used by no query: {', '.join(sorted(unused))}")

    def names(self) -> set[str]:
        return set(self._sql)

    def __getitem__(self, name: str) -> str:
        """A query that has no placeholder left."""
        sql = self._sql[name]
        left = _PLACEHOLDER.search(sql)
        if left is not None:
            raise KeyError(f"query {name!r} needs a value for {left.group(0)}: use render()")
        return sql

    def render(self, name: str, **values: str) -> str:
        """A query with its remaining placeholders filled; each value must be used."""
        sql, used = fill(self._sql[name], values)
        if used != set(values):
            raise KeyError(
                f"query {name!r} has no placeholder for {', '.join(sorted(set(values) - used))}"
            )
        return sql


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
        statements = _statements(entry.read_text(encoding="utf-8"))
        found.append(Migration(int(match.group(1)), match.group(2), statements))
    return sorted(found, key=lambda m: m.version)


def load_statements(package: str, filename: str) -> tuple[str, ...]:
    """The statements of a ``.sql`` file of a backend (``functions.sql``)."""
    return _statements((_folder(package) / filename).read_text(encoding="utf-8"))


def _statements(text: str) -> tuple[str, ...]:
    """A file's statements, leaving out those that are only comments."""
    return tuple(
        s
        for s in _split_statements(text)
        if not all(line.strip().startswith("--") or not line.strip() for line in s.splitlines())
    )


def _split_statements(text: str) -> list[str]:
    """Statements end with ``;`` at a line's end, except inside a ``$$`` body
    or a comment."""
    statements: list[str] = []
    current: list[str] = []
    in_body = False
    for line in text.splitlines():
        current.append(line)
        if line.count("$$") % 2:
            in_body = not in_body
        ends = line.rstrip().endswith(";") and not line.lstrip().startswith("--")
        if not in_body and ends:
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
