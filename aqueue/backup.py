"""``aqueue backup``: a consistent copy of a SQLite database, taken while workers run.

It uses SQLite's online backup API in one step: one read transaction, so the
copy is a snapshot of a single moment. In WAL mode (aqueue's) a reader does
not block writers, so enqueue and workers go on meanwhile. (Copying in many
small steps would restart each time another process writes, and a busy
queue writes every few milliseconds.) The copy is written beside the target
as ``TARGET.partial``, checked with ``PRAGMA quick_check``, then renamed
into place: a failed backup never leaves a half-written file under the
target's name.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from typing import TYPE_CHECKING

from aqueue.errors import ConfigurationError

if TYPE_CHECKING:
    from aqueue.queue import Queue


async def backup(queue: Queue, target: str) -> int:
    """Copy ``queue``'s SQLite database to the file ``target``; the pages copied."""
    source = queue.sqlite_path
    if source is None:
        raise ConfigurationError(
            "aqueue backup copies SQLite databases; for PostgreSQL use pg_dump, for "
            "MySQL/MariaDB mariadb-dump (or mysqldump)"
        )
    return await asyncio.to_thread(_copy, source, target)


def _copy(source: str, target: str) -> int:
    if not os.path.isfile(source):
        raise ConfigurationError(f"there is no database file {source}")
    if os.path.exists(target) and os.path.samefile(source, target):
        raise ConfigurationError("the backup cannot be the database itself")
    partial = f"{target}.partial"
    if os.path.exists(partial):
        os.remove(partial)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise ConfigurationError(f"the copy failed SQLite's quick_check: {check}")
            pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        finally:
            dst.close()
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    finally:
        src.close()
    os.replace(partial, target)
    return pages
