"""Django tasks, written with Django's own API; aqueue stores and runs them."""

from __future__ import annotations

from django.tasks import TaskContext, task


@task(queue_name="emails")
def notify(address: str, text: str) -> str:
    # A real project would send mail here (sync code runs in a worker thread).
    return f"told {address}: {text}"


@task(takes_context=True)
async def word_count(context: TaskContext, text: str) -> dict[str, int]:
    return {"words": len(text.split()), "attempt": context.attempt}
