"""The serverless example's tasks. The DSN comes from ``AQUEUE_DSN``: in
production a PostgreSQL or MariaDB server every function instance reaches."""

from __future__ import annotations

import aqueue

queue = aqueue.Queue()


@queue.task(name="serverless.resize", timeout=20)
async def resize(image: str, width: int) -> str:
    return f"{image}@{width}w"
