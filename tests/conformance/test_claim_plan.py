"""The claim walks the claim index in order and never sorts the queue.

Checked right after a burst of enqueues, with no ANALYZE: the moment stale
statistics once made PostgreSQL sort every queued row on each claim (~10 ms
per claim of 10 with 20,000 queued, instead of ~0.1 ms).
"""

from __future__ import annotations

from typing import Any

import aqueue


async def _claim_plan(queue: aqueue.Queue) -> str:
    backend: Any = queue.backend
    if queue.dialect == "postgresql":
        # auto_explain reports the plan the claim function really ran.
        async with backend._pool.acquire() as conn:
            notes: list[str] = []

            def notes_listener(_conn: Any, message: Any) -> None:
                notes.append(message.message)

            conn.add_log_listener(notes_listener)
            await conn.execute("LOAD 'auto_explain'")
            await conn.execute("SET auto_explain.log_min_duration = 0; "
                               "SET auto_explain.log_nested_statements = on; "
                               "SET client_min_messages = log")
            try:
                claimed = await conn.fetch("SELECT * FROM aqueue_claim('plan', 5, 30, NULL)")
            finally:
                conn.remove_log_listener(notes_listener)
                await conn.execute("RESET client_min_messages; RESET auto_explain.log_min_duration")
            assert len(claimed) == 5
            return "\n".join(n for n in notes if "FOR UPDATE SKIP LOCKED" in n)
    from importlib import import_module

    module = import_module(type(backend).__module__)
    if queue.dialect == "mysql":
        rows = await backend._fetch("EXPLAIN " + module._Q["select_claimable"], [5])
        return " ".join(f"key={r[5]} extra={r[9]}" for r in rows)
    rows = await backend._fetchall("EXPLAIN QUERY PLAN " + module._Q["claim_jobs"], {
        "worker": "plan", "lease": 30.0, "limit": 5, "queues": None})
    return " / ".join(str(r[-1]) for r in rows)


async def test_claim_walks_the_index_after_a_burst(queue: aqueue.Queue) -> None:
    @queue.task
    async def noop(n: int) -> None:
        return None

    await queue.enqueue_many([noop.using(priority=n % 3).prepare(n) for n in range(2000)])
    plan = await _claim_plan(queue)
    if queue.dialect == "postgresql":
        assert "Index Scan using aqueue_jobs_claim" in plan, plan
        assert "Sort" not in plan and "Bitmap" not in plan, plan
    elif queue.dialect == "mysql":
        assert "key=aqueue_jobs_claim" in plan and "filesort" not in plan, plan
    else:
        assert "aqueue_jobs_claim" in plan and "TEMP B-TREE" not in plan, plan
