"""Write around aqueue, as another tool or a hand-written statement would."""

from __future__ import annotations

from typing import Any

import aqueue


async def set_column(queue: aqueue.Queue, job_id: str, column: str, text: str | None) -> None:
    """Store ``text`` as-is in one job's ``column`` (a fixed, trusted column name)."""
    backend: Any = queue.backend
    if queue.dialect == "postgresql":
        await backend._execute(f"UPDATE aqueue_jobs SET {column} = $2::json WHERE id = $1",
                               job_id, text)
    elif queue.dialect == "mysql":
        await backend._rowcount(f"UPDATE aqueue_jobs SET {column} = %s WHERE id = %s",
                                (text, job_id))
    else:
        await backend._rowcount(f"UPDATE aqueue_jobs SET {column} = :text WHERE id = :id",
                                {"text": text, "id": job_id})


async def set_time(queue: aqueue.Queue, job_id: str, column: str, offset: float) -> None:
    """Set one job's timestamp ``column`` (fixed, trusted) to now + ``offset`` seconds."""
    backend: Any = queue.backend
    if queue.dialect == "postgresql":
        await backend._execute(
            f"UPDATE aqueue_jobs SET {column} = now() + make_interval(secs => $2) "
            "WHERE id = $1::uuid", job_id, float(offset))
    elif queue.dialect == "mysql":
        await backend._rowcount(
            f"UPDATE aqueue_jobs SET {column} = UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND "
            "WHERE id = %s", (int(offset * 1_000_000), job_id))
    else:
        await backend._rowcount(
            f"UPDATE aqueue_jobs SET {column} = (julianday('now') - 2440587.5) * 86400.0 "
            "+ :offset WHERE id = :id", {"offset": offset, "id": job_id})
