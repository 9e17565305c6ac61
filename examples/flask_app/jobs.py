"""The Flask example's jobs: one async task, one sync task, on the app's queue.

The DSN comes from ``AQUEUE_DSN`` (the embedded SQLite default without it),
so the same code runs against PostgreSQL or MariaDB in production.
"""

from __future__ import annotations

import aqueue

queue = aqueue.Queue()

#: What the tasks "sent" (a real app would call its mail service).
OUTBOX: list[str] = []


@queue.task(name="flask_app.send_welcome", queue="emails", max_attempts=3)
async def send_welcome(email: str) -> str:
    if "@" not in email:
        raise ValueError(f"not an address: {email!r}")
    OUTBOX.append(f"welcome {email}")
    return f"sent to {email}"


@queue.task(name="flask_app.make_thumbnail", timeout=30)
def make_thumbnail(image_id: int, size: int = 128) -> dict[str, int]:
    # Sync tasks run in a thread of the worker: blocking libraries are fine.
    return {"image_id": image_id, "size": size}
