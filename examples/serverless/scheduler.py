"""A scheduled function (cron every minute: AWS EventBridge, Cloud Scheduler,
a Vercel/Render cron) that drives the queue through the trigger endpoint:
it asks for batches until the queue is empty or its own time runs short.

``handler(event, context)`` is the platform's entry point; the endpoint and
token come from ``AQUEUE_TRIGGER_URL`` and ``AQUEUE_TRIGGER_TOKEN``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any

#: Seconds this function may run (the platform's limit, less a margin).
FUNCTION_BUDGET = float(os.environ.get("AQUEUE_FUNCTION_BUDGET", "50"))


def call(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST (or GET without a body) to the trigger endpoint; its JSON answer."""
    url = os.environ["AQUEUE_TRIGGER_URL"].rstrip("/") + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Authorization", f"Bearer {os.environ['AQUEUE_TRIGGER_TOKEN']}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=FUNCTION_BUDGET + 30) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


def handler(event: Any = None, context: Any = None) -> dict[str, int]:
    """Run batches of up to 50 jobs while some remain and time allows."""
    started = time.monotonic()
    processed = 0
    while True:
        left = FUNCTION_BUDGET - (time.monotonic() - started)
        if left < 5:
            break
        batch = call("/tasks/run/", {"max_tasks": 50, "time_budget_s": min(25.0, left - 2)})
        processed += batch["processed"]
        if batch["processed"] < 50:
            break
    return {"processed": processed, "pending": call("/tasks/status/")["pending_count"]}


if __name__ == "__main__":
    print(handler())
