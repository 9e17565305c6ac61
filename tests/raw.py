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
